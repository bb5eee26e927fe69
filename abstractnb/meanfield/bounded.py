r"""The mean-field solver for bounded activations (tanh, erf, a centred sigmoid)."""
from __future__ import annotations

import time

import numpy as np

from .conic import _mf_master
from .energy import MAX_RANK, energy_lower_bound
from .energy import energy as _energy
from .duality import _kernel_objective, dual_point, mean_field_bound
from .homogeneous import STALL_ROUNDS, _caratheodory, _dedupe_against
from .problem import Problem, _bar, _past, _reduced
from .results import GAP_TOL, Solution, _certified


def _min_energy(L, Z, starts, seed, act, n_random=256):
    """Multistart L-BFGS on V; returns local minimisers (sorted, deduplicated) and their values."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    P, r = L.shape
    scale = 1 / max(np.sqrt(np.mean(np.sum(L * L, axis=1))), 1e-300)
    R = rng.standard_normal((n_random, r)) * scale * rng.choice([0.3, 1.0, 3.0, 10.0], size=(n_random, 1))
    S0 = np.vstack([starts, R]) if len(starts) else R
    n = S0.shape[0]

    def f(x):
        E, G = _energy(x.reshape(n, r), L, Z, act)
        return E.sum(), G.ravel()

    res = minimize(f, S0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-12,
                                                                          "ftol": 1e-15})
    Vm = res.x.reshape(n, r)
    # Polish each start separately (the joint run stops on the sum).
    E, G = _energy(Vm, L, Z, act)
    def f_one(x):
        E1, G1 = _energy(x[None], L, Z, act)
        return E1[0], G1[0]

    for i in np.argsort(E)[:16]:
        Vm[i] = minimize(f_one, Vm[i], jac=True, method="L-BFGS-B", options={"gtol": 1e-13, "ftol": 1e-16}).x
    E, _ = _energy(Vm, L, Z, act)
    order = np.argsort(E)
    Vm, E = Vm[order], E[order]
    keys = np.round(Vm / 1e-6).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    first = np.sort(first)
    return Vm[first], E[first]


def _measure_objective(Phi, p, sqnorm, Y, reg) -> tuple[float, np.ndarray]:
    r""":math:`J_{MF}(\pi) = \lambda\operatorname{tr}(Y^\top(K_\pi+\gamma I)^{-1}Y) + \lambda\,
    \mathbb E_\pi|v|^2` and the dual point :math:`(K_\pi + \gamma I)^{-1}Y`."""
    f, Z, _ = _kernel_objective(Phi, p, Y, reg)
    return f - reg * float(p.sum()) + reg * float(p @ sqnorm), Z


def _energy_min(L, Z, act, J, reg, starts, seed, deadline) -> tuple[float, bool]:
    """min_v V(v): a certified lower bound (branch and bound) where the rank and the activation
    allow, else the best local minimum of a multistart search; and whether it is certified."""
    Vm, Em = _min_energy(L, Z, starts, seed, act)
    if L.shape[1] <= MAX_RANK and act.lipschitz is not None and act.curvature is not None:
        # The bound enters J's bound multiplied by reg: GAP_TOL / 10 of J leaves room for the rest.
        eb = energy_lower_bound(L, Z, act, tol=GAP_TOL / 10 * max(J, 0.0) / reg, start=Vm[:16],
                                deadline=deadline)
        return eb.lower, True
    return float(Em[0]), False


def _solve_bounded(pb: Problem, tol, progress, max_iter, seed, deadline) -> Solution:
    t0 = time.perf_counter()
    X, Y, reg, bias, act = pb.X, pb.Y, pb.reg, pb.bias, pb.activation
    solver, solver_options, phi = pb.solver, pb.solver_options, pb.activation.numpy
    P = X.shape[0]
    gamma = P * reg
    L, V = _reduced(X, bias)
    r = L.shape[1]
    if r == 0:  # every preactivation is 0: the network can only output 0
        W0 = np.zeros((1, X.shape[1] + int(bias)))
        return Solution(
            objective=float(np.sum(Y * Y) / P), lower_bound=float(np.sum(Y * Y) / P), gap=0.0, certified=False,
            kernel=np.zeros((P, P)), atoms=np.zeros((1, P)), masses=np.ones(1), directions=W0, dual=Y / gamma,
            output=np.zeros_like(Y), params=([W0], np.zeros((1, Y.shape[1]))), hidden=[np.zeros((P, 1))],
            max_dual_constraint=0.0, exact_pricing=False, iterations=0, n_faces=0,
            time=time.perf_counter() - t0, solver="none", reg=reg, activation=act.name, bias=bool(bias),
            parametrization="mean_field", X=X, Y=Y, note="inputs of rank 0: F = 0", arrangement=None,
            phi=act, stop_reason="zero network")
    rng = np.random.default_rng(seed)
    scale = 1 / max(np.sqrt(np.mean(np.sum(L * L, axis=1))), 1e-300)
    cand = np.vstack([np.zeros((1, r)), rng.standard_normal((32, r)) * scale])
    Z = Y / gamma
    Vm, Em = _min_energy(L, Z, np.zeros((0, r)), seed, act)
    cand = np.vstack([cand, Vm[:32]])
    used, it = "none", 0
    bar = _bar(progress, max_iter, f"column generation ({act.name})")
    reason = "max_iter"
    best, gaps = None, []  # the measure with the smallest search gap (later rounds can be worse)
    while it < max_iter:
        if _past(deadline) and it:
            reason = "time_limit"
            break
        it += 1
        Phi = phi(cand @ L.T).T
        sqnorm = np.sum(cand * cand, axis=1)
        p, _, used = _mf_master(Phi, sqnorm, Y, reg, solver, solver_options)
        # The measure's own dual point (Sigma_p + gamma I)^{-1} Y: exact for p, unlike the
        # conic solver's readout, which is only as accurate as the square root of its tolerance.
        J_m, Z = _measure_objective(Phi, p, sqnorm, Y, reg)
        E, _ = _energy(cand, L, Z, act)
        level = float(p @ E)
        sup = p > 1e-9
        Vm, Em = _min_energy(L, Z, cand[sup], seed + it, act)
        gap = J_m - mean_field_bound(Z, Y, reg, Em[0])
        gaps.append(gap / J_m)
        if best is None or gaps[-1] < best[0]:
            best = (gaps[-1], cand, p)
        bar.update(1)
        bar.set_postfix(rel_gap=f"{gaps[-1]:.2e}", refresh=False)
        if gap <= tol * J_m or it == max_iter:
            reason = "converged" if it < max_iter else reason
            break
        if (len(gaps) > STALL_ROUNDS and best[0] <= GAP_TOL / 10
                and min(gaps[-STALL_ROUNDS:]) > 0.9 * min(gaps[:-STALL_ROUNDS])):
            reason = "stalled"
            break
        new = Vm[Em < level - 1e-12][:32]
        keep = _dedupe_against(new, cand, 1e-8)
        if keep.size == 0:
            reason = "stalled"
            break
        cand = np.vstack([cand[sup | (np.arange(cand.shape[0]) == 0)], cand[~sup][-200:], new[keep]])
    bar.close()
    if best is not None:
        _, cand, p = best
    sup = p > 1e-10 * p.max(initial=0.0)
    v, pv = cand[sup], p[sup] / p[sup].sum()
    if v.shape[0] > P * (P + 1) // 2 + 2:
        # Interior points spread mass over many atoms; a vertex of the measures with the same
        # kernel, the same E|v|^2 and total mass 1 has the same J with few atoms.
        # (The reduction is best effort here: when the LP fails, the measure keeps its atoms.)
        v, pv = _caratheodory(v, pv, L, phi, extra=np.stack([np.sum(v * v, axis=1), np.ones(len(pv))]),
                              warn=False)
    Phi = phi(v @ L.T).T  # (P, n)
    Kern = (Phi * pv) @ Phi.T
    J, Zs = _measure_objective(Phi, pv, np.sum(v * v, axis=1), Y, reg)
    F = Kern @ Zs
    Z = dual_point(Y, F, reg)
    min_V, exact = _energy_min(L, Z, act, J, reg, v, seed + 7919, deadline)
    lb = mean_field_bound(Z, Y, reg, min_V)
    certified = _certified(exact, J, lb)
    dirs = v @ V.T
    readout = Phi.T @ Z
    if exact:
        note = (f"{act.name}, mean field: J_MF(pi) of the measure found; the bound uses a certified lower "
                "bound on min_v V(v) (branch and bound), so it is a proof")
    else:
        note = (f"{act.name}, mean field: J_MF(pi) of the measure found; the dual bound uses min_v V(v) from "
                f"a multistart local search (reduced input rank {r} > {MAX_RANK}, or no lipschitz/curvature "
                "bounds for the activation, or the budget ran out), so it is NOT a proof")
    return Solution(
        objective=float(J), lower_bound=float(lb), gap=float(J - lb), certified=certified, kernel=Kern,
        atoms=(L @ v.T).T.copy(), masses=pv, directions=dirs, dual=Z, output=F, params=([dirs], readout),
        hidden=[Phi], max_dual_constraint=float(min_V), exact_pricing=exact, iterations=it, n_faces=0,
        time=time.perf_counter() - t0, solver=used, reg=reg, activation=act.name, bias=bool(bias),
        parametrization="mean_field", X=X, Y=Y, note=note, arrangement=None, stop_reason=reason,
        phi=act)
