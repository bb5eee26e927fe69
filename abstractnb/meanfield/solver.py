"""The public dispatcher: one problem in, the solver of its family out."""
from __future__ import annotations

from .._validate import as_seed, positive, positive_int
from .bounded import _solve_bounded
from .homogeneous import SOLVE_TOL, _solve_homogeneous
from .problem import BOUNDED, _check_progress, _deadline, _one_blas_thread, make_problem
from .results import Solution


@_one_blas_thread
def solve(X, Y, *, reg: float, activation="relu", bias: bool = True, parametrization: str = "standard",
          tol: float = SOLVE_TOL, progress: bool | None = None, max_iter: int = 100, max_faces: int = 300_000,
          solver: str = "CLARABEL", solver_options: dict | None = None, seed: int = 0,
          time_limit: float | None = None) -> Solution:
    r"""Global minimum of the one-hidden-layer objective, with a duality-gap certificate.

    Parameters
    ----------
    X : (P, d) inputs
    Y : (P, K) targets
    reg : weight decay :math:`\lambda > 0`
    activation : a name or an :class:`abstractnb.activations.Activation`. Piecewise linear
        through 0 (``relu``, ``leaky_relu``, ``abs``, ``linear``): exact, standard or mean-field
        parametrisation (same :math:`J^*`). Bounded (``tanh``, ``erf``, ``sigmoid_centred``):
        mean-field only, the :math:`N\to\infty` optimum. The family is read from the
        activation's properties; anything else is refused with the reason.
    bias : whether units have a bias (a weight on a constant input)
    parametrization : ``standard`` or ``mean_field``
    tol : stop when the relative duality gap of the column generation is below ``tol``, or
        the dual constraint :math:`c(Z) \le 1 + \text{tol}` (ReLU); the relative search gap
        (tanh)
    progress : a tqdm bar over column-generation rounds, shown once a call lasts 2 s: True
        always (a widget in a notebook), False never, None (default) only on a terminal, so
        that notebooks and logs keep the same output on every machine
    max_iter : most column-generation rounds (exact pricings)
    max_faces : most faces listed for exact pricing (of the arrangement, of one cone, or of a
        fundamental domain of a symmetry); above it the pricing is a search and the result is
        not certified (a warning says so)
    solver : cvxpy solver for the master problem (``CLARABEL``, falling back to ``SCS``)
    solver_options : extra keyword options for the solver
    seed : for the random starts of searches
    time_limit : seconds (None: no limit). When it is spent (in the face enumeration or the
        column generation) the best network and bound found so far are returned, with
        ``stop_reason="time_limit"``; the result is certified only if its gap already is.

    The problem is solved in internal units (inputs and targets scaled to unit size, the
    weight decay rescaled to match, see ``_Units``), so that the verdict does not depend on the
    units of X and Y; the result is in the caller's units.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        bad shapes or values, an activation/parametrisation without a convex formulation, or
        (:class:`SolverFailed`) a master problem the conic solver could not solve.
    TypeError
        complex or non-numeric arrays, a non-bool ``bias``, a seed that is not an integer.
    """
    deadline = _deadline(time_limit)
    pb = make_problem(X, Y, reg=reg, activation=activation, bias=bias, parametrization=parametrization,
                      solver=solver, solver_options=solver_options)
    progress = _check_progress(progress)
    tol = positive(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    max_faces = positive_int(max_faces, "max_faces")
    seed = as_seed(seed)
    if pb.family == BOUNDED:
        return _solve_bounded(pb, tol, progress, max_iter, seed, deadline)
    return _solve_homogeneous(pb, tol, progress, max_iter, max_faces, seed, deadline)
