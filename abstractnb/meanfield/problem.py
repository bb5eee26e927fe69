r"""The problem as one validated value, its internal units, and the controls of long runs."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .. import objective as _obj
from .._validate import as_bool, as_matrix, positive
from ..activations import Activation, get_activation
from ..preactivations import reduce_inputs

HOMOGENEOUS, BOUNDED = "homogeneous", "bounded"


@dataclass(frozen=True, eq=False)
class Problem:
    r"""One problem: minimise :math:`J` over one-hidden-layer networks (built by
    :func:`make_problem`, which validates every field).

    Attributes
    ----------
    X : (P, d) inputs
    Y : (P, K) targets
    reg : weight decay :math:`\lambda > 0`
    activation : the :class:`abstractnb.activations.Activation`
    bias : whether units have a bias (a weight on a constant input)
    parametrization : ``standard`` or ``mean_field``
    solver, solver_options : the cvxpy solver of the master problems and its options
    family : ``"homogeneous"`` (piecewise linear: exact, any width) or ``"bounded"``
        (mean-field limit), read from the activation's properties
    """

    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    reg: float
    activation: Activation
    bias: bool
    parametrization: str
    solver: str = "CLARABEL"
    solver_options: dict = field(default_factory=dict)
    family: str = HOMOGENEOUS

    @property
    def P(self) -> int:
        return int(self.X.shape[0])

    @property
    def gamma(self) -> float:
        r""":math:`\gamma = P\lambda`, the ridge of the eliminated readout."""
        return self.P * self.reg


def make_problem(X, Y, *, reg: float, activation="relu", bias: bool = True,
                 parametrization: str = "standard", solver: str = "CLARABEL",
                 solver_options: dict | None = None) -> Problem:
    """Validate the arguments of :func:`solve` and :func:`certify` into a :class:`Problem`."""
    X, Y, reg = _check_problem(X, Y, reg, parametrization)
    act = get_activation(activation)
    fam = family(act, parametrization)
    solver, solver_options = _check_solver(solver, solver_options)
    return Problem(X=X, Y=Y, reg=reg, activation=act, bias=as_bool(bias, "bias"),
                   parametrization=parametrization, solver=solver, solver_options=solver_options,
                   family=fam)


def family(activation: Activation, parametrization: str) -> str:
    """Which convex problem describes the global minima, from the activation's properties;
    a ValueError that says why when none does."""
    name = activation.name
    if activation.piecewise_linear:
        return HOMOGENEOUS
    if activation.bounded:
        if parametrization != "mean_field":
            raise ValueError(f"{name} in the standard parametrisation has no convex formulation ({name} "
                             "is not homogeneous, so the optimum depends on the width); use "
                             "parametrization='mean_field' for the N -> infinity convex problem")
        if activation.derivative is None:
            raise ValueError(f"activation {name!r} is bounded but has no derivative; register it with "
                             "derivative= for the mean-field solver")
        return BOUNDED
    if activation.superlinear:
        if parametrization == "mean_field":
            raise ValueError(
                f"{name} in the mean-field parametrisation has no minimiser: it grows faster than "
                "linearly, so a vanishing fraction of units with large weights builds any kernel at "
                "vanishing weight cost; J_N -> 0 as the width N grows (the infimum 0 is not attained)")
        raise ValueError(f"{name} in the standard parametrisation has no convex formulation here "
                         "(the features are not positively homogeneous of degree 1); use a "
                         "piecewise-linear activation, or a bounded one with parametrization='mean_field'")
    raise ValueError(f"activation {name!r} has none of the properties that give a convex formulation "
                     "(two slopes through 0: exact; bounded: mean field); register it with them "
                     "(abstractnb.activations.register) or use a registered one")


def _check_problem(X, Y, reg, parametrization):
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows (conditions P); "
                         f"got X {X.shape} and Y {Y.shape}")
    reg = positive(reg, "reg")
    _obj.check_parametrization(parametrization)
    return X, Y, reg


def _check_solver(solver, solver_options) -> tuple[str, dict]:
    """A conic solver cvxpy has installed, and a dict of options for it."""
    import cvxpy as cp

    if not isinstance(solver, str):
        raise TypeError(f"solver must be the name of a cvxpy solver (e.g. 'CLARABEL'); got {solver!r}")
    installed = cp.installed_solvers()
    if solver.upper() not in installed:
        raise ValueError(f"solver {solver!r} is not an installed cvxpy solver; installed: {installed}")
    if solver_options is None:
        solver_options = {}
    if not isinstance(solver_options, dict) or not all(isinstance(k, str) for k in solver_options):
        raise TypeError(f"solver_options must be a dict of keyword options; got {solver_options!r}")
    return solver.upper(), dict(solver_options)


def _reduced(X, bias):
    red = reduce_inputs(X, bias)
    return red.L, red.V


@dataclass(frozen=True)
class _Units:
    r"""The problem in internal units: :math:`\hat L = L/s_L`, :math:`\hat Y = Y/s_Y`,
    :math:`\hat\lambda = \lambda/(s_L s_Y)` is the same problem, with
    :math:`J = s_Y^2\hat J`, masses :math:`m = (s_Y/s_L)\hat m` and dual points
    :math:`Z = \hat Z/s_L` (a feature :math:`h = \phi(Lv)` scales with :math:`s_L`, an output
    vector with :math:`s_Y`). Working at unit scale makes every absolute threshold inside the
    solver (conic tolerances, support cut-offs) independent of the units of X and Y.
    """

    L: np.ndarray
    Y: np.ndarray
    reg: float
    sL: float
    sY: float


def _normalise(L: np.ndarray, Y: np.ndarray, reg: float) -> _Units:
    # L = U diag(s) from the SVD, so its first column's norm is the top singular value.
    sL = float(np.linalg.norm(L[:, 0])) if L.shape[1] else 1.0
    sY = float(np.sqrt(np.sum(Y * Y) / Y.shape[0])) or 1.0
    return _Units(L / sL, Y / sY, reg / (sL * sY), sL, sY)


def _deadline(time_limit) -> float | None:
    if time_limit is None:
        return None
    return time.perf_counter() + positive(time_limit, "time_limit")


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _check_progress(progress) -> bool | None:
    return None if progress is None else as_bool(progress, "progress")


def _bar(progress: bool | None, total: int, desc: str):
    """A tqdm bar that appears only if the work lasts longer than 2 s (short calls stay quiet).

    ``None``: the plain bar with tqdm's own test, shown on a terminal and never in a notebook
    or a log (their stored outputs must not depend on how fast the machine is).
    """
    if progress is None:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, disable=None, leave=False, delay=2.0)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not progress, leave=False, delay=2.0)


def _one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread. The solvers' linear algebra is many small dense
    problems (P <= 64), where threads only contend: on 2 cores, column generation with four
    outputs ran 5-7x faster single-threaded (whitened D = 3, four linear tasks: 13.7 s -> 2.5 s)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return wrapper
