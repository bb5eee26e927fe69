r"""The exact solver for piecewise-linear (positively homogeneous) activations: column
generation over the dictionary :math:`\{\phi(Lv) : |v| = 1\}`, priced exactly face by face."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import objective as _obj
from ..arrangement import (Arrangement, Pricing, cone_faces, enumerate_faces, ray_directions, search_price,
                           single_cone)
from ..symmetry import SymmetricArrangement, symmetric_faces
from .conic import _group_lasso
from .duality import _dual_bound, _kernel_objective, dual_point
from .problem import Problem, _bar, _normalise, _past, _reduced, _Units
from .results import GAP_TOL, Solution, _certified, relative_gap

#: Most new directions per column-generation round (a symmetric problem adds whole orbits of
#: up to :data:`abstractnb.symmetry.ORBIT_REPS` of them).
NEW_COLUMNS = 64
#: Default stopping tolerance of :func:`solve`: relative duality gap of the column generation
#: (a hundred times below ``GAP_TOL``, so that a converged solve is certified with room to spare).
SOLVE_TOL = 1e-8
#: Column generation stops as "stalled" once certified and this many rounds have not shrunk
#: the gap by 10 %: more rounds then buy nothing the verdict needs (Issue 16 measured minutes
#: of rounds with no smaller final gap on multi-output problems).
STALL_ROUNDS = 8
#: With more faces than this, a round first prices only the faces that held violating
#: directions at the last exact pricing (after a few rounds the violators keep coming from the
#: same faces, while their atoms move inside them); the whole arrangement is priced only when
#: those faces hold no violator left, so that every bound and every stop rests on an exact
#: pricing. Below it, exact pricing is cheap enough to run every round.
PARTIAL_FACES = 20_000
#: Most partial rounds between two exact pricings (they do not count as rounds of ``max_iter``).
PARTIAL_ROUNDS = 10
#: Without exact pricing, a search that finds no violator is repeated with this many more
#: random starts and refined starts before the column generation stops (every search also
#: refines the best rays of the arrangement, where they are few enough to list). On random
#: embeddings of 4 latents the plain search stopped 2e-4 to 9e-4 above what training reached.
HARD_SEARCH = dict(n_random=8 * 4096, n_refine=8 * 48)


def _line_search(Hs, ms, step, g, f, Y, reg):
    """Ratio test (masses stay >= 0; one that reaches 0 is set to exactly 0) and Armijo
    backtracking on f; (masses, f, Z, inverse) or None when no decrease is found."""
    if float(g @ step) >= 0:
        return None
    neg = step < 0
    alpha = min(1.0, float(np.min(-ms[neg] / step[neg]))) if neg.any() else 1.0
    while alpha > 1e-12:
        trial = np.maximum(ms + alpha * step, 0.0)
        # the ratio test lands a mass on 0 only up to rounding: make it exactly 0 (dropped)
        trial[trial <= 1e-12 * ms.max()] = 0.0
        ft, Zt, Mt = _kernel_objective(Hs, trial, Y, reg)
        if ft <= f + 1e-4 * alpha * float(g @ step) + 1e-15 * abs(f):
            return trial, ft, Zt, Mt
        alpha *= 0.5
    return None


def _polish(H, m, Y, reg, iters: int = 100):
    r"""Newton refinement of the masses on the support of a master solution.

    The group lasso's dual point is only as accurate as the square root of its primal
    accuracy; on the support, :math:`f(m) = \lambda\operatorname{tr}(Y^\top(\Sigma_m+\gamma I)^{-1}Y)
    + \lambda\sum m` is smooth with gradient :math:`\lambda(1 - \|Z^\top h_j\|^2)` and Hessian
    :math:`2\lambda\,(H^\top ZZ^\top H)\odot(H^\top(\Sigma+\gamma I)^{-1}H)`, so Newton's method
    (minimum-norm steps: the optimum need not be unique; a ratio test keeps :math:`m \ge 0`
    and drops a mass that reaches 0; backtracking on :math:`f`) reaches the KKT conditions, hence
    :math:`Z`, to near machine precision. Zeros of ``m`` stay zero.
    """
    m = m.copy()
    act = m > 0
    if not act.any():
        return m
    f, Z, Minv = _kernel_objective(H[:, act], m[act], Y, reg)
    for _ in range(iters):
        Hs = H[:, act]
        q = Hs.T @ Z
        g = reg * (1 - np.sum(q * q, axis=1))
        if np.abs(g).max(initial=0.0) <= 1e-13 * reg:
            break
        Hess = 2 * reg * (q @ q.T) * (Hs.T @ Minv @ Hs)
        ev, Q = np.linalg.eigh(Hess)
        big = ev > 1e-13 * max(ev.max(initial=0.0), 1e-300)
        newton = -(Q[:, big] @ ((Q[:, big].T @ g) / ev[big]))
        # On a singular Hessian the Newton step ignores the gradient's null-space part; a
        # gradient step of length 1/L (L the largest curvature) is the fallback.
        steps = (newton, -g / max(ev.max(initial=0.0), 1e-300))
        ms = m[act]
        for step in steps:
            trial = _line_search(Hs, ms, step, g, f, Y, reg)
            if trial is not None:
                break
        else:
            break
        trial, ft, Zt, Mt = trial
        m[act] = trial
        f, Z, Minv = ft, Zt, Mt
        if np.any(trial == 0):
            act = m > 0
            if not act.any():
                break
            f, Z, Minv = _kernel_objective(H[:, act], m[act], Y, reg)
    return m



def _active_set(H, m0, Y, reg, tol, max_rounds: int = 400):
    r"""The master problem :math:`\min_{m \ge 0} f(m)` over the columns of ``H`` by an active set.

    :math:`f(m) = \lambda\operatorname{tr}(Y^\top(H\,\mathrm{diag}(m)H^\top + \gamma I)^{-1}Y)
    + \lambda\sum m` is smooth and convex; its KKT conditions are :math:`\|Z^\top h_j\| = 1`
    on the support and :math:`\le 1` off it. Newton on the support (:func:`_polish`), then the
    most violating columns join, each at the minimiser of :math:`f` along its own axis
    (Sherman–Morrison: :math:`t = (\sqrt a - 1)/b`, :math:`a = \|Z^\top h\|^2`,
    :math:`b = h^\top(\Sigma + \gamma I)^{-1}h`), until no column violates by more than
    ``tol``. Exact to the Newton accuracy, and warm-started from ``m0`` (the last round's
    masses), it replaces an interior-point solve per round. Returns None if it does not settle
    within ``max_rounds`` (ties can make it cycle); the caller then uses the conic master.
    """
    m = np.maximum(m0, 0.0)
    P = H.shape[0]
    for _ in range(max_rounds):
        if m.any():
            m = _polish(H, m, Y, reg)
        act = m > 0
        Minv = np.linalg.inv((H[:, act] * m[act]) @ H[:, act].T + P * reg * np.eye(P))
        Z = Minv @ Y
        a = np.sum((H.T @ Z) ** 2, axis=1)
        if act.any() and np.abs(a[act] - 1).max() > tol:
            return None  # Newton did not reach the KKT conditions on the support
        viol = np.flatnonzero(~act & (a > (1 + tol) ** 2))
        if viol.size == 0:
            return m
        top = viol[np.argsort(-a[viol])[:8]]
        b = np.einsum("pj,pq,qj->j", H[:, top], Minv, H[:, top])
        m[top] = (np.sqrt(a[top]) - 1) / b
    return None


def _solve_homogeneous(pb: Problem, tol, progress, max_iter, max_faces, seed, deadline) -> Solution:
    t0 = time.perf_counter()
    X, Y, reg, bias, parametrization = pb.X, pb.Y, pb.reg, pb.bias, pb.parametrization
    solver, solver_options, act = pb.solver, pb.solver_options, pb.activation
    P = X.shape[0]
    phi = act.numpy
    L, V = _reduced(X, bias)
    r = L.shape[1]
    u = _normalise(L, Y, reg)
    arr = _faces_to_price(u, act, max_faces, deadline)
    exact = arr is not None or r == 0
    out_of_time = not exact and _past(deadline)
    rng = np.random.default_rng(seed)
    if arr is not None and not arr.linear:
        cand = arr.rays()
    else:
        cand = rng.standard_normal((max(64, 8 * r), r)) if r else np.zeros((0, 0))
        if r and not act.linear:  # least-norm directions that switch on one condition
            cand = np.vstack([cand, np.linalg.pinv(u.L).T])
        cand = cand / np.maximum(np.linalg.norm(cand, axis=1, keepdims=True), 1e-300)
    run = None
    if r and act.linear and arr is not None:
        run = _nuclear_norm_run(u, act, arr, tol, deadline)
    elif r:
        run = _column_generation(u, act, arr, cand, tol, max_iter, solver, solver_options, seed,
                                 progress, deadline)
    if run is not None:
        cand, mass, it, used = run.directions, run.masses * (u.sY / u.sL), run.rounds, run.solver
    else:
        cand, mass, it, used = np.zeros((0, 0)), np.zeros(0), 0, "none"
    gamma = pb.gamma
    # Drop atoms whose share of the output, m_j ||h_j|| (||Z^T h_j|| = 1), is at rounding level.
    share = mass * np.linalg.norm(phi(cand @ L.T), axis=1) if r else mass
    support = share > 1e-10 * max(np.abs(Y).max(), share.max(initial=0.0))
    v = cand[support] if r else np.zeros((0, 0))
    m = mass[support]
    if v.shape[0] > P * (P + 1) // 2:
        v, m = _caratheodory(v, m, L, phi)
    m, v = m[m > 0], v[m > 0]
    # Output vectors b_j = m_j Z^T h_j: the ridge-optimal readout for these atoms (KKT).
    if v.shape[0]:
        Hv = phi(v @ L.T)  # (n, P)
        _, Zm, _ = _kernel_objective(Hv.T, m, Y, reg)
        b = m[:, None] * (Hv @ Zm)
    else:
        b = np.zeros((0, Y.shape[1]))
    # Rebuild the finite network in original coordinates and evaluate J with THE objective.
    dirs = v @ V.T if r else np.zeros((0, X.shape[1] + int(bias)))
    W = np.sqrt(m)[:, None] * dirs
    A = b / np.sqrt(m)[:, None]
    if W.shape[0] == 0:  # the zero network: keep one silent unit so shapes stay valid
        W0, A0 = np.zeros((1, dirs.shape[1])), np.zeros((1, Y.shape[1]))
    else:
        W0, A0 = W, A
    J = _obj.objective(X, Y, [W0], A0, reg=reg, activation=act, bias=bias, parametrization="standard")
    F, (Hn,) = _obj.forward(X, [W0], A0, activation=act, bias=bias, parametrization="standard")
    Z = dual_point(Y, F, reg)
    # c(Z) of the network's own dual point (what `dual` and `max_dual_constraint` report;
    # with a symmetry, of its group average, which is never a worse dual point) ...
    if arr is not None:
        Z = arr.symmetrize(Z)
    c, exact_c, _ = _exact_c(arr, u.L, Z * u.sL, exact, seed, v, act.slopes)
    lb, _ = _dual_bound(Z, Y, reg, gamma, c)
    # ... and the best exactly priced dual point of the column generation: every priced dual
    # point gives a valid bound, so keep the better one (for large targets (Y - F)/gamma is
    # the worse conditioned of the two). Searched "bounds" are estimates biased upwards (a
    # search can only miss the maximum), and the best of many would be more so: not kept.
    if exact_c and run is not None and run.pricing is not None and run.pricing.exact:
        lb = max(lb, _dual_bound(run.dual / u.sL, Y, reg, gamma, run.pricing.value)[0])
    certified = _certified(exact_c, J, lb)
    reason = run.reason if run is not None else "zero network"
    note = ("exact: c(Z) computed by enumerating all faces of the arrangement; the gap is a proof "
            "of global optimality up to floating-point error")
    if exact_c and isinstance(arr, Arrangement) and arr.cone:
        note = ("exact: c computed on the 2^P - 1 faces of the cone {v : Lv >= 0} (negative "
                "preactivations never raise c for these inputs: arrangement.single_cone); the gap is "
                "a proof of global optimality up to floating-point error")
    if exact_c and isinstance(arr, SymmetricArrangement):
        note = (f"exact: c computed at the group average of the dual point (the problem is invariant "
                f"under {arr.symmetry.order} signed permutations of the latents; the average is never "
                f"a worse dual point) by pricing {arr.n_faces} faces, one per orbit or those of a "
                "fundamental domain; the gap is a proof of global optimality up to floating-point error")
    if not exact_c:
        why = ("the time limit ran out during the enumeration" if out_of_time else
               f"more than max_faces={max_faces}, or inputs too close to a degenerate configuration "
               "to decide the signs reliably")
        note = (f"NOT certified: the faces of the arrangement could not be enumerated ({why}), so "
                "c(Z) comes from a multistart search and may be underestimated; the lower bound is "
                "not a proof")
        warnings.warn(f"solve: {note}", RuntimeWarning, stacklevel=4)
    elif not certified:
        note = (f"exact pricing, but NOT certified: relative gap {relative_gap(J, lb):.1e} > "
                f"GAP_TOL={GAP_TOL:g} (column generation stopped: {reason})")
        warnings.warn(f"solve: {note}", RuntimeWarning, stacklevel=4)
    atoms = L @ v.T if r else np.zeros((P, 0))
    params, hidden = ([W0], A0), Hn
    if parametrization == "mean_field" and W.shape[0]:
        # Same network in mean-field scaling: w, a -> sqrt(N) w, sqrt(N) a leaves J unchanged.
        n = W.shape[0]
        params = ([W * np.sqrt(n)], A * np.sqrt(n))
        hidden = Hn * np.sqrt(n)
        J = _obj.objective(X, Y, *params, reg=reg, activation=act, bias=bias, parametrization="mean_field")
    return Solution(
        objective=float(J), lower_bound=float(lb), gap=float(J - lb), certified=certified,
        kernel=Hn @ Hn.T, atoms=atoms.T.copy(), masses=m.copy(), directions=dirs, dual=Z, output=F,
        params=params, hidden=[hidden], max_dual_constraint=float(c), exact_pricing=bool(exact_c),
        iterations=it, n_faces=arr.n_faces if arr is not None else 0, time=time.perf_counter() - t0,
        solver=used, reg=reg, activation=act.name, bias=bool(bias), parametrization=parametrization,
        X=X, Y=Y, note=note, arrangement=arr.scaled(u.sL) if isinstance(arr, Arrangement) else None,
        stop_reason=reason, phi=act)



@dataclass(frozen=True)
class _Run:
    """What a column generation found, in the internal units of its ``_Units``."""

    directions: np.ndarray     # (n, r) unit directions v_j of the candidates
    masses: np.ndarray         # (n,) masses of the last master (0 off its support)
    rounds: int
    solver: str
    dual: np.ndarray | None    # the priced dual point with the best bound
    pricing: Pricing | None    # its pricing
    lower: float               # that bound, D(tZ)
    upper: float               # J of the last master measure (a network: >= J*)
    reason: str                # why it stopped (see Solution.stop_reason)


#: Most proximal-gradient iterations of the linear-activation solver.
PROX_ITERS = 20_000


def _nuclear_norm_run(u: _Units, act, arr, tol, deadline) -> _Run:
    r"""Linear units (:math:`\phi(z) = az`): the group lasso is a nuclear-norm regression.

    With features :math:`aLv`, a measure of units builds :math:`F = aLM`,
    :math:`M = \sum_j v_jb_j^\top`, and the least :math:`\sum_j\|b_j\|` over the ways of
    writing :math:`M` is its nuclear norm, so :math:`J = \min_M \frac1P\|aLM - Y\|_F^2 +
    2\lambda\|M\|_*`: accelerated proximal gradient (singular-value thresholding, restarted
    when the objective rises), then the units of the SVD :math:`M = \sum_i s_ip_iq_i^\top`
    (direction :math:`p_i`, mass :math:`s_i`), their masses polished by Newton. Ties between
    singular values (a continuum of optimal directions) cost nothing here, where column
    generation would add one direction per round.
    """
    L, Y, reg = act.slopes[1] * u.L, u.Y, u.reg
    P, r = L.shape
    step = P / (2 * np.linalg.norm(L, 2) ** 2)

    def g(M):
        R = L @ M - Y
        return float(np.sum(R * R)) / P + 2 * reg * float(np.linalg.svd(M, compute_uv=False).sum())

    def prox(M, t):
        U_, s_, Vt_ = np.linalg.svd(M, full_matrices=False)
        return (U_ * np.maximum(s_ - 2 * reg * t, 0.0)) @ Vt_

    M = np.zeros((r, Y.shape[1]))
    Mk, tk, f_old, it = M.copy(), 1.0, g(M), 0
    for it in range(1, PROX_ITERS + 1):
        M_new = prox(Mk - step * (2 / P) * L.T @ (L @ Mk - Y), step)
        f_new = g(M_new)
        if f_new > f_old:  # restart the momentum
            Mk, tk = M, 1.0
            continue
        t_new = (1 + np.sqrt(1 + 4 * tk * tk)) / 2
        Mk = M_new + (tk - 1) / t_new * (M_new - M)
        done = f_old - f_new <= 1e-16 * max(f_new, 1e-300)
        M, tk, f_old = M_new, t_new, f_new
        if done or _past(deadline):
            break
    Pm, sv, _ = np.linalg.svd(M, full_matrices=False)
    keep = sv > 1e-12 * sv.max(initial=0.0)
    dirs, mass = Pm[:, keep].T, sv[keep]
    H = act.numpy(dirs @ u.L.T).T
    if mass.size:
        mass = _polish(H, mass, Y, reg)
    upper, Z, _ = _kernel_objective(H, mass, Y, reg) if mass.size else (0.0, Y / (P * reg), None)
    pr = arr.price(Z)
    lower = _dual_bound(Z, Y, reg, P * reg, pr.value)[0]
    return _Run(dirs, mass, it, "proximal gradient", Z, pr, float(lower), float(upper),
                "time_limit" if _past(deadline) else "converged")


def _column_generation(u: _Units, act, arr, cand, tol, max_iter, solver, solver_options, seed, progress,
                       deadline=None) -> _Run:
    r"""Column generation for the group lasso over the dictionary :math:`\{\phi(Lv): |v| = 1\}`.

    Master (cvxpy) over the candidate directions ``cand``, masses polished by Newton
    (:func:`_polish`), exact pricing of :math:`Z` (or a search when ``arr`` is None); the
    maximisers with :math:`\|Z^\top\phi(Lv)\| > 1 + \text{tol}` join the candidates. Every
    priced :math:`Z` gives a bound and the best one is kept; the master's objective is an
    upper bound on :math:`J^*`. Stops when :math:`c(Z) \le 1 + \text{tol}` or the relative
    gap between the two is below ``tol`` (the bound is first order in c - 1, so both are
    needed), when certified and stalled (:data:`STALL_ROUNDS`), or at ``max_iter`` rounds or
    the deadline. On large arrangements most rounds price only the faces of the last
    violators (:data:`PARTIAL_FACES`); the stopping tests always follow an exact pricing.
    """
    L, Y, reg = u.L, u.Y, u.reg
    phi = act.numpy
    gamma = L.shape[0] * reg
    used, it, mass, atoms = "none", 0, np.zeros(cand.shape[0]), cand
    prev = {}  # masses of the last master, by candidate row (warm start)
    best_lb, best_Z, best_pr, upper, gaps = -np.inf, None, None, np.inf, []
    reason = "max_iter"
    partial = isinstance(arr, Arrangement) and arr.n_faces > PARTIAL_FACES
    hot = np.zeros(0, int)  # faces priced first (partial pricing, see PARTIAL_FACES)
    inner = 0  # partial rounds since the last exact pricing
    pool = _search_pool(L, act.slopes) if arr is None else None
    bar = _bar(progress, max_iter, "column generation")
    while it < max_iter:
        if _past(deadline):
            reason = "time_limit"
            break
        H = phi(cand @ L.T).T
        useful = np.linalg.norm(H, axis=0) > 1e-12
        cand, H = cand[useful], H[:, useful]
        if cand.shape[0] == 0:  # no candidate unit is ever active: only the zero network remains
            mass, atoms, reason = np.zeros(0), cand, "zero network"
            break
        m0 = np.array([prev.get(i, 0.0) for i in range(cand.shape[0])]) if prev else np.zeros(cand.shape[0])
        mass = _active_set(H, m0, Y, reg, tol)
        if mass is None:  # the active set cycled: the conic master decides
            B, used = _group_lasso(H, Y, reg, solver, solver_options)
            norms = np.linalg.norm(B, axis=1)
            # Interior-point solutions spread tiny masses over many atoms; start the polish from
            # the clear support (an atom wrongly dropped comes back through the pricing).
            mass = _polish(H, np.where(norms > 1e-6 * norms.max(initial=0.0), norms, 0.0), Y, reg)
        else:
            used = "active set"
        atoms = cand
        prev = {i: float(x) for i, x in enumerate(mass) if x > 0}
        upper, Z, _ = _kernel_objective(H, mass, Y, reg)
        if arr is not None:
            Z = arr.symmetrize(Z)
        if hot.size and inner < PARTIAL_ROUNDS:
            pr = arr.price(Z, threshold=1 + tol, max_directions=NEW_COLUMNS, faces=hot)
            keep = _dedupe_against(pr.directions, cand)
            if pr.value > 1 + tol and keep.size:
                cand, inner = np.vstack([cand, pr.directions[keep]]), inner + 1
                continue
        it, inner = it + 1, 0
        pr = _price(arr, L, Z, threshold=1 + tol, starts=cand[mass > 0], seed=seed + it, slopes=act.slopes,
                    max_directions=NEW_COLUMNS, pool=pool)
        if arr is None and pr.value <= 1 + tol:
            # A search that finds no violator may have missed one: look again, harder, before
            # stopping (its "bound" is no bound, so the gap cannot tell when to stop).
            again = _hard_search(L, Z, threshold=1 + tol, starts=cand[mass > 0], seed=seed + it,
                                 slopes=act.slopes, max_directions=NEW_COLUMNS, pool=pool)
            pr = again if again.value > pr.value else pr
        if partial:
            hot = np.unique(pr.faces[pr.faces >= 0])
        lb = _dual_bound(Z, Y, reg, gamma, pr.value)[0]
        if lb > best_lb:
            best_lb, best_Z, best_pr = lb, Z, pr
        gaps.append(relative_gap(upper, best_lb))
        bar.update(1)
        bar.set_postfix(c=f"{pr.value:.9f}", rel_gap=f"{gaps[-1]:.1e}", refresh=False)
        if pr.value <= 1 + tol or (pr.exact and gaps[-1] <= tol) or pr.directions.shape[0] == 0:
            reason = "converged"
            break
        if (pr.exact and len(gaps) > STALL_ROUNDS and gaps[-1] <= GAP_TOL / 10
                and gaps[-1] > 0.9 * gaps[-1 - STALL_ROUNDS]):
            reason = "stalled"
            break
        new = pr.directions
        keep = _dedupe_against(new, cand)
        if keep.size == 0:
            reason = "stalled"
            break
        cand = np.vstack([cand, new[keep]])
    bar.close()
    return _Run(atoms, mass, it, used, best_Z, best_pr, float(best_lb), float(upper), reason)



def _faces_to_price(u: _Units, act, max_faces, deadline):
    """The faces that make pricing exact, or None (then pricing is a search).

    The cheapest that applies: the faces of one cone when negative preactivations never help
    (:func:`abstractnb.arrangement.single_cone`; whitened inputs), else every face of the
    arrangement, else, when these are too many, the faces that a symmetry of the problem leaves
    to price (:func:`abstractnb.symmetry.symmetric_faces`).
    """
    if u.L.shape[1] == 0:
        return None
    if single_cone(u.L, act.slopes):
        arr = cone_faces(u.L, slopes=act.slopes, max_faces=max_faces)
        if arr is not None:
            return arr
    arr = enumerate_faces(u.L, max_faces=max_faces, slopes=act.slopes, deadline=deadline)
    if arr is None and not act.linear and not _past(deadline):
        # Too many faces: a symmetry of the problem may leave few of them to price.
        arr = symmetric_faces(u.L, u.Y, slopes=act.slopes, max_faces=max_faces, deadline=deadline)
    return arr


def _price(arr, L, Z, *, threshold, starts, seed, slopes, max_directions=200, pool=None):
    """Exact pricing over the faces of ``arr``, or (``arr`` None) a multistart search with
    the candidates of ``pool`` (:func:`_search_pool`)."""
    if arr is not None:
        return arr.price(Z, threshold=threshold, max_directions=max_directions)
    return search_price(L, Z, threshold=threshold, starts=starts, seed=seed, slopes=slopes,
                        max_directions=max_directions, pool=pool)


def _search_pool(L, slopes):
    """Extra candidates of the searches: the rays of the arrangement where they are few
    enough to list (optimal units often sit on them; nonlinear activations only)."""
    return ray_directions(L) if slopes[0] != slopes[1] else None


def _hard_search(L, Z, *, threshold, starts, seed, slopes, max_directions=200, pool=None):
    """The search of :data:`HARD_SEARCH`."""
    return search_price(L, Z, threshold=threshold, starts=starts, seed=seed, slopes=slopes,
                        max_directions=max_directions, pool=pool, **HARD_SEARCH)


def _exact_c(arr, L, Z, exact, seed, starts, slopes):
    """c(Z), whether it is exact, and the witness (without exact pricing: the hard search,
    whose value is still only a lower estimate of c)."""
    if L.shape[1] == 0:
        return 0.0, True, None
    if arr is None:
        pr = _hard_search(L, Z, threshold=None, starts=starts, seed=seed, slopes=slopes,
                          pool=_search_pool(L, slopes))
    else:
        pr = _price(arr, L, Z, threshold=None, starts=starts, seed=seed, slopes=slopes)
    return pr.value, pr.exact and exact, pr.witness


def _dedupe_against(new: np.ndarray, old: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of rows of ``new`` that are not (within tol) rows of ``old``."""
    if old.shape[0] == 0 or new.shape[0] == 0:
        return np.arange(new.shape[0])
    # Equal rows round to equal keys; the few rows left are compared by distance, in chunks
    # (orbits of a symmetry bring thousands of rows at once).
    old_keys = {row.tobytes() for row in np.round(old / tol).astype(np.int64)}
    left = np.array([i for i, row in enumerate(np.round(new / tol).astype(np.int64))
                     if row.tobytes() not in old_keys], dtype=int)
    step = max(1, 2_000_000 // old.shape[0])
    far = [np.min(np.linalg.norm(new[left[i:i + step], None, :] - old[None], axis=2), axis=1) > tol
           for i in range(0, left.size, step)]
    return left[np.concatenate(far)] if far else left




def _caratheodory(v, m, L, phi, extra=None, warn=True):
    r"""A vertex of {m' >= 0 : sum m'_j h_j h_j^T = Sigma (and extra @ m' = extra @ m)}: the same
    kernel (hence the same F and J), with at most P(P+1)/2 (+ rows of ``extra``) atoms."""
    from scipy.optimize import linprog

    H = phi(v @ L.T)  # (n, P)
    P = L.shape[0]
    # Unit features and masses m ||h||^2: the same kernel with an LP of unit-scale columns
    # (unscaled, HiGHS stops on numerical trouble, status 4, on problems of P = 16).
    nrm = np.linalg.norm(H, axis=1)
    nrm = np.where(nrm > 0, nrm, 1.0)  # a silent atom (h = 0) only enters the extra rows
    Hu, mu = H / nrm[:, None], m * nrm ** 2
    iu = np.triu_indices(P)
    A = np.einsum("np,nq->npq", Hu, Hu)[:, iu[0], iu[1]].T
    if extra is not None:
        E = extra / nrm ** 2
        A = np.vstack([A, E / np.maximum(np.abs(E).max(axis=1, keepdims=True), 1e-300)])
    for method in ("highs-ds", "highs-ipm"):
        res = linprog(np.zeros(m.size), A_eq=A, b_eq=A @ mu, bounds=[(0, None)] * m.size, method=method)
        if res.status == 0 and res.x is not None:
            keep = res.x > 1e-12 * mu.max()
            x = np.where(keep, res.x, 0.0)
            if np.abs(A @ x - A @ mu).max() <= 1e-9 * np.abs(A @ mu).max():
                return v[keep], x[keep] / nrm[keep] ** 2
    if warn:
        warnings.warn(f"solve: the atom reduction failed (HiGHS: {res.message}); the solution keeps "
                      f"{m.size} atoms, more than the P(P+1)/2 = {P * (P + 1) // 2} a vertex needs "
                      "(the kernel and J are unaffected)", RuntimeWarning, stacklevel=5)
    return v, m
