"""The set of all global minima: ranges of linear functionals of the kernel over it."""
from __future__ import annotations

import warnings

import numpy as np

from .._validate import as_matrix, positive
from ..arrangement import search_price
from .conic import _run
from .problem import _check_solver, _reduced
from .results import OptimalRange, Solution

#: A callable functional counts as linear when it matches its matrix on random kernels to
#: this relative accuracy (a few hundred roundings of its own arithmetic).
LINEARITY_TOL = 1e-9


def _functional_matrix(functional, P: int) -> np.ndarray:
    """C with l(Sigma) = sum(C * Sigma) for symmetric Sigma."""
    if callable(functional):
        C = np.empty((P, P))
        for i in range(P):
            for j in range(i, P):
                Eij = np.zeros((P, P))
                Eij[i, j] = Eij[j, i] = 1.0
                v = float(functional(Eij))
                C[i, j] = C[j, i] = v if i == j else v / 2
        if not np.all(np.isfinite(C)):
            raise ValueError("functional returned a non-finite value")
        # The range over the optimal set is computed for sum(C * Sigma): refuse a callable that
        # is not that function (a nonlinear functional's range is not two conic programs).
        rng = np.random.default_rng(0)
        for K in [np.zeros((P, P))] + [(G + G.T) / 2 for G in rng.standard_normal((3, P, P))]:
            got, want = float(functional(K)), float(np.sum(C * K))
            scale = np.abs(C).sum() * max(np.abs(K).max(), 1.0)
            if not abs(got - want) <= LINEARITY_TOL * max(scale, 1e-300):
                raise ValueError("functional must be linear in the kernel (l(a K1 + b K2) = a l(K1) + "
                                 f"b l(K2)); it differs from its linear part by {abs(got - want):.3g} on a "
                                 "test kernel: pass a (P, P) matrix C for l(K) = sum(C * K) instead")
        return C
    C = as_matrix(functional, "functional", rows=P, cols=P)
    return (C + C.T) / 2


def optimal_set_range(solution: Solution, functional, *, active_tol: float = 1e-7,
                      solver: str = "CLARABEL") -> OptimalRange:
    r"""Range of a linear functional of the kernel over ALL global minima (ReLU/linear).

    :math:`F^*` and :math:`Z^*` are the same at every global minimum. The global minima are the
    measures on the dual-active atoms (:math:`\|Z^{*\top}\phi(Lv)\| = 1`, :math:`|v| = 1`)
    whose kernel satisfies :math:`\Sigma Z^* = F^*` (then :math:`(\Sigma+\gamma I)Z^* = Y` and
    the mass is :math:`\operatorname{tr}(Z^{*\top}F^*)`, so :math:`J = J^*`). The active atoms
    of a face form a polyhedral cone on which :math:`\phi` is linear
    (:func:`abstractnb.arrangement.active_cones`): with extreme-ray features :math:`H_F`, the
    kernels it contributes are :math:`H_F X_F H_F^\top`, :math:`X_F` completely positive (a
    scalar :math:`\ge 0` for an isolated atom). :math:`\ell(\Sigma)` is linear, so its min and
    max are two conic programs; completely positive is replaced by doubly nonnegative
    (:math:`X \succeq 0`, :math:`X \ge 0`), which is exact for at most 4 rays.

    Parameters
    ----------
    solution : a ReLU/linear :class:`Solution`
    functional : (P, P) array C, :math:`\ell(\Sigma) = \operatorname{tr}(C\Sigma)`, or a callable
        mapping a symmetric (P, P) kernel to a float, linear in it. With
        ``metrics.interaction_projector(S)``, ``max == 0`` means every global minimum is abstract.
    active_tol : atoms with :math:`\|Z^{*\top}h\| \ge c - \text{active\_tol}` (and singular
        values within ``active_tol`` of the top one) count as active
    solver : cvxpy solver for the conic programs

    Returns
    -------
    OptimalRange (unpacks as ``(min, max)``)
    """
    if not isinstance(solution, Solution):
        raise ValueError(f"optimal_set_range expects a Solution from solve(); got {type(solution).__name__}")
    if solution.phi is None or not solution.phi.piecewise_linear:
        raise ValueError("optimal_set_range needs the solution of a piecewise-linear activation (ReLU, "
                         "leaky ReLU, |z|, linear: exact dual-active set); "
                         f"got activation {solution.activation!r}")
    active_tol = positive(active_tol, "active_tol")
    solver, _ = _check_solver(solver, None)
    import cvxpy as cp

    from ..arrangement import active_cones

    P = solution.X.shape[0]
    C = _functional_matrix(functional, P)
    phi = solution.phi.numpy
    L, _ = _reduced(solution.X, solution.bias)
    Z, Fstar = solution.dual, solution.output
    arr = solution.arrangement
    own = solution.atoms @ np.linalg.pinv(L).T if L.shape[1] else np.zeros((0, 0))
    if own.size:
        own /= np.linalg.norm(own, axis=1, keepdims=True)
    exact = arr is not None
    # Optimal atoms have ||Z*^T h|| = 1; when c(Z*) < 1 (the zero network, no atom reaches the
    # constraint) nothing is active, so the level is never below 1.
    level = max(solution.max_dual_constraint, 1.0)
    if arr is not None:
        # With arr.cone (arrangement.single_cone) only the faces of {Lv >= 0} are listed: a unit
        # with a negative preactivation is strictly below c there, so it is never active.
        cones = active_cones(arr, Z, level, active_tol)
        note = "exact: all dual-active faces enumerated"
    else:
        pr = search_price(L, Z, threshold=level - active_tol, starts=own,
                          slopes=solution.phi.slopes,
                          max_directions=10_000)
        cones = [(d[None], "cone") for d in pr.directions]
        note = ("NOT exact: the faces could not be enumerated (too many, or inputs too close to degenerate); "
                "active atoms from a search, so the range is an inner estimate")
        warnings.warn(f"optimal_set_range: {note}", RuntimeWarning, stacklevel=2)
    if not solution.certified:
        # Without a certificate the dual point need not be Z*: its active atoms can be the wrong ones.
        exact = False
        note = (f"NOT exact: the solution is not certified optimal (gap {solution.gap:.2e}), so its dual "
                "point need not be Z* and the range can miss the global minima")
        warnings.warn(f"optimal_set_range: {note}", RuntimeWarning, stacklevel=2)
    n_active = len(cones)
    # The solution's own atoms are active too; adding them guards against a tolerance miss.
    cones = [(d[None], "cone") for d in own] + cones
    iso = np.array([D[0] for D, kind in cones if kind == "cone" and D.shape[0] == 1])
    multi = [(D, kind) for D, kind in cones if not (kind == "cone" and D.shape[0] == 1)]
    max_rays = max([D.shape[0] for D, kind in multi if kind == "cone"], default=1)
    if max_rays > 4 and exact:
        exact = False
        note = (f"outer bounds: an active continuum has {max_rays} > 4 extreme rays, where the doubly "
                "nonnegative relaxation of the completely positive cone may be loose")
    if any(kind == "subspace" for _, kind in multi):
        note += "; linear activation with a tied singular value: a sphere of active atoms (exact, PSD)"
    if not iso.size and not multi:
        # No dual-active atom: the zero network is the only global minimum.
        Z0 = np.zeros((P, P))
        return OptimalRange(0.0, 0.0, exact, (Z0, Z0), 0, 1, note + "; no active atom: only the zero kernel")
    Hi = phi(iso @ L.T).T if iso.size else np.zeros((P, 0))
    x = cp.Variable(Hi.shape[1], nonneg=True)
    kron = np.einsum("pn,qn->pqn", Hi, Hi).reshape(P * P, -1)
    Sig = cp.reshape(kron @ x, (P, P), order="C")
    cons = []
    for D, kind in multi:
        H = phi(D @ L.T).T if kind == "cone" else L @ D.T
        X = cp.Variable((D.shape[0], D.shape[0]), PSD=True)
        if kind == "cone":
            cons.append(X >= 0)
        Sig = Sig + H @ X @ H.T
    resid = np.abs(solution.kernel @ Z - Fstar).max(initial=0.0)
    band = max(1e-9 * max(1.0, np.abs(Fstar).max(initial=0.0)), 10 * resid)
    cons.append(cp.abs(Sig @ Z - Fstar) <= band)
    ell = cp.sum(cp.multiply(C, Sig))
    out = []
    for sense in (cp.Minimize, cp.Maximize):
        prob = cp.Problem(sense(ell), cons)
        _run(prob, solver, None)
        out.append((float(prob.value), np.asarray(Sig.value, float)))
    (lo, Klo), (hi, Khi) = out
    if lo > hi:  # the two conic solves agree to their tolerance: a point, not an inverted range
        (lo, Klo), (hi, Khi) = (hi, Khi), (lo, Klo)
    return OptimalRange(lo, hi, exact, ((Klo + Klo.T) / 2, (Khi + Khi.T) / 2), n_active, max_rays, note)
