"""Certificates for given networks: how far a network is from the global minimum."""
from __future__ import annotations

import warnings

import numpy as np

from .. import objective as _obj
from .._validate import as_bool, as_matrix, as_seed, positive, positive_int
from ..arrangement import Arrangement
from .bounded import _energy_min
from .duality import _dual_bound, dual_point, mean_field_bound
from .homogeneous import _column_generation, _exact_c, _faces_to_price, _Run
from ..symmetry import SymmetricArrangement
from .problem import (BOUNDED, _check_progress, _deadline, _normalise, _one_blas_thread, _past, _reduced,
                      _Units, make_problem)
from .results import GAP_TOL, Certificate, Solution, _certified

#: Stopping tolerance of the refinement in :func:`certify` (relative gap of its own master),
#: and its most rounds (it stops earlier, "stalled", once within GAP_TOL / 10).
REFINE_TOL = 1e-10
REFINE_ROUNDS = 100


def _unpack(net, activation, bias, parametrization, who: str = "certify"):
    """(weights, readout, activation, bias, parametrization) from any accepted network description
    (``who`` names the caller in the error message)."""
    if isinstance(net, Solution):
        W, A = net.network_params() if net.mean_field_limit else net.params
        return list(W), A, net.phi or net.activation, net.bias, net.parametrization
    inner = getattr(net, "network", None)
    if inner is not None and hasattr(inner, "params"):  # a TrainResult
        net = inner
    if hasattr(net, "params") and callable(net.params) and hasattr(net, "readout"):
        W, A = net.params()
        act = net.activation
        return list(W), A, act, bool(net.bias), net.parametrization
    if isinstance(net, (tuple, list)) and len(net) == 2:
        W, A = net
        if isinstance(W, np.ndarray):
            if W.ndim != 2:
                raise ValueError("weights must be a 2-D array (one hidden layer) or a list of 2-D "
                                 f"arrays, one per layer; got an array of shape {W.shape}")
            W = [W]
        if not isinstance(W, (list, tuple)) or not W:
            raise ValueError(f"weights must be a 2-D array or a non-empty list of 2-D arrays; got {type(W).__name__}")
        W = [as_matrix(w, f"weights[{l}]") for l, w in enumerate(W)]
        A = as_matrix(A, "readout")
        return W, A, activation, bias, parametrization
    raise ValueError(f"{who} expects a training.TrainResult, a training.Network, a Solution or a "
                     f"(weights, readout) tuple; got {type(net).__name__}")


@_one_blas_thread
def certify(network_or_result, X, Y, *, reg: float, activation="relu", bias: bool = True,
            parametrization: str = "standard", gap_tol: float = GAP_TOL, max_faces: int = 300_000,
            refine: bool = True, seed: int = 0, solver: str = "CLARABEL", progress: bool | None = None,
            time_limit: float | None = None) -> Certificate:
    r"""Certify (or refute) that a network is a global minimum of :math:`J`.

    The network's own dual point :math:`Z_0 = (Y - F)/(P\lambda)` gives, for ReLU/linear,
    the bound :math:`D(tZ_0)` with the exact :math:`c(Z_0)`: valid for *any* network (a
    lower bound on :math:`J^*`), tight only when the network is exactly optimal — the bound
    is first order in :math:`c(Z_0) - 1`, so a network :math:`10^{-7}` above :math:`J^*` can
    show a gap of :math:`10^{-5}`. With ``refine=True`` (default) column generation, started
    from the network's own unit directions, finds further dual points (every exactly priced
    dual point gives a valid bound) and a network of objective ``upper_bound``
    :math:`\ge J^*`; the best bound is kept. What is guaranteed, on every machine:

    .. math:: J - J^* \;\le\; \text{gap} \;\le\; J - J^* + (\text{upper\_bound} - \text{lower\_bound}),

    so ``gap`` measures the network's distance to a global minimum up to the bracket
    ``upper_bound - lower_bound``, which the refinement drives below
    ``REFINE_TOL * upper_bound`` when it converges (``refine_reason == "converged"``; on
    degenerate problems it may stop earlier, and the bracket says how far). For a network of
    depth > 1 the bound is conditional: over the last hidden layer and readout with the
    earlier layers fixed (``scope='last layer'``).

    Parameters
    ----------
    network_or_result : training.TrainResult, training.Network, Solution, or (weights, readout)
        ``activation``, ``bias`` and ``parametrization`` are read from the object when it has
        them; for a tuple they are the keyword arguments. ``weights`` is a 2-D array (one
        hidden layer) or a list of 2-D arrays.
    X, Y, reg : the problem
    gap_tol : largest *relative* gap, ``gap / objective``, that counts as certified optimal
    max_faces : most faces listed for exact pricing (above it: a search, ``exact=False``)
    refine : also try the column-generation dual points (ReLU/linear)
    seed : for random starts of searches
    solver : cvxpy solver of the refinement's master problems
    progress : tqdm bar over refinement rounds (as in :func:`solve`: None, the default, shows
        it only on a terminal)
    time_limit : seconds for the face enumeration and the refinement (None: no limit); when
        spent, the best bound so far is returned
    """
    deadline = _deadline(time_limit)
    W, A, act, bias, parametrization = _unpack(network_or_result, activation, bias, parametrization)
    pb = make_problem(X, Y, reg=reg, activation=act, bias=bias, parametrization=parametrization,
                      solver=solver)
    X, Y, reg, bias, act = pb.X, pb.Y, pb.reg, pb.bias, pb.activation
    refine = as_bool(refine, "refine")
    progress = _check_progress(progress)
    gap_tol = positive(gap_tol, "gap_tol")
    max_faces = positive_int(max_faces, "max_faces")
    seed = as_seed(seed)
    fan_in = X.shape[1]
    for l, w in enumerate(W):
        if w.shape[1] != fan_in + int(bias):
            raise ValueError(f"weights[{l}] must have {fan_in + int(bias)} columns "
                             f"({'d' if l == 0 else f'the width of layer {l - 1}'}"
                             f"{' + 1 for the bias' if bias else ''}); got {w.shape}")
        fan_in = w.shape[0]
    if A.shape[1] != Y.shape[1] or A.shape[0] != W[-1].shape[0]:
        raise ValueError(f"readout must have shape ({W[-1].shape[0]}, {Y.shape[1]}); got {A.shape}")
    gamma = pb.gamma
    J = _obj.objective(X, Y, W, A, reg=reg, activation=act, bias=bias, parametrization=parametrization)
    F, hidden = _obj.forward(X, W, A, activation=act, bias=bias, parametrization=parametrization)
    Z0 = dual_point(Y, F, reg)
    scope = "global" if len(W) == 1 else "last layer"
    Xin = X if len(W) == 1 else hidden[-2]
    const = reg * sum(float(np.sum(w * w)) for w in W[:-1])
    L, V = _reduced(Xin, bias)
    record = dict(objective=float(J), dual=Z0, scope=scope, reg=reg, activation=act.name, bias=bias,
                  parametrization=parametrization)
    if pb.family == BOUNDED:
        U = W[-1] @ V  # the network's own units are natural starts of the energy search
        min_V, exact = _energy_min(L, Z0, act, J, reg, U, seed, deadline)
        lb = mean_field_bound(Z0, Y, reg, min_V) + const
        how = ("a certified lower bound on min_v V(v) (branch and bound): a proof" if exact else
               "min_v V(v) from a multistart search: NOT a proof")
        return Certificate(**record, lower_bound=float(lb), gap=float(J - lb),
                           certified=_certified(exact, J, lb, gap_tol), scale=1.0,
                           max_dual_constraint=float(min_V), exact=exact,
                           note=f"{act.name} (mean field): the bound uses {how}")
    u = _normalise(L, Y, reg)
    r = L.shape[1]
    arr = _faces_to_price(u, act, max_faces, deadline)
    if isinstance(arr, SymmetricArrangement):
        # A symmetric problem: the group average of the network's dual point is a dual point
        # at least as good, priced exactly on a fundamental domain (abstractnb.symmetry).
        Z0 = arr.symmetrize(Z0)
        record["dual"] = Z0
    exact = arr is not None or r == 0
    out_of_time = not exact and _past(deadline)
    c, exact_c, _ = _exact_c(arr, u.L, Z0 * u.sL, exact, seed, np.zeros((0, r)), act.slopes)
    lb, t = _dual_bound(Z0, Y, reg, gamma, c)
    upper, bound_from, Z1, reason = float(J - const), "network", None, "not run"
    # Any dual point gives a valid bound. Z0 carries the network's first-order error (the bound is
    # first order in c(Z0) - 1); the optimal dual point for a measure on the network's own unit
    # directions is much closer to Z* for a nearly optimal network, so try it too.
    if refine and r:
        N = W[-1].shape[0] if parametrization == "mean_field" else 1
        run = _refined_dual(W[-1], A, u, V, act, arr, N, seed, pb.solver, progress, deadline)
        if run is not None:
            reason = run.reason
            upper = min(upper, run.upper * u.sY ** 2)
            # (searched "bounds" are estimates biased upwards: the best of two is not kept)
            if exact_c and run.pricing is not None and run.pricing.exact:
                Z1 = run.dual / u.sL
                lb1, t1 = _dual_bound(Z1, Y, reg, gamma, run.pricing.value)
                if lb1 > lb:
                    lb, t, c, bound_from = lb1, t1, run.pricing.value, "refined"
    lb += const
    gap = J - lb
    certified = _certified(exact_c, J, lb, gap_tol)
    if exact_c:
        note = "exact pricing: the lower bound is a proof"
        if isinstance(arr, Arrangement) and arr.cone:
            note += (" (on the faces of the cone {v : Lv >= 0}: for these inputs negative "
                     "preactivations never raise c, arrangement.single_cone)")
        if isinstance(arr, SymmetricArrangement):
            note += (f" (at the group average of the network's dual point: the problem is invariant "
                     f"under {arr.symmetry.order} signed permutations of the latents)")
    else:
        why = ("the time limit ran out during the enumeration" if out_of_time
               else "too many, or inputs too close to degenerate")
        note = (f"NOT exact: the faces could not be enumerated ({why}), c(Z) from a search (possibly "
                "underestimated), so the lower bound is not a proof")
        # stacklevel: the caller of certify, past the frame of _one_blas_thread
        warnings.warn(f"certify: {note}", RuntimeWarning, stacklevel=3)
    if scope != "global":
        note += "; depth > 1: bound over the last layer and readout only, earlier layers fixed"
    return Certificate(**record, lower_bound=float(lb), gap=float(gap), certified=certified, scale=float(t),
                       max_dual_constraint=float(c), exact=bool(exact_c), note=note, bound_from=bound_from,
                       refined_dual=Z1, upper_bound=float(upper + const), refine_reason=reason)


def _refined_dual(W, A, u: _Units, V, act, arr, N, seed, solver, progress, deadline) -> _Run | None:
    r"""Column generation (:func:`_column_generation`, tolerance :data:`REFINE_TOL`) started
    from the network's own units.

    Unit :math:`j` (standard-equivalent weights :math:`w_j/\sqrt N, a_j/\sqrt N`) is the atom
    :math:`v_j = V^\top w_j/|V^\top w_j|`; with the rays of the arrangement they are the
    first candidates. The run's best priced dual point gives the refined bound and its last
    master an upper bound on :math:`J^*`.
    """
    U = W @ V
    nrm = np.linalg.norm(U, axis=1)
    keep = (nrm > 0) & (np.linalg.norm(A, axis=1) > 0)
    cand = U[keep] / nrm[keep, None]
    if arr is not None and not arr.linear:
        cand = np.vstack([cand, arr.rays()])
    if cand.shape[0] == 0:
        return None
    return _column_generation(u, act, arr, cand, REFINE_TOL, REFINE_ROUNDS, solver, None, seed, progress,
                              deadline)
