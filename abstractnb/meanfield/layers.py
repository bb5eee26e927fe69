r"""Per-layer (conditional) certificates of a deep network, and an exact last-layer re-solve.

A network with :math:`L` hidden layers (:mod:`abstractnb.objective`),
:math:`H_0 = X`, :math:`H_l = \phi(\tilde H_{l-1}W_l^\top)`, :math:`F = H_LA`, with

.. math:: J = \tfrac1P\|F - Y\|_F^2 + \lambda\Big(\sum_l\|W_l\|_F^2 + \|A\|_F^2\Big),

is not a convex problem in any parametrisation we know, and the one-layer dual of
:mod:`abstractnb.meanfield` gives no lower bound on :math:`J` over *all* deep networks. What it
does give are bounds on each layer *given the others*. Write :math:`W_{l+1}'` for the columns of
:math:`W_{l+1}` that multiply the units of layer :math:`l` (all but the bias column), and
:math:`T_l = H_lW_{l+1}'^\top` for what layer :math:`l` contributes to the preactivations of
layer :math:`l+1`.

**Last hidden layer (``problem='penalized'``).** With layers :math:`1..L-1` frozen,
:math:`J` is a constant plus the one-layer objective of the last layer and readout on the
inputs :math:`H_{L-1}`: exactly the problem of :func:`abstractnb.meanfield.certify`
(``scope='last layer'``; for :math:`L = 1` it is the global problem). Its certificate compares
the last layer and readout with those of every width.

**Intermediate layer** :math:`l < L` **(``problem='min-norm'``).** The layers above cannot be
folded into targets: with them fixed, the loss as a function of :math:`T_l` passes through the
nonlinearity of layer :math:`l+1` and is not convex, so there is no penalised one-layer problem
(and no dual) for layer :math:`l` alone. What *is* exact is the problem with the layers below and
:math:`T_l` fixed:

.. math:: R(T_l) = \min\Big\{\|W_l\|_F^2 + \|W_{l+1}'\|_F^2 \ :\
          \phi(\tilde H_{l-1}W_l^\top)\,W_{l+1}'^\top = T_l\Big\}
          \quad\text{(any width of layer } l\text{)} .

Every network with the same layers below and the same :math:`T_l` has the same outputs, so at a
global minimum of :math:`J` layer :math:`l` attains :math:`R(T_l)` (among widths up to
:math:`N_l`; the convex value over all widths when :math:`N_l` is at least the number of atoms of
its optimum). For positively homogeneous :math:`\phi` of degree 1 (ReLU, linear), balancing each
unit makes :math:`R` a group-lasso norm, :math:`R(T) = 2\min\{\sum_j\|b_j\| : \sum_j h_jb_j^\top = T\}`
over unit-cost features :math:`h_j = \phi(L_{l-1}v_j)`, :math:`|v_j| = 1`, and for every
:math:`Z \ne 0`

.. math:: R(T) \ \ge\ \frac{2\,|\operatorname{tr}(Z^\top T)|}{c(Z)},\qquad
          c(Z) = \max_{|v|=1}\|Z^\top\phi(L_{l-1}v)\|,

with equality at the optimal :math:`Z`. :math:`c(Z)` is computed exactly by enumerating the faces
of the arrangement of the rows of :math:`L_{l-1}` (:mod:`abstractnb.arrangement`), so the bound
is a proof. :math:`Z` is the network's own, :math:`Z_0 = -\partial\ell/\partial U_{l+1}/(2\lambda)`
(:math:`U_{l+1}` the preactivations of layer :math:`l+1`, :math:`\ell` the data term; at a
stationary point :math:`W_{l+1}' = Z_0^\top H_l`), and, with ``refine``, the dual point of the
group lasso restricted to the network's own unit directions, the rays of the arrangement and
the maximisers found by pricing (column generation, as in ``certify``). For linear units the
optimal dual point is known in closed form (:math:`R(T) = 2\|C\|_*` for :math:`T = L_{l-1}C`)
and is used instead.

What the certificates prove, and what they do not: a certified last layer is (within a factor
:math:`1 + \text{gap\_tol}`) the best last layer and readout of any width for the frozen layers
below; a certified intermediate layer is the cheapest layer :math:`l` of any width that gives
layer :math:`l+1` the same input. *All* layers certified means that no change of one layer (with
the compensating change of the next layer's incoming weights) lowers :math:`J` by more than the
gaps: a blockwise optimum. It does *not* mean a global minimum of the deep network: changing two
layers at once may lower :math:`J`, and no lower bound on :math:`J` over all deep networks
follows.

Only positively homogeneous activations of degree 1 are supported (the balancing step needs
it), in the standard parametrisation (the mean-field one is defined for one hidden layer).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import objective as _obj
from .._validate import as_bool, as_matrix, as_seed, positive, positive_int
from ..activations import get_activation
from ..arrangement import enumerate_faces, price
from ..preactivations import reduce_inputs
from .certificate import _unpack, certify
from .problem import _one_blas_thread
from .results import GAP_TOL, Certificate, _Bounded, _certified
from .solver import solve

# The names taken from .meanfield are imported at the end of this module: meanfield re-exports
# certify_layers from its last line, so either module may be imported first.

__all__ = ["LayerCertificate", "LayerCertificates", "certify_layers", "resolve_last_layer"]

#: Column-generation rounds of the intermediate-layer refinement (each: one small SOCP and one
#: exact pricing); it stops earlier once the priced dual point is feasible to REFINE_FEAS.
LAYER_REFINE_ROUNDS = 30
#: The refinement stops when c(Z) <= 1 + REFINE_FEAS over all directions (the master's dual is
#: then optimal to about that relative accuracy, far below GAP_TOL).
REFINE_FEAS = 1e-9
#: A master solution counts as a layer (for ``upper_bound``) when it reproduces the normalised
#: target T / ||T|| to this accuracy.
FEASIBLE_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class LayerCertificate(_Bounded):
    r"""The conditional certificate of one hidden layer (see the module docstring).

    Attributes
    ----------
    index : int
        Position of the layer in ``TrainResult.hidden`` (0 = first hidden layer); the book's
        layer :math:`l` is ``index + 1``.
    problem : str
        ``'penalized'`` (last hidden layer: the one-layer objective on the previous
        representation, layers below frozen) or ``'min-norm'`` (intermediate layer: least
        :math:`\|W_l\|^2 + \|W_{l+1}'\|^2` that produces the same input to the next layer, layers
        below frozen).
    conditional_on : str
        What is held fixed, in words.
    objective : float
        Value of that problem at the network: :math:`J` (penalized) or
        :math:`\|W_l\|_F^2 + \|W_{l+1}'\|_F^2` (min-norm).
    lower_bound : float
        A lower bound on the problem's minimum over layers of every width (a proof when ``exact``).
    upper_bound : float
        Value of the best layer seen (this one or the refinement's): the minimum lies in
        [``lower_bound``, ``upper_bound``].
    gap : float
        ``objective - lower_bound``.
    certified : bool
        ``exact`` and ``gap <= gap_tol * objective``.
    exact : bool
        Whether the bound is a proof (exact pricing). Independent of this, the *problem* is
        always an exact necessary condition of global optimality; it is conditional on the
        other layers.
    max_dual_constraint : float
        :math:`c(Z)` of the dual point used for the bound.
    dual : (P, K_l) array
        That dual point (min-norm: scaled so that :math:`c(Z) = 1`; penalized: as in
        :class:`abstractnb.meanfield.Certificate`).
    certificate : Certificate or None
        The :func:`abstractnb.meanfield.certify` result (penalized only).
    note : str
    """

    index: int
    problem: str
    conditional_on: str
    objective: float
    lower_bound: float
    upper_bound: float
    gap: float
    certified: bool
    exact: bool
    max_dual_constraint: float
    dual: np.ndarray
    certificate: Certificate | None = None
    note: str = ""

    def __repr__(self) -> str:
        return (f"LayerCertificate(layer {self.index + 1}, problem={self.problem!r}, "
                f"objective={self.objective:.10g}, lower_bound={self.lower_bound:.10g}, "
                f"relative_gap={self.relative_gap:.2e}, certified={self.certified}, exact={self.exact})")


@dataclass(frozen=True, eq=False)
class LayerCertificates:
    r"""Result of :func:`certify_layers`: one :class:`LayerCertificate` per hidden layer.

    Indexable and iterable like a tuple of its ``layers``.

    Attributes
    ----------
    layers : tuple of LayerCertificate
        ``layers[i]`` certifies ``TrainResult.hidden[i]``.
    objective : float
        :math:`J` of the whole network.
    gap_tol : float
    proves : str
        What "every layer certified" proves and does not prove, in words.
    """

    layers: tuple
    objective: float
    gap_tol: float
    proves: str

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def certified(self) -> bool:
        """Every layer certified: a blockwise optimum (not a proof of global optimality when
        depth > 1)."""
        return all(c.certified for c in self.layers)

    @property
    def exact(self) -> bool:
        """Every bound is a proof (exact pricing)."""
        return all(c.exact for c in self.layers)

    def rows(self) -> list[dict]:
        """One dict per layer (for a table): layer, problem, objective, bounds, gaps, verdicts."""
        return [{"layer": c.index + 1, "problem": c.problem, "objective": c.objective,
                 "lower bound": c.lower_bound, "upper bound": c.upper_bound,
                 "relative gap": c.relative_gap, "certified": c.certified, "exact": c.exact}
                for c in self.layers]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = ", ".join(f"{c.index + 1}: {c.relative_gap:.1e}{'' if c.certified else ' (not certified)'}"
                          for c in self.layers)
        return f"LayerCertificates(J={self.objective:.10g}, relative gaps {{{inner}}}, certified={self.certified})"


_PROVES = ("Each layer is compared with every layer of any width under its own condition: the last "
           "hidden layer and readout given the layers below (the one-layer problem on the previous "
           "representation); an intermediate layer l given the layers below and the input it passes "
           "to layer l+1 (least weight norm). Every layer certified = no change of a single layer "
           "lowers J by more than its gap (a blockwise optimum). It is NOT a proof that the network "
           "is a global minimum of the deep objective: no lower bound on J over all deep networks "
           "follows from these.")


def _check_supported(act, parametrization, depth) -> str:
    if parametrization not in ("standard", "mean_field"):
        raise ValueError(f"unknown parametrization {parametrization!r}; choose 'standard' or 'mean_field'")
    if parametrization == "mean_field" and depth > 1:
        raise ValueError("per-layer certificates are defined for the standard parametrisation; the "
                         f"mean-field parametrisation has one hidden layer only (got {depth} layers)")
    a = get_activation(act)
    if not a.piecewise_linear:
        raise ValueError(f"certify_layers needs a piecewise-linear activation through 0 (relu, leaky_relu, "
                         f"abs, linear, or one registered with slopes): the exact per-layer problems rest "
                         f"on balancing each unit; got {a.name!r}. For a one-layer network with a bounded "
                         "activation use meanfield.certify (mean field)")
    return a


def _slope(U: np.ndarray, slopes: tuple[float, float]) -> np.ndarray:
    """phi'(U) of a two-slope activation (a_+ where U > 0, a_- where U < 0; at 0 the kink's
    lower slope when the slopes differ, so relu'(0) = 0)."""
    lo, hi = slopes
    return np.where(U > 0, hi, lo if lo != hi else hi)


def _layer_dual(X, W, A, Y, reg, name, bias, l):
    r""":math:`Z_0 = -\partial\ell/\partial U_{l+1}/(2\lambda)` by backpropagation (relu'(0) = 0).

    ``name`` is a two-slope activation (name or :class:`~abstractnb.activations.Activation`)."""
    act = get_activation(name)
    phi = act.numpy
    H, U = [X], []
    for w in W:
        U.append(_obj.augment(H[-1], bias) @ w.T)
        H.append(phi(U[-1]))
    P = X.shape[0]
    G = (2.0 / P) * (H[-1] @ A - Y) @ A.T       # d ell / d H_L
    for k in range(len(W) - 1, l, -1):          # layers L .. l+2 (0-based k = L-1 .. l+1)
        G = G * _slope(U[k], act.slopes)            # d ell / d U_k
        if k == l + 1:
            break
        G = G @ W[k][:, :W[k].shape[1] - int(bias)]  # d ell / d H_{k-1}
    return -G / (2.0 * reg), H


def _features(L, V, name):
    phi = get_activation(name).numpy
    return phi(L @ V.T)  # (P, n)


def _refine_min_norm(L, arr, cand, T, name, rounds, seed, deadline=None):
    """Column generation for min 2 sum ||b_j|| s.t. sum_j h_j b_j^T = T over unit directions.

    Returns (best dual point with its exact c, its c, master upper bound) or None."""
    import cvxpy as cp

    scale = float(np.linalg.norm(T))
    Tn = T / scale
    best = None
    upper = np.inf
    for _ in range(rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        Hc = _features(L, cand, name)
        keep = np.linalg.norm(Hc, axis=0) > 0
        cand, Hc = cand[keep], Hc[:, keep]
        B = cp.Variable((Hc.shape[1], Tn.shape[1]))
        con = Hc @ B == Tn
        prob = cp.Problem(cp.Minimize(cp.sum(cp.norm(B, 2, axis=1))), [con])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an inaccurate dual point still gives a valid bound
                prob.solve(solver="CLARABEL")
        except cp.error.SolverError:
            break
        if prob.status not in ("optimal", "optimal_inaccurate") or con.dual_value is None:
            break
        Bv = np.asarray(B.value, dtype=float)
        if np.linalg.norm(Hc @ Bv - Tn) <= FEASIBLE_TOL:  # an upper bound only from a feasible layer
            upper = min(upper, 2.0 * float(np.sum(np.linalg.norm(Bv, axis=1))) * scale)
        Z = np.asarray(con.dual_value, dtype=float)
        # The master constrains Z only through Hc^T Z: its component outside the span of the
        # candidates' features is arbitrary (the solver's choice) and only inflates c(Z). The
        # projection onto that span is an equally optimal dual point of the master; price both.
        Q, sv, _ = np.linalg.svd(Hc, full_matrices=False)
        Q = Q[:, sv > 1e-12 * sv[0]]
        pr = None
        for Zc in (Q @ (Q.T @ Z), Z):
            p_c = price(arr, Zc, threshold=1.0 + REFINE_FEAS)
            if p_c.value <= 0:
                continue
            if pr is None or p_c.value < pr.value:
                Z, pr = Zc, p_c
        if pr is None:
            break
        if best is None or abs(np.sum(Z * T)) / pr.value > abs(np.sum(best[0] * T)) / best[1]:
            best = (Z, pr.value)
        if pr.value <= 1.0 + REFINE_FEAS or pr.directions.shape[0] == 0:
            break
        cand = np.vstack([cand, pr.directions])
    return best, upper


def _min_norm_certificate(H_in, W_l, W_next, Z0, T, name, bias, gap_tol, max_faces, refine, seed, index,
                          deadline=None):
    red = reduce_inputs(H_in, bias)
    L, V = red.L, red.V
    cost = float(np.sum(W_l ** 2) + np.sum(W_next ** 2))
    cond = (f"layers 1..{index} and the input of layer {index + 2} "
            f"(T = H_{index + 1} W'_{index + 2}^T) fixed" if index else
            f"the input of layer {index + 2} (T = H_1 W'_2^T) fixed")
    common = dict(index=index, problem="min-norm", conditional_on=cond, objective=cost)
    if not np.any(T):
        # T = 0 is produced by the empty layer: R(0) = 0, and the network's cost is its distance to it.
        return LayerCertificate(**common, lower_bound=0.0, upper_bound=0.0, gap=cost,
                                certified=_certified(True, cost, 0.0, gap_tol), exact=True,
                                max_dual_constraint=0.0, dual=np.zeros_like(T),
                                note="the layer passes nothing to the next layer: its optimum is empty")
    r = L.shape[1]
    arr = (enumerate_faces(L, max_faces=max_faces, slopes=get_activation(name).slopes, deadline=deadline)
           if r else None)
    if arr is None:
        msg = ("NOT exact: the faces of the layer's input arrangement could not be enumerated (too many, "
               "inputs too close to degenerate, or the time limit ran out); no bound is reported")
        warnings.warn(f"certify_layers: layer {index + 1}: {msg}", RuntimeWarning, stacklevel=4)
        return LayerCertificate(**common, lower_bound=-np.inf, upper_bound=cost, gap=np.inf, certified=False,
                                exact=False, max_dual_constraint=np.nan, dual=Z0, note=msg)
    bound, Zb, cb, upper, frm = 0.0, Z0, np.nan, cost, "network"
    if np.any(Z0):
        c0 = price(arr, Z0).value
        if c0 > 0:
            bound, cb = 2.0 * abs(float(np.sum(Z0 * T))) / c0, c0
    if arr.linear:
        # Linear units: R(T) = 2 ||C||_* with T = L C (nuclear norm), attained by Z = L^{+T} U V^T for
        # the SVD C = U S V^T; priced like any other dual point.
        C = np.linalg.lstsq(L, T, rcond=None)[0]
        Uc, _, Vct = np.linalg.svd(C, full_matrices=False)
        Zl = np.linalg.pinv(L).T @ (Uc @ Vct)
        cl = price(arr, Zl).value
        if cl > 0 and 2.0 * abs(float(np.sum(Zl * T))) / cl > bound:
            bound, Zb, cb, frm = 2.0 * abs(float(np.sum(Zl * T))) / cl, Zl, cl, "nuclear norm (linear units)"
    if refine and not arr.linear:
        U = W_l @ V
        nrm = np.linalg.norm(U, axis=1)
        cand = np.vstack([U[nrm > 0] / nrm[nrm > 0, None], arr.rays()])
        if cand.shape[0]:
            best, up = _refine_min_norm(L, arr, cand, T, name, LAYER_REFINE_ROUNDS, seed, deadline)
            upper = min(upper, up)
            if best is not None:
                b1 = 2.0 * abs(float(np.sum(best[0] * T))) / best[1]
                if b1 > bound:
                    bound, Zb, cb, frm = b1, best[0], best[1], "refined"
    Zb = Zb / cb if np.isfinite(cb) and cb > 0 else Zb
    return LayerCertificate(**common, lower_bound=float(bound), upper_bound=float(upper), gap=float(cost - bound),
                            certified=_certified(True, cost, bound, gap_tol), exact=True,
                            max_dual_constraint=float(cb), dual=Zb,
                            note=f"exact pricing: the lower bound is a proof (dual point: {frm})")


@_one_blas_thread
def certify_layers(result, X, Y, *, reg: float, activation="relu", bias: bool = True,
                   parametrization: str = "standard", gap_tol: float | None = None, max_faces: int = 300_000,
                   refine: bool = True, seed: int = 0, progress: bool = False,
                   time_limit: float | None = None) -> LayerCertificates:
    r"""The conditional certificate of every hidden layer of a trained network.

    Last hidden layer: :func:`abstractnb.meanfield.certify` (the one-layer problem on the
    previous representation, ``problem='penalized'``; for one hidden layer this is the global
    certificate). Intermediate layer :math:`l`: the least weight norm that produces the same
    input to layer :math:`l+1`, layers below frozen (``problem='min-norm'``); see the module
    docstring for why the layers above cannot be folded into targets, and for what the
    certificates do and do not prove (:attr:`LayerCertificates.proves`).

    Parameters
    ----------
    result : training.TrainResult, training.Network or (weights, readout)
        For a tuple, ``activation``, ``bias`` and ``parametrization`` are the keyword arguments;
        otherwise they are read from the network.
    X, Y, reg : the problem the network was trained on
    gap_tol : largest relative gap that counts as certified (default ``meanfield.GAP_TOL``)
    max_faces : largest arrangement enumerated per layer (above it: not exact)
    refine : also try the dual points of column generation from the network's own units
    seed, progress : passed to :func:`abstractnb.meanfield.certify` (last layer)
    time_limit : seconds per layer for the face enumeration and the refinement (None: no limit);
        when spent, the best bound so far is kept (a face enumeration cut short gives
        ``exact=False``)

    Returns
    -------
    LayerCertificates

    Raises
    ------
    ValueError
        For activations that are not positively homogeneous of degree 1 (tanh, relu2,
        callables), for the mean-field parametrisation with more than one layer, and for
        shapes that do not fit ``X`` and ``Y``.
    """
    W, A, act, bias, parametrization = _unpack(result, activation, bias, parametrization, "certify_layers")
    name = _check_supported(act, parametrization, len(W))
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y", rows=X.shape[0])
    reg = positive(reg, "reg")
    gap_tol = GAP_TOL if gap_tol is None else positive(gap_tol, "gap_tol")
    max_faces = positive_int(max_faces, "max_faces")
    refine = as_bool(refine, "refine")
    seed = as_seed(seed)
    time_limit = None if time_limit is None else positive(time_limit, "time_limit")
    fan_in = X.shape[1]
    for l, w in enumerate(W):
        if w.ndim != 2 or w.shape[1] != fan_in + int(bias):
            raise ValueError(f"weights[{l}] must have {fan_in + int(bias)} columns "
                             f"({'d' if l == 0 else f'the width of layer {l}'}"
                             f"{' + 1 for the bias' if bias else ''}); got {w.shape}")
        fan_in = w.shape[0]
    if A.shape != (W[-1].shape[0], Y.shape[1]):
        raise ValueError(f"readout must have shape ({W[-1].shape[0]}, {Y.shape[1]}); got {A.shape}")
    J = _obj.objective(X, Y, W, A, reg=reg, activation=name, bias=bias, parametrization=parametrization)
    out = []
    for l in range(len(W) - 1):
        Z0, H = _layer_dual(X, W, A, Y, reg, name, bias, l)
        W_next = W[l + 1][:, :W[l + 1].shape[1] - int(bias)]
        T = H[l + 1] @ W_next.T
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        out.append(_min_norm_certificate(H[l], W[l], W_next, Z0, T, name, bias, gap_tol, max_faces, refine,
                                         seed, l, deadline))
    cert = certify((W, A), X, Y, reg=reg, activation=name, bias=bias, parametrization=parametrization,
                   gap_tol=gap_tol, max_faces=max_faces, refine=refine, seed=seed, progress=progress,
                   time_limit=time_limit)
    last = len(W) - 1
    cond = "nothing (one hidden layer: the global problem)" if last == 0 else f"layers 1..{last} fixed"
    out.append(LayerCertificate(index=last, problem="penalized", conditional_on=cond, objective=cert.objective,
                                lower_bound=cert.lower_bound, upper_bound=cert.upper_bound, gap=cert.gap,
                                certified=cert.certified, exact=cert.exact,
                                max_dual_constraint=cert.max_dual_constraint,
                                dual=cert.dual if cert.refined_dual is None or cert.bound_from == "network"
                                else cert.refined_dual,
                                certificate=cert, note=cert.note))
    return LayerCertificates(layers=tuple(out), objective=float(J), gap_tol=gap_tol, proves=_PROVES)


def resolve_last_layer(result, X, Y, *, reg: float, width: int | None = None, activation="relu",
                       bias: bool = True, time_limit: float | None = None, progress: bool = False):
    r"""Replace the last hidden layer and readout by a certified optimum given the layers below.

    Solves the one-layer problem on the previous representation :math:`H_{L-1}` with
    :func:`abstractnb.meanfield.solve` (one exact block of block-coordinate descent). When the
    solution is certified (``solution.certified``) the objective can only go down, up to
    ``GAP_TOL``: the new last layer is within that factor of the best last layer of any width,
    and the network's own last layer is one of them. When it is not (pricing not exact, e.g. on
    inputs too close to degenerate), nothing is guaranteed, and a ``RuntimeWarning`` says so if
    the objective went up.

    Parameters
    ----------
    result : training.TrainResult, training.Network or (weights, readout), depth >= 1
    X, Y, reg : the problem
    width : width of the new last layer (default: the old one, or the number of atoms if larger)
    activation, bias : for a (weights, readout) tuple

    Returns
    -------
    (network, solution) : a :class:`abstractnb.training.Network` and the
        :class:`abstractnb.meanfield.Solution` of the last layer's problem
    """
    from ..training import Network

    W, A, act, bias, parametrization = _unpack(result, activation, bias, "standard", "resolve_last_layer")
    name = _check_supported(act, parametrization, len(W))
    if parametrization != "standard":
        raise ValueError("resolve_last_layer works in the standard parametrisation; got 'mean_field'")
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y", rows=X.shape[0])
    reg = positive(reg, "reg")
    _, H = _obj.forward(X, W, A, activation=name, bias=bias)
    H_in = X if len(W) == 1 else H[-2]
    sol = solve(H_in, Y, reg=reg, activation=name, bias=bias, progress=progress, time_limit=time_limit)
    N = W[-1].shape[0] if width is None else positive_int(width, "width")
    N = max(N, sol.n_atoms, 1) if width is None else N
    (W_new,), A_new = sol.network_params(N)
    net = Network(list(W[:-1]) + [W_new], A_new, activation=name, bias=bias)
    J_old = _obj.objective(X, Y, W, A, reg=reg, activation=name, bias=bias)
    J_new = net.objective(X, Y, reg=reg)
    if not sol.certified and J_new > J_old:
        warnings.warn(f"resolve_last_layer: the last layer's solution is not certified ({sol.note}) and "
                      f"the objective went up from {J_old:.10g} to {J_new:.10g}", RuntimeWarning,
                      stacklevel=2)
    return net, sol
