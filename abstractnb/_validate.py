"""Input checks shared by the public entry points (internal).

Every public function validates its arguments with these helpers so that a bad
input fails early with a message that says what was expected and what was given.
"""
from __future__ import annotations

import numpy as np

# 2**MAX_LATENTS conditions is the largest hypercube we agree to enumerate.
MAX_LATENTS = 16


def as_matrix(A, name: str, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """Return ``A`` as a finite float64 array of shape (rows, cols).

    A 1-D array is read as a single column. Raises ``ValueError`` on a wrong
    number of dimensions, a mismatched size, or a NaN/inf entry.
    """
    if np.iscomplexobj(A):
        raise TypeError(f"{name} must be real; got a complex array (take .real or abs() first)")
    try:
        A = np.asarray(A, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers; got {type(A).__name__} ({err})") from None
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (conditions x features); got shape {A.shape}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty; got shape {A.shape}")
    if rows is not None and A.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows (one per condition); got {A.shape[0]}")
    if cols is not None and A.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns; got {A.shape[1]}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return A


def as_latents(S) -> np.ndarray:
    """Return latents ``S`` (P x D) as float64, checking entries are +-1 and each
    latent takes both values."""
    S = as_matrix(S, "S (latents)")
    if not np.all(np.isin(S, (-1.0, 1.0))):
        raise ValueError("S (latents) must have entries +1 or -1 only")
    for k in range(S.shape[1]):
        if np.unique(S[:, k]).size < 2:
            raise ValueError(f"latent {k} takes only one value; every latent needs both +1 and -1")
    return S


def as_bool(flag, name: str) -> bool:
    """``flag`` as a bool; anything but True/False (or a numpy bool) is a TypeError.

    A string such as ``"no"`` is truthy in Python, so accepting it would silently mean True.
    """
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    raise TypeError(f"{name} must be True or False; got {flag!r} ({type(flag).__name__})")


def as_seed(seed, name: str = "seed") -> int:
    """A reproducible seed: an integer >= 0 (None would draw fresh entropy, silently unseeded)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= 0 (results are reproducible only with an "
                        f"explicit seed); got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0; got {seed}")
    return int(seed)


def _real_scalar(x, name: str) -> float:
    if isinstance(x, (complex, np.complexfloating)):
        raise TypeError(f"{name} must be a real number; got {x!r}")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number; got {x!r} ({type(x).__name__})") from None


def positive(x, name: str) -> float:
    x = _real_scalar(x, name)
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {x}")
    return x


def nonnegative(x, name: str) -> float:
    x = _real_scalar(x, name)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {x}")
    return x


def positive_int(n, name: str, minimum: int = 1) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, float, np.floating)) \
            or not np.isfinite(n) or int(n) != n:
        raise ValueError(f"{name} must be an integer; got {n!r}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {n}")
    return n
