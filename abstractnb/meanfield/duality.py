r"""The formulas of the dual side, each defined once: the kernel form of :math:`J` with its
dual point :math:`Z = (\Sigma + \gamma I)^{-1}Y`, the dual objective :math:`\mathcal D(Z)` and
the best bound along a ray."""
from __future__ import annotations

import numpy as np

from .._validate import as_matrix, positive


def _kernel_objective(H, m, Y, reg):
    r"""f(m) = reg (tr(Y^T (H diag(m) H^T + gamma I)^{-1} Y) + sum m) and Z = (Sigma + gamma I)^{-1} Y."""
    P = H.shape[0]
    Minv = np.linalg.inv((H * m) @ H.T + P * reg * np.eye(P))
    Z = Minv @ Y
    return reg * (float(np.sum(Y * Z)) + float(m.sum())), Z, Minv



def dual_point(Y: np.ndarray, F: np.ndarray, reg: float) -> np.ndarray:
    r"""The dual point of a network with outputs F: :math:`Z = (Y - F)/(P\lambda)` (P = rows).

    At a global minimum it is :math:`Z^* = (\Sigma^* + P\lambda I)^{-1}Y`, the same for every
    global minimum; for any network it is the residual the readout's optimality condition
    balances against the weight decay.
    """
    return (Y - F) / (Y.shape[0] * reg)


def dual_value(Z, Y, reg: float) -> float:
    r"""The dual objective :math:`\mathcal D(Z) = \lambda\big(2\operatorname{tr}(Z^\top Y) - P\lambda\|Z\|_F^2\big)`.

    A lower bound on :math:`J` of every network whenever
    :math:`\max_{|v|=1}\|Z^\top\phi(Lv)\| \le 1` (homogeneous :math:`\phi`); equal to
    :math:`J^*` at :math:`Z^*`. ``Z`` and ``Y`` have shape (P, K).
    """
    Y = as_matrix(Y, "Y")
    Z = as_matrix(Z, "Z")
    if Z.shape != Y.shape:
        raise ValueError(f"Z and Y must have the same shape (P, K); got {Z.shape} and {Y.shape}")
    reg = positive(reg, "reg")
    return float(reg * (2 * np.sum(Z * Y) - Y.shape[0] * reg * np.sum(Z * Z)))



def _dual_bound(Z0, Y, reg, gamma, c):
    r"""Best bound D(t Z0) along the ray, with the feasibility scale t <= 1/c; returns (D, t)."""
    a = float(np.sum(Z0 * Y))
    q = float(np.sum(Z0 * Z0))
    if a <= 0 or q == 0:
        return 0.0, 0.0
    t = a / (gamma * q)
    if c > 0:
        t = min(t, 1.0 / c)
    return dual_value(t * Z0, Y, reg), t


def mean_field_bound(Z, Y, reg: float, min_energy: float) -> float:
    r"""The mean-field lower bound :math:`\mathcal D(Z) + \lambda\min_v V(v)` (valid for every
    :math:`Z` when ``min_energy`` is at most :math:`\min_v V`; see the package docstring)."""
    return dual_value(Z, Y, reg) + reg * float(min_energy)
