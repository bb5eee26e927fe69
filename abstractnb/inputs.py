r"""Input geometries: how the :math:`P` conditions are presented to the network.

All geometries are scaled to the same mean squared norm as the aligned inputs,
:math:`\frac1P\sum_\mu \|x_\mu\|^2 = D`, so that a given weight decay :math:`\lambda`
means the same thing across them.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_latents, as_seed, positive_int
from .activations import get_activation


def aligned(S) -> np.ndarray:
    """Inputs equal to the latents: x = s. Returns X, shape (P, D)."""
    return as_latents(S).copy()


def whitened(S) -> np.ndarray:
    r"""One orthogonal input per condition: :math:`X = \sqrt{D}\, I_P`, shape (P, P).

    The input kernel :math:`XX^\top = D\,I` carries no trace of the latent structure.
    Each row of ``S`` must be a distinct condition (a ValueError names the repeated rows):
    two copies of one condition would otherwise get different one-hot inputs, and the
    network could tell apart what the latents say is the same stimulus.
    """
    S = as_latents(S)
    _, first, inverse = np.unique(S, axis=0, return_index=True, return_inverse=True)
    if first.size < S.shape[0]:
        dup = [i for i in range(S.shape[0]) if i != first[inverse.ravel()[i]]]
        raise ValueError(f"S (latents) repeats conditions (rows {dup} repeat earlier rows); "
                         "whitened inputs give one orthogonal input per distinct condition")
    return np.sqrt(S.shape[1]) * np.eye(S.shape[0])


def random_embedding(S, dim: int, activation="relu", seed: int = 0) -> np.ndarray:
    r"""A fixed random nonlinear mixing of the latents (as in Johnston & Fusi 2023).

    :math:`x = \phi(M s/\sqrt D + b)` with :math:`M_{ij}, b_i \sim \mathcal N(0, 1)` drawn
    with ``seed``, then rescaled so that the mean squared norm is D. Returns X, shape (P, dim).
    """
    S = as_latents(S)
    dim = positive_int(dim, "dim")
    phi = get_activation(activation)
    rng = np.random.default_rng(as_seed(seed))
    D = S.shape[1]
    M = rng.standard_normal((dim, D))
    b = rng.standard_normal(dim)
    X = phi(S @ M.T / np.sqrt(D) + b)
    scale = np.sqrt(np.mean(np.sum(X ** 2, axis=1)))
    if scale == 0 or not np.isfinite(scale):
        raise ValueError("the random embedding is identically zero; try another seed or a larger dim")
    return X * np.sqrt(D) / scale
