r"""The convex mean-field problem: global minima of one-hidden-layer networks, with a certificate.

Setting (as in :mod:`abstractnb.objective`): :math:`P` conditions, inputs
:math:`X\in\mathbb{R}^{P\times d}` (with a constant column appended when ``bias``:
:math:`\tilde X`), targets :math:`Y\in\mathbb{R}^{P\times K}`, weight decay :math:`\lambda`
(``reg``), :math:`\gamma = P\lambda`. Write :math:`\tilde X = LV^\top` (thin SVD, see
:func:`abstractnb.preactivations.reduce_inputs`): a unit with input weight :math:`w = \|w\|\,Vv`,
:math:`|v| = 1`, has preactivations :math:`\|w\|\,Lv`.

The solver for a problem is chosen from its activation's properties
(:mod:`abstractnb.activations`), never from its name; one module per idea: ``problem`` (one
validated value, internal units), ``homogeneous`` (exact), ``bounded`` (mean field),
``results``, ``certificate``, ``optimal_set``, ``duality`` and ``conic``; this ``__init__``
only re-exports.

**Piecewise-linear activations (ReLU, leaky ReLU, |z|, linear), any parametrisation — exact.** Balancing each unit
(:math:`\|w_j\| = \|a_j\|`) turns :math:`J` into a group lasso over the dictionary of
unit-norm features :math:`h(v) = \phi(Lv)`, with masses :math:`m_j = \|w_j\|^2` and output
vectors :math:`b_j = \|w_j\|a_j`:

.. math::

    J = \tfrac1P\Big\|\sum_j h_j b_j^\top - Y\Big\|_F^2 + 2\lambda\sum_j\|b_j\|
      = \lambda\operatorname{tr}\big(Y^\top(\Sigma + \gamma I)^{-1}Y\big) + \lambda\sum_j m_j,
    \qquad \Sigma = \sum_j m_j h_j h_j^\top ,

convex in the measure :math:`m`. For every :math:`Z\in\mathbb{R}^{P\times K}` with
:math:`c(Z) = \max_{|v|=1}\|Z^\top\phi(Lv)\| \le 1`,

.. math:: J(\text{any network}) \ \ge\ D(Z) = \lambda\big(2\operatorname{tr}(Z^\top Y) - \gamma\|Z\|_F^2\big),

and any :math:`Z_0` becomes feasible after rescaling, :math:`Z = tZ_0`,
:math:`t = \min\{1/c(Z_0),\ \operatorname{tr}(Z_0^\top Y)/(\gamma\|Z_0\|^2)\}`. At the optimum
:math:`Z^* = (Y - F^*)/\gamma = (\Sigma^* + \gamma I)^{-1}Y` the gap :math:`J - D` is zero.
:math:`c(Z)` is computed *exactly* by enumerating the faces of the hyperplane arrangement of
the conditions (:mod:`abstractnb.arrangement`), or only those of one cone when negative
preactivations never help (:func:`abstractnb.arrangement.single_cone`, whitened inputs), or
those a symmetry of the problem leaves (:mod:`abstractnb.symmetry`), so a small gap is a
proof of global optimality. The solver is column generation: a group-lasso master problem (cvxpy, Clarabel)
over candidate atoms, its masses refined by Newton's method on the kernel form (an interior
point gives :math:`Z` only to the square root of its accuracy), priced exactly, until
:math:`c(Z) \le 1 + \text{tol}` or the gap is below ``tol``. The mean-field parametrisation
with ReLU is the same problem (rescale :math:`w, a` by :math:`\sqrt N`).

:math:`F^*` and :math:`Z^*` are unique, the optimal kernel need not be: the global minima are
the measures on the dual-active atoms with :math:`\Sigma Z^* = F^*`, and
:func:`optimal_set_range` gives the range of any linear functional of :math:`\Sigma` over them.

**Bounded activations (tanh, erf, a centred sigmoid), mean-field parametrisation (N → ∞).** Over probability measures :math:`\pi` on
:math:`v` (here :math:`v` is not normalised):

.. math::

    J_{MF}(\pi) = \lambda\operatorname{tr}\big(Y^\top(K_\pi + \gamma I)^{-1}Y\big) + \lambda\,\mathbb{E}_\pi|v|^2,
    \qquad K_\pi = \mathbb{E}_\pi\big[\phi(Lv)\phi(Lv)^\top\big],

with the bound :math:`J_{MF}(\pi) \ge \lambda\big[2\operatorname{tr}(Z^\top Y) - \gamma\|Z\|^2 + \min_v V(v)\big]`,
:math:`V(v) = |v|^2 - \|Z^\top\phi(Lv)\|^2`, for every :math:`Z` (and every finite mean-field
network, a measure with atoms of mass :math:`1/N`). :math:`\min_v V` is a nonconvex
minimum: where the reduced input rank is at most 4 and the activation records its slope and
curvature bounds, branch and bound gives a certified lower bound on it
(:mod:`abstractnb.meanfield.energy`) and the result can be certified; above that rank it
comes from a multistart search and is not.
"""
from .certificate import REFINE_TOL, certify
from .conic import SolverFailed
from .duality import dual_value
from .homogeneous import SOLVE_TOL
from .layers import LayerCertificate, LayerCertificates, certify_layers, resolve_last_layer
from .optimal_set import optimal_set_range
from .problem import Problem, make_problem
from .results import GAP_TOL, Certificate, OptimalRange, Solution, relative_gap
from .solver import solve

__all__ = ["Solution", "Certificate", "OptimalRange", "SolverFailed", "Problem", "solve", "certify",
           "certify_layers", "resolve_last_layer", "LayerCertificate", "LayerCertificates",
           "optimal_set_range", "dual_value", "relative_gap", "make_problem", "GAP_TOL", "SOLVE_TOL",
           "REFINE_TOL"]
