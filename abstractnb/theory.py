r"""Closed forms derived in the book (Chapter 5), checked against the convex solver in the tests.

Setting: :math:`D` binary latents, :math:`P = 2^D` conditions (rows of :math:`S`), ReLU
units, standard parametrisation, weight decay :math:`\lambda` on every weight, no output
bias. Two families of inputs are covered by the proofs of Chapter 5, recognised from the
Gram matrix :math:`XX^\top` (so any rotation or isometric embedding of them too):

* *aligned*, :math:`XX^\top = a^2SS^\top` (:math:`x = a\,s`; ``inputs.aligned`` has :math:`a = 1`);
* *whitened*, :math:`XX^\top = \sigma^2 I_P` (``inputs.whitened`` has :math:`\sigma^2 = D`).

The modular solution
--------------------
With a bias, the :math:`2D` *modular* units are the unit-cost units whose activity is
:math:`h_k^\pm = c\,(\mathbf 1 \pm s_k)` (active on the conditions where latent :math:`k`
takes one value). The *modular scale* :math:`c` is the largest such amplitude one unit of
squared weight buys (:func:`modular_scale`; the preactivation may be negative where the
unit is silent). For targets :math:`Y = S\operatorname{diag}(\alpha)`, giving both units
of latent :math:`k` the mass :math:`m_k = b_k/(2c^2)` yields the kernel

.. math:: \Sigma^* = \sum_k b_k\,(\mathbf 1\mathbf 1^\top + s_ks_k^\top), \qquad
    b_k = \big(c\,|\alpha_k| - \lambda\big)_+,

the dual point :math:`Z^* = (\Sigma^* + P\lambda I)^{-1}Y = S\operatorname{diag}(\zeta)`,
:math:`\zeta_k = \alpha_k/(P(b_k + \lambda))`, and

.. math:: J^* = \sum_{k:\, c|\alpha_k| > \lambda}\Big(\frac{2\lambda|\alpha_k|}{c} - \frac{\lambda^2}{c^2}\Big)
    + \sum_{k:\, c|\alpha_k| \le \lambda}\alpha_k^2 .

For :math:`\alpha = \mathbf 1` (targets the latents) this is
:math:`\Sigma^* = b\,(D\mathbf 1\mathbf 1^\top + SS^\top)` with :math:`b = c - \lambda` and
:math:`J^* = 2D\lambda\sqrt{2/\beta} - 2D\lambda^2/\beta`, :math:`\beta = 2c^2`. Chapter 5
proves it is the unique global optimum for aligned and whitened inputs: for every
:math:`r \ge 0`, :math:`\|S^\top r\|^2 \le \tfrac P2\|r\|^2` (pairing each condition with
its opposite), which gives :math:`\max_{|w|=1}\|Z^{*\top}\mathrm{relu}(\tilde Xw)\| = P c
\max_k|\zeta_k|` (:func:`latent_dual_bounds`).

Without a bias
--------------
The pairing identity :math:`S^\top\mathrm{relu}(Su) = \tfrac P2 u` makes every direction
equally useful; :func:`no_bias_optimum` builds the rotation-invariant family of optima
(units :math:`\pm q_k` for any orthonormal :math:`q_1,\dots,q_D`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_latents, as_matrix, positive
from .preactivations import min_norm_weights

# Gram matrices that agree with a*SS^T or sigma^2*I to this relative tolerance are recognised.
GEOMETRY_RTOL = 1e-10


@dataclass(frozen=True)
class LatentGeometry:
    """What the Gram matrix of the inputs is, relative to the latents.

    kind : 'aligned' (XX^T = scale^2 SS^T), 'whitened' (XX^T = scale^2 I) or 'other'
    scale : a or sigma (nan for 'other')
    """

    kind: str
    scale: float


def latent_geometry(X, S) -> LatentGeometry:
    r"""Classify inputs as aligned (:math:`XX^\top = a^2SS^\top`), whitened (:math:`XX^\top = \sigma^2I`)
    or other. Only the Gram matrix matters: the objective is invariant under
    :math:`X \mapsto XR` with :math:`R^\top R = I`."""
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    P, D = S.shape
    G = X @ X.T
    scale = max(float(np.abs(G).max()), 1e-300)
    K = S @ S.T
    a2 = float(np.sum(G * K) / np.sum(K * K))
    if a2 > 0 and np.abs(G - a2 * K).max() <= GEOMETRY_RTOL * scale:
        return LatentGeometry("aligned", float(np.sqrt(a2)))
    s2 = float(np.trace(G)) / P
    if s2 > 0 and np.abs(G - s2 * np.eye(P)).max() <= GEOMETRY_RTOL * scale:
        return LatentGeometry("whitened", float(np.sqrt(s2)))
    return LatentGeometry("other", float("nan"))


def modular_scale_closed_form(geometry: LatentGeometry, n_conditions: int) -> float:
    r"""The modular scale :math:`c` for aligned and whitened inputs (Chapter 5).

    Aligned, :math:`x = a\,s`: :math:`c = a/\sqrt{1+a^2}` for :math:`a \le 1` (the unit
    :math:`\mathrm{relu}(a\,s_k + 1)` scaled to unit cost) and :math:`c = \sqrt{1+a^2}/2`
    for :math:`a \ge 1` (weights :math:`(a e_k, 1)/\sqrt{1+a^2}`, negative where silent).
    Whitened, :math:`XX^\top = \sigma^2 I`: :math:`c^2 = \sigma^2(\sigma^2+P)/(P(2\sigma^2+P))`.
    """
    P = n_conditions
    if geometry.kind == "aligned":
        a = geometry.scale
        return float(a / np.sqrt(1 + a * a) if a <= 1 else np.sqrt(1 + a * a) / 2)
    if geometry.kind == "whitened":
        s2 = geometry.scale ** 2
        return float(np.sqrt(s2 * (s2 + P) / (P * (2 * s2 + P))))
    raise ValueError(f"no closed-form modular scale for {geometry.kind!r} inputs "
                     "(only aligned XX^T = a^2 SS^T or whitened XX^T = sigma^2 I)")


def _unit_cost_modular(Xt: np.ndarray, on: np.ndarray) -> tuple[float, np.ndarray]:
    r"""min |w|^2 s.t. (X~w)_mu = 1 where ``on``, (X~w)_mu <= 0 elsewhere.

    Returns (amplitude c = 1/(2 sqrt(min)): unit-cost activity c(1 + 1) = 2c where on, unit-norm weight). A small convex QP: solved with
    cvxpy, then made exact by re-solving the equality-constrained least-norm problem on the
    active set and checking feasibility and the signs of the multipliers.
    """
    import cvxpy as cp

    A, B = Xt[on], Xt[~on]
    w = cp.Variable(Xt.shape[1])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), [A @ w == 1, B @ w <= 0])
    prob.solve(solver="CLARABEL")
    if w.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        raise ValueError("this modular unit cannot be produced from these inputs "
                         f"(no weight is active exactly on its conditions; status {prob.status})")
    w0 = np.asarray(w.value, float)
    scale = np.linalg.norm(Xt, axis=1).max() * max(np.linalg.norm(w0), 1e-300)
    act = B @ w0 > -1e-7 * scale
    E = np.vstack([A, B[act]])
    rhs = np.concatenate([np.ones(A.shape[0]), np.zeros(int(act.sum()))])
    w1 = np.linalg.pinv(E) @ rhs
    # KKT of the exact point: w1 = E^T nu with multipliers of the inequalities <= 0 (i.e. pushing out).
    nu, *_ = np.linalg.lstsq(E.T, w1, rcond=None)
    ok = (np.abs(E @ w1 - rhs).max() <= 1e-9 and (B @ w1).max(initial=-1.0) <= 1e-9 * scale
          and (nu[A.shape[0]:] <= 1e-9 * max(np.abs(nu).max(), 1.0)).all())
    if not ok:  # fall back to the conic solution (accurate to the solver's tolerance)
        w1 = w0
    n2 = float(w1 @ w1)
    return 0.5 / np.sqrt(n2), w1 / np.sqrt(n2)


def modular_scale(X, S) -> tuple[np.ndarray, np.ndarray]:
    r"""Amplitude and unit-norm weights of the :math:`2D` best modular units.

    For each latent :math:`k` and sign, the largest :math:`c` with
    :math:`\mathrm{relu}(\tilde Xw) = c\,(\mathbf 1 \pm s_k)` and :math:`\|w\| = 1`.

    Returns
    -------
    amplitudes : (2D,) array, order :math:`+s_1, \dots, +s_D, -s_1, \dots, -s_D`
    weights : (2D, d + 1) array of unit-norm weights (bias last)
    """
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    Xt = np.c_[X, np.ones(X.shape[0])]
    amps, ws = [], []
    for sign in (1.0, -1.0):
        for k in range(S.shape[1]):
            c, w = _unit_cost_modular(Xt, sign * S[:, k] > 0)
            amps.append(c)
            ws.append(w)
    return np.array(amps), np.array(ws)


class _Network:
    """Closed forms carry their network as ``weights, readout``; ``params`` gives it in the
    form of ``TrainResult.params`` and ``Solution.params`` (e.g. for ``meanfield.certify``)."""

    @property
    def params(self) -> tuple[list, np.ndarray]:
        return self.weights, self.readout


@dataclass(frozen=True)
class ModularOptimum(_Network):
    """The modular closed-form solution (see module docstring).

    Attributes
    ----------
    objective : float            J* of the closed form
    scale : float                c, the activity of a unit-cost modular unit where it is on
    beta : float                 2 c^2
    mass : float                 m*, the mass (squared weight norm) of every atom when all
                                 latent weights abs(alpha_k) are equal; nan otherwise (see masses)
    masses : (2D,) array         mass of each atom (order of ``atoms``)
    coefficients : (D,) array    b_k: Sigma* = sum_k b_k (11^T + s_k s_k^T)
    atoms : (2D, P) array        preactivations of the unit-cost modular units, +s_k then -s_k
    kernel : (P, P) array        Sigma*
    dual : (P, D) array          Z* = (Sigma* + P reg I)^{-1} Y
    targets : (P, D) array       Y = S diag(alpha)
    threshold : float            reg above which latent k is dropped is c abs(alpha_k); this is
                                 c max|alpha| (the zero network is optimal above it)
    geometry : LatentGeometry    aligned / whitened / other (optimality is proved only for
                                 the first two; for 'other' it is the best *modular* network)
    weights, readout : arrays    a network of width 2D realising it (standard parametrisation)
    """

    objective: float
    scale: float
    beta: float
    mass: float
    masses: np.ndarray
    coefficients: np.ndarray
    atoms: np.ndarray
    kernel: np.ndarray
    dual: np.ndarray
    targets: np.ndarray
    threshold: float
    geometry: LatentGeometry
    weights: list
    readout: np.ndarray


def modular_optimum(X, S, reg: float, *, alpha=None, rtol: float = 1e-9) -> ModularOptimum:
    r"""Closed-form optimum of the task :math:`Y = S\operatorname{diag}(\alpha)` with ReLU and a bias.

    Valid when every modular unit has the same scale :math:`c` (aligned and whitened
    inputs do, at any scale); raises ``ValueError`` otherwise. Proved optimal (Chapter 5)
    for aligned and whitened inputs; for other inputs it is the best network made of
    modular units, which need not be a global minimum.

    Parameters
    ----------
    X : (P, d) inputs; S : (P, D) latents (+-1); reg : lambda > 0
    alpha : (D,) weights of the latents in the targets (default all 1: Y = S)
    """
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    reg = positive(reg, "reg")
    P, D = S.shape
    alpha = np.ones(D) if alpha is None else np.asarray(alpha, dtype=float).reshape(-1)
    if alpha.shape != (D,) or not np.all(np.isfinite(alpha)):
        raise ValueError(f"alpha must be {D} finite numbers (one weight per latent); got {alpha!r}")
    geo = latent_geometry(X, S)
    if geo.kind == "other":
        amps, unit_w = modular_scale(X, S)
        if np.ptp(amps) > rtol * amps.max():
            raise ValueError(f"the modular closed form needs every modular unit to cost the same; their "
                             f"unit-cost amplitudes range over [{amps.min():.6g}, {amps.max():.6g}]")
        c = float(amps.mean())
    else:
        c = modular_scale_closed_form(geo, P)
        unit_w = _closed_form_weights(X, S, geo, c)
    Xt = np.c_[X, np.ones(P)]
    atoms = unit_w @ Xt.T                                   # (2D, P) unit-cost preactivations
    b = np.maximum(c * np.abs(alpha) - reg, 0.0)
    m_lat = b / (2 * c * c)
    masses = np.concatenate([m_lat, m_lat])
    kernel = float(b.sum()) * np.ones((P, P)) + (S * b) @ S.T
    Y = S * alpha
    zeta = alpha / (P * (b + reg))
    dual = S * zeta
    on = b > 0
    J = float(np.sum(2 * reg * np.abs(alpha[on]) / c - reg ** 2 / c ** 2) + np.sum(alpha[~on] ** 2))
    weights = [np.sqrt(masses)[:, None] * unit_w]
    readout = np.sqrt(masses)[:, None] * (np.maximum(atoms, 0) @ dual)
    equal = np.ptp(np.abs(alpha)) == 0
    return ModularOptimum(objective=J, scale=c, beta=2 * c * c, mass=float(m_lat[0]) if equal else float("nan"),
                          masses=masses, coefficients=b, atoms=atoms, kernel=kernel, dual=dual, targets=Y,
                          threshold=float(c * np.abs(alpha).max()), geometry=geo, weights=weights,
                          readout=readout)


def _closed_form_weights(X, S, geo: LatentGeometry, c: float) -> np.ndarray:
    r"""Unit-norm weights of the 2D modular units for aligned / whitened inputs.

    Activity :math:`c(\mathbf 1 \pm s_k)`; the preactivation is :math:`c(1 \pm s_k)` except for
    aligned inputs with :math:`a > 1`, where it is :math:`(1 \pm a^2 s_k)/\sqrt{1+a^2}`.
    """
    P, D = S.shape
    shapes = np.concatenate([1 + S.T, 1 - S.T])              # (2D, P)
    if geo.kind == "aligned" and geo.scale > 1:
        a = geo.scale
        signs = np.concatenate([np.ones(D), -np.ones(D)])[:, None]
        z = (1 + signs * a * a * np.vstack([S.T, S.T])) / np.sqrt(1 + a * a)
    else:
        z = c * shapes
    W = min_norm_weights(X, z, bias=True)
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def latent_dual_bounds(X, S, M, *, bias: bool = True) -> tuple[float, float]:
    r"""Bounds on the dual constraint :math:`c(Z) = \max_{|w|=1}\|Z^\top\mathrm{relu}(\tilde Xw)\|`
    for a dual point of the form :math:`Z = SM` (:math:`M \in \mathbb R^{D\times K}`).

    For aligned and whitened inputs with a bias (Chapter 5, pairing lemma):

    .. math:: P c\,\max_k\|M_{k,:}\| \;\le\; c(SM) \;\le\; P c\,\|M\|_2 ,

    the lower bound attained by a modular unit, :math:`c` the modular scale. The two are
    equal when :math:`M` is diagonal (more generally when a top right singular vector of
    :math:`M^\top` is a coordinate axis), which is the case for the dual point of
    :math:`Y = S\operatorname{diag}(\alpha)`. Without a bias, for aligned inputs
    :math:`c(SM) = \tfrac P2 a\|M\|_2` exactly, for whitened inputs
    :math:`c(SM) = \sigma\sqrt{P/2}\,\|M\|_2` exactly.

    Returns (lower, upper).
    """
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    P, D = S.shape
    M = as_matrix(M, "M", rows=D)
    geo = latent_geometry(X, S)
    if geo.kind == "other":
        raise ValueError("latent_dual_bounds is proved only for aligned (XX^T = a^2 SS^T) or whitened "
                         "(XX^T = sigma^2 I) inputs; use arrangement.price for other inputs")
    top = float(np.linalg.norm(M, 2))
    if not bias:
        kappa = geo.scale * (P / 2 if geo.kind == "aligned" else np.sqrt(P / 2))
        return kappa * top, kappa * top
    c = modular_scale_closed_form(geo, P)
    return P * c * float(np.linalg.norm(M, axis=1).max()), P * c * top


@dataclass(frozen=True)
class NoBiasOptimum(_Network):
    r"""A global minimum without a bias from the rotation-invariant family (Chapter 5).

    Attributes
    ----------
    objective : float            J* (the same for every rotation)
    scale : float                kappa: unit-cost features are kappa relu(+-S q)
    mass : float                 mass of each of the 2D units (same for every rotation)
    kernel : (P, P) array        kernel of this member of the family
    dual : (P, D) array          Z* = 2 S / (P kappa) (the same for every member)
    output : (P, D) array        F* = (1 - 2 reg / kappa) S
    weights, readout : arrays    the network of width 2D (units +-q_k), standard parametrisation
    """

    objective: float
    scale: float
    mass: float
    kernel: np.ndarray
    dual: np.ndarray
    output: np.ndarray
    weights: list
    readout: np.ndarray


def no_bias_optimum(X, S, reg: float, rotation=None) -> NoBiasOptimum:
    r"""The global minimum without a bias whose units are :math:`\pm q_k`, :math:`Q = [q_1\dots q_D]` orthogonal.

    Aligned inputs :math:`x = a\,s`: unit :math:`\pm q_k` has activity :math:`a\,\mathrm{relu}(\pm Sq_k)`.
    Whitened inputs: the unit whose *preactivation* is :math:`\kappa\,\mathrm{relu}(\pm Sq_k)`,
    :math:`\kappa = \sigma\sqrt{2/P}` (unit cost). Each of the :math:`2D` units gets the mass
    :math:`m = (\kappa - 2\lambda)/\kappa^2` (zero network for :math:`\lambda \ge \kappa/2`) and
    :math:`J^* = 4D\lambda/\kappa - 4D\lambda^2/\kappa^2`, for every rotation :math:`Q`.

    Parameters
    ----------
    X : aligned or whitened inputs (P, d); S : latents; reg : lambda
    rotation : (D, D) orthogonal matrix Q (default identity)
    """
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    reg = positive(reg, "reg")
    P, D = S.shape
    Q = np.eye(D) if rotation is None else as_matrix(rotation, "rotation", rows=D, cols=D)
    if np.abs(Q.T @ Q - np.eye(D)).max() > 1e-9:
        raise ValueError("rotation must be an orthogonal D x D matrix")
    geo = latent_geometry(X, S)
    U = np.vstack([Q.T, -Q.T])                               # (2D, D) unit directions
    if geo.kind == "aligned":
        kappa = geo.scale
        z = geo.scale * U @ S.T                              # preactivations a S u
    elif geo.kind == "whitened":
        kappa = geo.scale * np.sqrt(2 / P)
        z = kappa * np.maximum(U @ S.T, 0)
    else:
        raise ValueError("no_bias_optimum needs aligned (XX^T = a^2 SS^T) or whitened (XX^T = sigma^2 I) inputs")
    unit_w = min_norm_weights(X, z, bias=False)              # (2D, d), unit norm
    e = kappa ** 2 / 2
    if reg < kappa / 2:
        m = (np.sqrt(e / 2) - reg) / e
        J = 4 * D * reg / kappa - 4 * D * reg ** 2 / kappa ** 2
    else:
        m, J = 0.0, float(D)
    H = np.maximum(z, 0).T                                   # (P, 2D) unit-cost features
    kernel = m * H @ H.T
    dual = np.linalg.solve(kernel + P * reg * np.eye(P), S)
    weights = [np.sqrt(m) * unit_w]
    readout = np.sqrt(m) * (H.T @ dual)
    return NoBiasOptimum(objective=float(J), scale=float(kappa), mass=float(m), kernel=kernel, dual=dual,
                         output=kernel @ dual, weights=weights, readout=readout)


def modular_dual_constraint(X, S, reg: float, *, alpha=None) -> float:
    r"""The closed-form :math:`c(Z^*)` of the modular optimum (aligned / whitened inputs):
    :math:`P c \max_k|\zeta_k|`, which is 1 below the threshold and :math:`c\max|\alpha|/\lambda`
    above it (the zero network). :math:`\le 1` is the dual feasibility that proves optimality."""
    mo = modular_optimum(X, S, reg, alpha=alpha)
    if mo.geometry.kind == "other":
        raise ValueError("the closed-form dual constraint is proved only for aligned or whitened inputs")
    zeta = mo.dual[0] * as_latents(S)[0]                     # Z* = S diag(zeta)
    return latent_dual_bounds(X, S, np.diag(zeta))[0]


__all__ = ["LatentGeometry", "latent_geometry", "modular_scale", "modular_scale_closed_form", "ModularOptimum",
           "modular_optimum", "latent_dual_bounds", "NoBiasOptimum", "no_bias_optimum",
           "modular_dual_constraint"]
