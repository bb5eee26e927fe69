r"""The mean-field solver for bounded activations (tanh, erf, a centred sigmoid)."""
from __future__ import annotations

import time

import numpy as np

from .conic import _mf_master
from .homogeneous import _dedupe_against
from .problem import Problem, _bar, _past, _reduced
from .duality import dual_value
from .results import Solution


def _energy(Vs, L, Z, act):
    """V(v) = |v|^2 - ||Z^T phi(L v)||^2 and its gradient, rows of Vs."""
    U = Vs @ L.T
    q = act.numpy(U) @ Z
    E = np.sum(Vs * Vs, axis=1) - np.sum(q * q, axis=1)
    G = 2 * Vs - 2 * ((q @ Z.T) * act.derivative(U)) @ L
    return E, G


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
            output=np.zeros_like(Y), params=([W0], np.zeros((1, Y.shape[1]))), hidden=np.zeros((P, 1)),
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
    while it < max_iter:
        if _past(deadline) and it:
            reason = "time_limit"
            break
        it += 1
        Phi = phi(cand @ L.T).T
        p, C, used = _mf_master(Phi, np.sum(cand * cand, axis=1), Y, reg, solver, solver_options)
        F = Phi @ C
        Z = (Y - F) / gamma
        E, _ = _energy(cand, L, Z, act)
        level = float(p @ E)
        sup = p > 1e-9
        Vm, Em = _min_energy(L, Z, cand[sup], seed + it, act)
        gap = reg * (level - Em[0])
        bar.update(1)
        bar.set_postfix(gap=f"{gap:.2e}", refresh=False)
        if gap <= tol * max(1.0, reg * abs(level)) or it == max_iter:
            reason = "converged" if it < max_iter else reason
            break
        new = Vm[Em < level - 1e-12][:32]
        keep = _dedupe_against(new, cand, 1e-8)
        if keep.size == 0:
            break
        cand = np.vstack([cand[sup | (np.arange(cand.shape[0]) == 0)], cand[~sup][-200:], new[keep]])
    bar.close()
    sup = p > 1e-10
    v, pv = cand[sup], p[sup] / p[sup].sum()
    Phi = phi(v @ L.T).T  # (P, n)
    Kern = (Phi * pv) @ Phi.T
    Zs = np.linalg.solve(Kern + gamma * np.eye(P), Y)
    J = reg * float(np.sum(Y * Zs)) + reg * float(pv @ np.sum(v * v, axis=1))
    F = Kern @ Zs
    Z = (Y - F) / gamma
    Vm, Em = _min_energy(L, Z, v, seed + 7919, act)
    lb = dual_value(Z, Y, reg) + reg * Em[0]
    dirs = v @ V.T
    readout = Phi.T @ Z
    note = (f"{act.name}, mean-field: J_MF(pi) of the measure found, the N -> infinity optimum (a lower bound for "
            "every finite mean-field network) only if the search below found the global min of V; the dual "
            "bound uses min_v V(v) from a multistart local search, so it is NOT a proof (certified=False)")
    return Solution(
        objective=float(J), lower_bound=float(lb), gap=float(J - lb), certified=False, kernel=Kern,
        atoms=(L @ v.T).T.copy(), masses=pv, directions=dirs, dual=Z, output=F, params=([dirs], readout),
        hidden=Phi, max_dual_constraint=float(Em[0]), exact_pricing=False, iterations=it, n_faces=0,
        time=time.perf_counter() - t0, solver=used, reg=reg, activation=act.name, bias=bool(bias),
        parametrization="mean_field", X=X, Y=Y, note=note, arrangement=None, stop_reason=reason,
        phi=act)
