r"""A certified lower bound on the per-neuron energy of bounded activations (branch and bound).

For a bounded activation the mean-field bound (see the package docstring) needs

.. math:: V^* = \min_{v\in\mathbb R^r} V(v), \qquad V(v) = |v|^2 - g(v),\quad
    g(v) = \|Z^\top\phi(Lv)\|^2 ,

a nonconvex minimum. For an increasing :math:`\phi` with :math:`|\phi| \le 1`,
:math:`\sup|\phi'| = \ell` and :math:`\sup|\phi''| = \kappa` (the activation's ``lipschitz``
and ``curvature``), two bounds hold on every box :math:`B = c + [-h, h]`:

- *interval*: :math:`|v|^2 \ge \sum_i \max(0, |c_i| - h_i)^2` and, :math:`\phi` being
  increasing, :math:`\phi(L_\mu v)` lies between :math:`\phi` of the ends of the interval of
  :math:`L_\mu v`, so each :math:`(Z^\top\phi(Lv))_k` lies in an interval whose larger
  absolute end bounds it;
- *second order*: :math:`\nabla^2 g = 2\sum_k\big[a_ka_k^\top + q_kL^\top
  \operatorname{diag}(\phi''\circ Z_k)L\big]` with :math:`a_k = L^\top(\phi'\circ Z_k)`,
  :math:`q_k = Z_k^\top\phi`, so :math:`\|\nabla^2 g\| \le \rho_g = 2\|L\|^2\sum_k\big(\ell^2
  \|Z_k\|_2^2 + \kappa\|Z_k\|_1\|Z_k\|_\infty\big)` and
  :math:`V(v) \ge V(c) - \sum_i|\partial_iV(c)|h_i - \tfrac12\max(0, \rho_g - 2)|h|^2`.

Moreover :math:`V(v) \ge |v|^2 - M` with :math:`M = \sum_k\|Z_k\|_1^2`, so every point better
than a known value :math:`U` lies in the cube of half-side :math:`\sqrt{M + U}`. Branch and
bound bisects that cube, keeps the boxes whose bound is below :math:`U - \text{tol}` and
improves :math:`U` with the box centres; the smallest bound of a discarded or remaining box
is a certified lower bound on :math:`V^*`. The second-order bound makes the work near a
minimiser grow like :math:`\log(1/\text{tol})` per level, so this is practical for a reduced
input rank :math:`r \le` :data:`MAX_RANK`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

#: Largest reduced input rank for which the branch and bound is attempted.
MAX_RANK = 4
#: Most boxes evaluated in one bound (a budget of memory and time; the bound stays valid).
MAX_BOXES = 4_000_000
#: Relative floating-point margin subtracted from the bound (V is evaluated to ~1e-15 of M).
ROUNDING = 1e-12


@dataclass(frozen=True)
class EnergyBound:
    """A certified bracket of :math:`\\min_v V(v)`.

    Attributes
    ----------
    lower : float
        :math:`V(v) \\ge` ``lower`` for every :math:`v` (a proof, up to ``ROUNDING``).
    upper : float
        :math:`V` at ``witness``, the best point found.
    witness : (r,) array
    boxes : int
        Boxes evaluated.
    converged : bool
        ``upper - lower <= tol`` (else the budget ran out; ``lower`` is still valid).
    """

    lower: float
    upper: float
    witness: np.ndarray
    boxes: int
    converged: bool


def energy(C, L, Z, act):
    """V(v) = |v|^2 - ||Z^T phi(L v)||^2 and its gradient, for the rows v of C."""
    U = C @ L.T
    q = act.numpy(U) @ Z
    V = np.sum(C * C, axis=1) - np.sum(q * q, axis=1)
    G = 2 * C - 2 * ((q @ Z.T) * act.derivative(U)) @ L
    return V, G


def _box_bounds(C, H, L, absL, Z, act, rho):
    """Lower bounds of V on the boxes C +- H (rows), and V at the centres."""
    V, G = energy(C, L, Z, act)
    taylor = V - np.sum(np.abs(G) * H, axis=1) - 0.5 * rho * np.sum(H * H, axis=1)
    mid, rad = C @ L.T, H @ absL.T
    t_lo, t_hi = act.numpy(mid - rad), act.numpy(mid + rad)
    # interval of (Z^T t)_k for t between t_lo and t_hi, entrywise
    a, b = t_lo @ np.maximum(Z, 0) + t_hi @ np.minimum(Z, 0), t_hi @ np.maximum(Z, 0) + t_lo @ np.minimum(Z, 0)
    g_max = np.sum(np.maximum(a * a, b * b), axis=1)
    near = np.maximum(np.abs(C) - H, 0.0)
    interval = np.sum(near * near, axis=1) - g_max
    return np.maximum(taylor, interval), V


def energy_lower_bound(L: np.ndarray, Z: np.ndarray, act, *, tol: float, start: np.ndarray | None = None,
                       max_boxes: int = MAX_BOXES, deadline: float | None = None) -> EnergyBound:
    r"""Certified lower bound on :math:`\min_v |v|^2 - \|Z^\top\phi(Lv)\|^2` (module docstring).

    Parameters
    ----------
    L : (P, r) reduced inputs, r <= MAX_RANK
    Z : (P, K) dual point
    act : a bounded, increasing Activation with ``lipschitz`` and ``curvature``
    tol : stop when the best value found is within ``tol`` of the bound
    start : (m, r) points whose values seed the incumbent (e.g. a local search's minima)
    max_boxes, deadline : budget; when spent, the bound so far is returned (still valid)
    """
    P, r = L.shape
    if r > MAX_RANK:
        raise ValueError(f"branch and bound is limited to reduced input rank <= {MAX_RANK}; got {r}")
    if act.lipschitz is None or act.curvature is None:
        raise ValueError(f"activation {act.name!r} has no lipschitz/curvature bounds")
    absL = np.abs(L)
    norm_L2 = np.linalg.norm(L, 2) ** 2 if r else 0.0
    rho_g = 2 * norm_L2 * float(np.sum(act.lipschitz ** 2 * np.sum(Z * Z, axis=0)
                                       + act.curvature * np.sum(np.abs(Z), axis=0) * np.abs(Z).max(axis=0)))
    rho = max(0.0, rho_g - 2.0)
    M = float(np.sum(np.sum(np.abs(Z), axis=0) ** 2))
    pts = np.zeros((1, r)) if start is None or len(start) == 0 else np.vstack([np.zeros((1, r)), start])
    V0, _ = energy(pts, L, Z, act)
    best = int(np.argmin(V0))
    upper, witness = float(V0[best]), pts[best].copy()
    margin = ROUNDING * (1.0 + M)
    R = np.sqrt(max(M + upper, 0.0)) * (1 + 1e-9) + 1e-12
    # Outside the cube of half-side R every value exceeds `upper` (V >= |v|^2 - M).
    n0 = 4
    edges = (np.arange(n0) + 0.5) / n0 * 2 * R - R
    C = np.stack(np.meshgrid(*[edges] * r, indexing="ij"), axis=-1).reshape(-1, r)
    H = np.full_like(C, R / n0)
    lower_done, boxes = np.inf, 0
    while C.shape[0]:
        lb, V = _box_bounds(C, H, L, absL, Z, act, rho)
        boxes += C.shape[0]
        i = int(np.argmin(V))
        if V[i] < upper:
            upper, witness = float(V[i]), C[i].copy()
        keep = lb < upper - tol
        if (~keep).any():
            lower_done = min(lower_done, float(lb[~keep].min()))
        C, H, lb = C[keep], H[keep], lb[keep]
        if not C.shape[0]:
            break
        if boxes + 2 * C.shape[0] > max_boxes or (deadline is not None and time.perf_counter() > deadline):
            lower = min(lower_done, float(lb.min()), upper)
            return EnergyBound(lower - margin, upper, witness, boxes, False)
        # bisect every kept box along its longest side
        j = np.argmax(H, axis=1)
        H = H.copy()
        H[np.arange(H.shape[0]), j] /= 2
        step = np.zeros_like(C)
        step[np.arange(C.shape[0]), j] = H[np.arange(H.shape[0]), j]
        C, H = np.vstack([C - step, C + step]), np.vstack([H, H])
    lower = min(lower_done, upper)
    return EnergyBound(lower - margin, upper, witness, boxes, upper - (lower - margin) <= tol + margin)
