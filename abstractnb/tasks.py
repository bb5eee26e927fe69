r"""Latent variables and targets.

The :math:`P = 2^D` *conditions* are all combinations of :math:`D` binary latent
variables, the rows of :math:`S \in \{-1,+1\}^{P\times D}`. A *task* assigns each
condition a target row, :math:`Y \in \mathbb{R}^{P\times K}`.
"""
from __future__ import annotations

from itertools import product
from typing import Sequence

import numpy as np

from ._validate import MAX_LATENTS, as_latents, as_seed, positive_int


def binary_latents(n_latents: int) -> np.ndarray:
    """All :math:`2^D` conditions of ``n_latents`` = D binary latents.

    Returns S, shape (2^D, D), entries -1/+1, in lexicographic order with -1 before +1
    (row 0 is all -1, the last latent varies fastest).
    """
    D = positive_int(n_latents, "n_latents")
    if D > MAX_LATENTS:
        raise ValueError(f"n_latents={D} gives 2^{D} conditions, too many to enumerate (max {MAX_LATENTS})")
    return np.array(list(product((-1.0, 1.0), repeat=D)))


def latent_targets(S) -> np.ndarray:
    """Targets equal to the latents themselves: Y = S, shape (P, D)."""
    return as_latents(S).copy()


def linear_tasks(S, n_tasks: int, seed: int) -> np.ndarray:
    r"""``n_tasks`` random linear classifications of the latents.

    Task :math:`k` is :math:`y_k(s) = \operatorname{sign}(w_k\cdot s)` with
    :math:`w_k \sim \mathcal N(0, I_D)` drawn with ``seed``: a random hyperplane through
    the centre of the hypercube (Johnston & Fusi 2023). Returns Y, shape (P, n_tasks), +-1.
    """
    S = as_latents(S)
    n = positive_int(n_tasks, "n_tasks")
    rng = np.random.default_rng(as_seed(seed))
    Y = np.empty((S.shape[0], n))
    for k in range(n):
        # Redraw the (probability-zero) hyperplanes that pass through a condition.
        while True:
            m = S @ rng.standard_normal(S.shape[1])
            if np.all(np.abs(m) > 1e-9):
                break
        Y[:, k] = np.sign(m)
    return Y


def parity_targets(S, idx: Sequence[int]) -> np.ndarray:
    r"""The parity (XOR) of the latents in ``idx``: :math:`y = \prod_{k\in idx} s_k`, shape (P, 1)."""
    S = as_latents(S)
    idx = list(np.atleast_1d(idx))
    if not idx:
        raise ValueError("idx must name at least one latent")
    for k in idx:
        if int(k) != k or not 0 <= int(k) < S.shape[1]:
            raise ValueError(f"latent index {k} out of range for {S.shape[1]} latents")
    if len(set(int(k) for k in idx)) != len(idx):
        raise ValueError(f"idx has repeated latents: {idx}")
    return np.prod(S[:, [int(k) for k in idx]], axis=1, keepdims=True)
