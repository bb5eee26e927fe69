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
    A = np.asarray(A, dtype=float)
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


def positive(x, name: str) -> float:
    x = float(x)
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {x}")
    return x


def nonnegative(x, name: str) -> float:
    x = float(x)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {x}")
    return x


def positive_int(n, name: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or int(n) != n:
        raise ValueError(f"{name} must be an integer; got {n!r}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {n}")
    return n
