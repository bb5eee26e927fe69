r"""From weights to preactivations: the identities behind the convex reformulation.

A hidden unit with input weights :math:`w` is seen by the rest of the network only
through its *preactivation vector* over the :math:`P` conditions,
:math:`z = \tilde X w \in \mathbb{R}^P`. This module holds the exact identities that turn
the objective over weights into an objective over preactivations and kernels:

* the cheapest weight that produces :math:`z`: :math:`\min\{\|w\|^2 : \tilde Xw = z\} = z^\top G^+ z`
  with :math:`G = \tilde X\tilde X^\top`, finite only for :math:`z \in \operatorname{range}(G)`;
* the optimal readout is a ridge regression, and eliminating it leaves
  :math:`\min_A \tfrac1P\|HA - Y\|^2 + \lambda\|A\|^2 = \lambda\,\operatorname{tr}\big(Y^\top(\Sigma + P\lambda I)^{-1}Y\big)`
  with the hidden kernel :math:`\Sigma = HH^\top`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_matrix, positive
from .objective import augment

# Singular values below this fraction of the largest are treated as zero.
RANK_TOL = 1e-10


@dataclass(frozen=True)
class ReducedInputs:
    r"""Reduced input coordinates :math:`\tilde X = L V^\top` with orthonormal :math:`V`.

    Attributes
    ----------
    L : (P, r) array
        Preactivations of unit-norm weights in the row space: :math:`z = Lv`, :math:`\|w\| = \|v\|`.
    V : (d + bias, r) array
        Orthonormal basis of the row space of :math:`\tilde X`; :math:`w = Vv`.
    """

    L: np.ndarray
    V: np.ndarray

    @property
    def rank(self) -> int:
        return self.L.shape[1]


def reduce_inputs(X, bias: bool = True) -> ReducedInputs:
    r"""Factor :math:`\tilde X = LV^\top` (thin SVD, :math:`L = U_r S_r`).

    Only the component of :math:`w` in the row space of :math:`\tilde X` changes the
    preactivations, so an optimal unit has :math:`w = Vv` and costs :math:`\|v\|^2`.
    """
    X = as_matrix(X, "X")
    Xt = augment(X, bias)
    U, s, Vt = np.linalg.svd(Xt, full_matrices=False)
    # All-zero inputs give rank 0: every preactivation is 0 and the network can only output 0.
    r = int(np.sum(s > RANK_TOL * s[0])) if s.size and s[0] > 0 else 0
    return ReducedInputs(L=U[:, :r] * s[:r], V=Vt[:r].T)


def input_cost(X, z, bias: bool = True) -> np.ndarray:
    r"""Least squared weight norm that produces preactivations ``z``: :math:`z^\top G^+ z`.

    ``z`` has shape (P,) or (n, P) (one row per unit). Returns ``inf`` for a ``z`` outside
    the range of :math:`G` (no weight produces it).
    """
    red = reduce_inputs(X, bias)
    Z = np.atleast_2d(np.asarray(z, dtype=float))
    if Z.shape[1] != red.L.shape[0]:
        raise ValueError(f"z must have {red.L.shape[0]} entries (one per condition); got {Z.shape[1]}")
    if red.rank == 0:
        return np.where(np.any(Z != 0, axis=1), np.inf, 0.0) if np.ndim(z) == 2 else \
            (np.inf if np.any(Z) else 0.0)
    v, *_ = np.linalg.lstsq(red.L, Z.T, rcond=None)
    residual = np.linalg.norm(red.L @ v - Z.T, axis=0)
    cost = np.sum(v ** 2, axis=0)
    cost = np.where(residual > 1e-8 * (1 + np.linalg.norm(Z, axis=1)), np.inf, cost)
    return cost if np.ndim(z) == 2 else cost[0]


def min_norm_weights(X, z, bias: bool = True) -> np.ndarray:
    r"""The weight :math:`w = \tilde X^+ z` of least norm producing ``z`` (shape (P,) or (n, P))."""
    X = as_matrix(X, "X")
    Z = np.atleast_2d(np.asarray(z, dtype=float))
    W = np.linalg.pinv(augment(X, bias)) @ Z.T
    return W.T if np.ndim(z) == 2 else W[:, 0]


def ridge_readout(H, Y, reg: float) -> np.ndarray:
    r"""The optimal readout for fixed hidden layer ``H`` (P, N):
    :math:`A = H^\top(HH^\top + P\lambda I)^{-1} Y`, shape (N, K)."""
    H = as_matrix(H, "H")
    Y = as_matrix(Y, "Y", rows=H.shape[0])
    reg = positive(reg, "reg")
    P = H.shape[0]
    return H.T @ np.linalg.solve(H @ H.T + P * reg * np.eye(P), Y)


def readout_value(kernel, Y, reg: float) -> float:
    r"""The fit term after eliminating the readout, :math:`\lambda\operatorname{tr}(Y^\top(\Sigma+P\lambda I)^{-1}Y)`,
    which equals :math:`\min_A \frac1P\|HA-Y\|^2 + \lambda\|A\|^2` for any ``H`` with :math:`HH^\top = \Sigma`."""
    K = as_matrix(kernel, "kernel")
    P = K.shape[0]
    if K.shape != (P, P):
        raise ValueError(f"kernel must be square (P x P); got {K.shape}")
    Y = as_matrix(Y, "Y", rows=P)
    reg = positive(reg, "reg")
    return float(reg * np.trace(Y.T @ np.linalg.solve(K + P * reg * np.eye(P), Y)))


def kernel_objective(kernel, Y, reg: float, mass: float) -> float:
    r"""The convex objective over kernels: :math:`\lambda\operatorname{tr}(Y^\top(\Sigma+P\lambda I)^{-1}Y) + \lambda m`,
    where ``mass`` :math:`m` is the total squared input-weight norm (the number of unit atoms
    in the ReLU standard parametrisation)."""
    return readout_value(kernel, Y, reg) + positive(reg, "reg") * float(mass)
