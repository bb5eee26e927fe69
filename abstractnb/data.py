r"""Real stimuli with latent variables: scikit-learn's handwritten digits, no download.

:func:`digits` loads the 1797 images of 8×8 handwritten digits that ship with scikit-learn
(``sklearn.datasets.load_digits``, read from the installed package, never from the
network) and labels each image with binary latent variables of its digit, e.g. parity and
magnitude, the task of Bernardi et al. (2020, Fig. 7). The conditions of the theory are
then the combinations of the latents, and each condition is a *distribution* of images
(several digits, many writers), not a single input.

Latents (value +1 / -1):

========== ===================== =====================
name       +1                    -1
========== ===================== =====================
parity     odd 1 3 5 7 9         even 0 2 4 6 8
magnitude  large 5 6 7 8 9       small 0 1 2 3 4
loop       closed loop 0 6 8 9   no loop 1 2 3 4 5 7
========== ===================== =====================

("loop": in this data set most 4s are written open, so 4 counts as having no loop.) Any two
of the three latents give all four conditions; all three leave two of the eight empty (no
even, large digit without a loop, no odd, small digit with one), which the loader reports
in :attr:`Digits.missing`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import as_bool, as_matrix, as_seed, positive_int

__all__ = ["LATENTS", "Digits", "digits"]

#: The digits at which each latent is +1 (the others are -1).
LATENTS: dict[str, frozenset[int]] = {
    "parity": frozenset({1, 3, 5, 7, 9}),
    "magnitude": frozenset({5, 6, 7, 8, 9}),
    "loop": frozenset({0, 6, 8, 9}),
}
#: The largest pixel value of the bundled images (4×4 blocks of a 32×32 bitmap, counted).
MAX_PIXEL = 16.0


@dataclass(frozen=True, eq=False)
class Digits:
    r"""Images of handwritten digits with binary latents (built by :func:`digits`).

    Attributes
    ----------
    X : (n, 64) float array
        The inputs: pixel intensities divided by 16 (so in [0, 1]); with ``center=True`` the
        mean image is subtracted and the rows scaled so that their mean squared norm is 1.
    S : (n, D) array of +-1
        The latents of each image, columns in the order of ``latents``.
    condition : (n,) int array
        The condition of each image: its row in :func:`abstractnb.tasks.binary_latents`
        ``(D)`` (bit D-1-k is 1 when latent k is +1), the order the metrics use.
    digit : (n,) int array
        The digit 0-9 of each image.
    pixels : (n, 64) float array
        The raw pixel values, 0-16 (``pixels.reshape(-1, 8, 8)`` are the images).
    latents : tuple of str
        The names of the latents, in column order.
    conditions : (2^D, D) array of +-1
        The latents of every condition, row c for condition c.
    missing : tuple of int
        Conditions with no digit (empty unless three latents make an incomplete cube).
    digits_of : dict
        Condition -> the tuple of digits in it.
    """

    X: np.ndarray = field(repr=False)
    S: np.ndarray = field(repr=False)
    condition: np.ndarray = field(repr=False)
    digit: np.ndarray = field(repr=False)
    pixels: np.ndarray = field(repr=False)
    latents: tuple
    conditions: np.ndarray = field(repr=False)
    missing: tuple
    digits_of: dict

    @property
    def n(self) -> int:
        """Number of images."""
        return int(self.X.shape[0])

    @property
    def D(self) -> int:
        """Number of latents."""
        return len(self.latents)

    @property
    def images(self) -> np.ndarray:
        """The raw images, (n, 8, 8), values 0-16."""
        return self.pixels.reshape(-1, 8, 8)

    def condition_means(self, H=None) -> np.ndarray:
        r"""Mean of the rows of ``H`` (default :attr:`X`) over the images of each condition:
        (2^D, N), row c for condition c (the representation of the conditions that
        :mod:`abstractnb.metrics` reads). Raises if a condition is missing."""
        H = self.X if H is None else as_matrix(H, "H (one row per image)", rows=self.n)
        if self.missing:
            raise ValueError(f"conditions {list(self.missing)} have no image; condition means need "
                             f"all 2^{self.D} (choose at most two of {self.latents})")
        P = 2 ** self.D
        counts = np.bincount(self.condition, minlength=P)
        return np.stack([H[self.condition == c].sum(axis=0) for c in range(P)]) / counts[:, None]

    def balanced(self, seed: int, per_condition: int | None = None) -> np.ndarray:
        """Indices of a random subsample with the same number of images in every condition
        (default: as many as the smallest condition has), sorted; what
        :func:`abstractnb.metrics.abstraction_report` needs (balanced conditions)."""
        rng = np.random.default_rng(as_seed(seed))
        present = [c for c in range(2 ** self.D) if c not in self.missing]
        counts = np.bincount(self.condition, minlength=2 ** self.D)[present]
        k = int(counts.min()) if per_condition is None else positive_int(per_condition, "per_condition")
        if k > counts.min():
            raise ValueError(f"per_condition={k} is more than the smallest condition holds "
                             f"({counts.min()} images)")
        picks = [rng.choice(np.flatnonzero(self.condition == c), k, replace=False) for c in present]
        return np.sort(np.concatenate(picks))

    def subset(self, index) -> "Digits":
        """The images ``index`` (an index array or boolean mask) as a new :class:`Digits`
        (``X`` is not re-normalised)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (self.n,):
                raise ValueError(f"a mask must have shape ({self.n},); got {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu" or idx.ndim != 1 or idx.size == 0:
            raise ValueError("index must be a non-empty 1-D array of image indices or a boolean mask")
        if idx.min() < 0 or idx.max() >= self.n:
            raise ValueError(f"index has entries outside 0..{self.n - 1}")
        return _build(self.X[idx], self.pixels[idx], self.digit[idx], self.latents)


def _check_latents(latents) -> tuple[str, ...]:
    if isinstance(latents, str):
        latents = (latents,)
    try:
        latents = tuple(latents)
    except TypeError:
        raise TypeError(f"latents must be a sequence of names from {tuple(LATENTS)}; "
                        f"got {latents!r}") from None
    if not latents:
        raise ValueError(f"latents must name at least one of {tuple(LATENTS)}")
    for name in latents:
        if not isinstance(name, str) or name not in LATENTS:
            raise ValueError(f"unknown latent {name!r}; choose from {tuple(LATENTS)}")
    if len(set(latents)) != len(latents):
        raise ValueError(f"latents must be distinct; got {latents}")
    return latents


def _build(X, pixels, digit, latents) -> Digits:
    D = len(latents)
    S = np.column_stack([np.where(np.isin(digit, sorted(LATENTS[k])), 1.0, -1.0) for k in latents])
    bits = (S > 0).astype(np.int64)
    condition = bits @ (1 << np.arange(D - 1, -1, -1, dtype=np.int64))
    P = 2 ** D
    conditions = np.array([[1.0 if (c >> (D - 1 - k)) & 1 else -1.0 for k in range(D)]
                           for c in range(P)])
    # Which digits fall in each condition is a property of the latents, not of the sample.
    all_digits = np.arange(10)
    code_of = np.array([sum(1 << (D - 1 - k) for k, name in enumerate(latents) if d in LATENTS[name])
                        for d in all_digits])
    digits_of = {c: tuple(int(d) for d in all_digits[code_of == c]) for c in range(P)}
    missing = tuple(c for c in range(P) if not np.any(condition == c))
    return Digits(X=X, S=S, condition=condition, digit=digit, pixels=pixels, latents=tuple(latents),
                  conditions=conditions, missing=missing, digits_of=digits_of)


def digits(latents=("parity", "magnitude"), *, per_digit: int | None = None, seed: int = 0,
           center: bool = True) -> Digits:
    """scikit-learn's 8×8 handwritten digits with binary latents (no download).

    Parameters
    ----------
    latents : sequence of str
        Names from :data:`LATENTS` (``"parity"``, ``"magnitude"``, ``"loop"``), in the column
        order of ``S``; a single name is allowed.
    per_digit : int, optional
        Keep this many images of each digit, drawn at random with ``seed`` (default: all
        1797, 174 to 183 per digit).
    seed : int
        Seed of that draw (unused when ``per_digit`` is None).
    center : bool
        Subtract the mean image and scale to a mean squared norm of 1 (computed on the
        images kept), so that the inputs have the size of the book's synthetic inputs;
        False leaves the intensities in [0, 1].

    Returns
    -------
    Digits
    """
    from sklearn.datasets import load_digits

    latents = _check_latents(latents)
    center = as_bool(center, "center")
    seed = as_seed(seed)
    bunch = load_digits()
    pixels, digit = np.asarray(bunch.data, float), np.asarray(bunch.target, int)
    if per_digit is not None:
        per_digit = positive_int(per_digit, "per_digit")
        fewest = int(np.bincount(digit).min())
        if per_digit > fewest:
            raise ValueError(f"per_digit={per_digit} is more than the rarest digit has ({fewest} images)")
        rng = np.random.default_rng(seed)
        keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(digit == d), per_digit, replace=False)
                                       for d in range(10)]))
        pixels, digit = pixels[keep], digit[keep]
    X = pixels / MAX_PIXEL
    if center:
        X = X - X.mean(axis=0)
        X = X / np.sqrt(np.mean(np.sum(X ** 2, axis=1)))
    return _build(X, pixels, digit, latents)
