"""The conic master problems (cvxpy), and what happens when the solver fails."""
from __future__ import annotations

import warnings

import numpy as np


class SolverFailed(ValueError):
    """The conic solver did not return an optimal solution (the message gives its status)."""



def _run(prob, solver: str, solver_options: dict | None):
    """Solve a cvxpy problem with Clarabel (falls back to SCS); returns the solver used."""
    import cvxpy as cp

    opts = dict(solver_options or {})
    tries = []
    if solver.upper() == "CLARABEL":
        tries.append(("CLARABEL", {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10,
                                   "tol_ktratio": 1e-8, "max_iter": 500, **opts}))
        tries.append(("SCS", {"eps": 1e-9, "max_iters": 100_000}))
    else:
        tries.append((solver.upper(), opts))
    status = None
    for name, kw in tries:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                prob.solve(solver=name, **kw)
        except TypeError as err:
            # The backends reject unknown keywords with their own TypeError; name the culprit.
            raise ValueError(f"solver_options {sorted(opts)} not accepted by {name}: {err}") from None
        except cp.error.SolverError as err:
            status = f"solver error ({err})"
            continue
        status = prob.status
        # "optimal_inaccurate" (reduced tolerances reached) is kept: the certificate is computed
        # independently of the solver, so an inaccurate master can only show up as a larger gap.
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and all(v.value is not None for v in prob.variables()):
            return name
    raise SolverFailed(f"the conic solver did not find an optimum (status: {status}); "
                       "try another reg or rescale the inputs")



def _group_lasso(H, Y, reg, solver, solver_options):
    r"""min_B (1/P)||H B - Y||^2 + 2 reg sum_j ||B_j||  (rows B_j = b_j).

    Solved divided by ``reg``: at the optimum the residual is :math:`P\lambda Z` and the
    penalty :math:`O(\lambda)`, so the scaled objective is :math:`O(1)` for every ``reg`` and
    the conic solver's absolute tolerances mean the same thing at ``reg = 1e-9`` and ``1``.
    """
    import cvxpy as cp

    P, n = H.shape
    B = cp.Variable((n, Y.shape[1]))
    obj = cp.sum_squares(H @ B - Y) / (P * reg) + 2 * cp.sum(cp.norm(B, 2, axis=1))
    prob = cp.Problem(cp.Minimize(obj))
    used = _run(prob, solver, solver_options)
    return np.asarray(B.value, dtype=float), used



def _mf_master(Phi, sqnorm, Y, reg, solver, solver_options):
    r"""min over p in simplex, C: (1/P)||Phi C - Y||^2 + reg sum_j (p_j |v_j|^2 + ||C_j||^2/p_j)."""
    import cvxpy as cp

    P, n = Phi.shape
    p = cp.Variable(n, nonneg=True)
    C = cp.Variable((n, Y.shape[1]))
    t = cp.Variable(n)
    # ||C_j||^2 <= t_j p_j  as a second-order cone: ||(2 C_j, t_j - p_j)|| <= t_j + p_j.
    cons = [cp.sum(p) == 1, cp.SOC(t + p, cp.vstack([2 * C.T, cp.reshape(t - p, (1, n), order="C")]), axis=0)]
    obj = cp.sum_squares(Phi @ C - Y) / P + reg * (sqnorm @ p + cp.sum(t))
    prob = cp.Problem(cp.Minimize(obj), cons)
    used = _run(prob, solver, solver_options)
    return np.maximum(np.asarray(p.value, float), 0.0), np.asarray(C.value, float), used
