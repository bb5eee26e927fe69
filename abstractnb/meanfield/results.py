"""What the solvers return: solutions, certificates, ranges over the optimal set, and the
one verdict of certification."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import objective as _obj
from .._validate import positive_int
from ..activations import Activation
from ..arrangement import Arrangement
from ..preactivations import ridge_readout


#: A result is *certified* when its lower bound is a proof (exact pricing) and its gap is
#: at most ``GAP_TOL`` relative to its own objective: ``J - bound <= GAP_TOL * J``, i.e. the
#: network is within a factor ``1 + GAP_TOL`` of :math:`J^*` (after Issue 16: an absolute
#: 1e-6 certified networks twice as bad as the optimum on problems with J << 1).
GAP_TOL = 1e-6

def relative_gap(objective: float, lower_bound: float) -> float:
    r"""``(objective - lower_bound) / objective``: how far above :math:`J^*` a network can be,
    as a fraction of its own objective (0 when both are 0, inf when only the objective is)."""
    gap = objective - lower_bound
    if objective > 0:
        return float(gap / objective)
    return 0.0 if gap <= 0 else float("inf")


def _certified(exact: bool, objective: float, lower_bound: float, gap_tol: float = GAP_TOL) -> bool:
    """The one verdict: a proof (exact pricing) and a relative gap within ``gap_tol``."""
    return bool(exact and relative_gap(objective, lower_bound) <= gap_tol)



class _Bounded:
    """Records with an ``objective`` and a ``lower_bound`` report the relative gap the verdict uses."""

    @property
    def relative_gap(self) -> float:
        """``gap / objective`` (see :func:`relative_gap`)."""
        return relative_gap(self.objective, self.lower_bound)


@dataclass(frozen=True, eq=False)
class Solution(_Bounded):
    r"""A global minimum of the convex problem and its certificate (see the module docstring).

    Attributes
    ----------
    objective : float
        :math:`J^*`. ReLU/linear: :math:`J` of the rebuilt finite network (``params``) via
        :func:`abstractnb.objective.objective`, directly comparable with
        ``training.train(...).objective``. tanh (mean field): :math:`J_{MF}(\pi^*)` of the
        measure (the :math:`N\to\infty` value, a lower bound approached by finite networks).
    lower_bound : float
        Dual bound: ReLU/linear :math:`D(tZ)` with :math:`c(Z)` computed exactly (when
        ``exact_pricing``); tanh the search-based bound of the module docstring.
    gap : float
        ``objective - lower_bound`` (absolute; :attr:`relative_gap` divides it by ``objective``).
    certified : bool
        True iff the pricing was exact and ``gap <= GAP_TOL * objective`` (relative gap at most
        ``GAP_TOL`` = 1e-6: the network is within a factor 1 + 1e-6 of :math:`J^*`). For bounded
        activations only where the energy minimum was bounded by branch and bound.
    kernel : (P, P) array
        Optimal hidden kernel. ReLU standard: :math:`\Sigma = \sum_j m_j h_jh_j^\top = HH^\top` of
        the rebuilt network; mean-field: :math:`HH^\top/N` (same matrix for ReLU).
    atoms : (n_atoms, P) array
        Preactivation vectors :math:`z_j = Lv_j` of the atoms: unit-norm weight (:math:`|v_j| = 1`)
        for ReLU/linear, the actual weight for tanh.
    masses : (n_atoms,) array
        ReLU/linear: :math:`m_j = \|w_j\|^2` of the rebuilt standard network; tanh: the
        probabilities :math:`\pi_j` (sum 1).
    directions : (n_atoms, d + bias) array
        Input weights :math:`w_j = Vv_j` of the atoms (unit norm for ReLU/linear).
    dual : (P, K) array
        :math:`Z = (Y - F)/(P\lambda)` at the solution.
    output : (P, K) array
        :math:`F^*`.
    params : (weights, readout)
        ReLU/linear: the rebuilt network (width ``n_atoms``, this ``parametrization``), whose
        objective is ``objective``. tanh: one unit per atom, ``weights[0][j] = w_j``,
        ``readout[j] = a_j = Z^\top\phi(\tilde X w_j)``, unit ``j`` carrying probability
        ``masses[j]`` (:math:`F = \sum_j \pi_j\phi_j a_j^\top`); use :meth:`to_network` for a
        finite network.
    hidden : list of one (P, n_atoms) array
        Hidden layer of ``params`` (a list, like :attr:`abstractnb.training.TrainResult.hidden`).
    max_dual_constraint : float
        ReLU/linear: :math:`c(Z)` (1 at the optimum). tanh: :math:`\min_v V(v)` found.
    exact_pricing : bool
        Whether :math:`c(Z)` came from an exact pricing (all faces, those of one cone, or
        those a symmetry leaves: see :attr:`note`).
    iterations, n_faces, time, solver :
        Column-generation rounds (exact pricings; the cheap partial rounds between them on
        large arrangements are not counted), faces priced (0 if none), seconds, conic solver
        used.
    stop_reason : str
        Why the column generation stopped: ``"converged"`` (relative gap or dual constraint
        within ``tol``), ``"stalled"`` (certified, and more rounds stopped shrinking the gap),
        ``"max_iter"``, ``"time_limit"``, or ``"zero network"``.
    reg, activation, bias, parametrization, X, Y :
        The problem (``activation`` by name).
    phi : Activation
        The activation itself (its properties say which solver produced this solution).
    note : str
        What the certificate means (and does not) for this problem.
    """

    objective: float
    lower_bound: float
    gap: float
    certified: bool
    kernel: np.ndarray
    atoms: np.ndarray
    masses: np.ndarray
    directions: np.ndarray
    dual: np.ndarray
    output: np.ndarray
    params: tuple
    hidden: np.ndarray
    max_dual_constraint: float
    exact_pricing: bool
    iterations: int
    n_faces: int
    time: float
    solver: str
    reg: float
    activation: str
    bias: bool
    parametrization: str
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    note: str = ""
    arrangement: Arrangement | None = field(default=None, repr=False)
    stop_reason: str = ""
    phi: Activation | None = field(default=None, repr=False)

    @property
    def mean_field_limit(self) -> bool:
        """True for a bounded activation: the measure is the N -> infinity optimum, not a
        finite network (:meth:`network_params` then samples a finite one)."""
        return self.phi is not None and self.phi.bounded

    @property
    def n_atoms(self) -> int:
        return int(self.masses.size)

    @property
    def exact(self) -> bool:
        """Whether the lower bound is a proof (the word :class:`Certificate` uses too)."""
        return self.exact_pricing

    def __repr__(self) -> str:
        return (f"Solution(objective={self.objective:.10g}, lower_bound={self.lower_bound:.10g}, "
                f"gap={self.gap:.2e}, relative_gap={self.relative_gap:.2e}, "
                f"certified={self.certified}, n_atoms={self.n_atoms}, "
                f"activation={self.activation!r}, bias={self.bias}, parametrization={self.parametrization!r}, "
                f"reg={self.reg:g}, P={self.X.shape[0]}, K={self.Y.shape[1]}, iterations={self.iterations}, "
                f"n_faces={self.n_faces}, time={self.time:.2f}s)")

    def network_params(self, width: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        r"""(weights, readout) of a finite network of ``width`` units built from the atoms.

        ReLU/linear: ``width`` defaults to ``n_atoms`` and may be any integer >= ``n_atoms``:
        atoms are split into copies (an atom of mass :math:`m` split into :math:`k` units of
        mass :math:`m/k`, i.e. :math:`w/\sqrt k, a/\sqrt k`), which leaves :math:`J` unchanged.
        tanh: ``width`` (default 1000) units, :math:`\mathrm{round}(\pi_j N)` copies of atom
        :math:`j` (largest remainders) with the optimal readout for that measure; its :math:`J`
        is >= ``objective`` and tends to it as the width grows.
        """
        if self.mean_field_limit:
            N = 1000 if width is None else positive_int(width, "width")
            counts = _round_counts(self.masses, N)
            W = np.repeat(self.directions, counts, axis=0)
            if W.shape[0] == 0:
                W = np.zeros((1, self.directions.shape[1]))
            Phi = self.phi.numpy(_obj.augment(self.X, self.bias) @ W.T)
            # Mean-field readout = sqrt(N) x the standard ridge readout of Phi / sqrt(N).
            root_n = np.sqrt(W.shape[0])
            return [W], root_n * ridge_readout(Phi / root_n, self.Y, self.reg)
        n = self.n_atoms
        N = max(n, 1) if width is None else positive_int(width, "width")
        if N < n:
            raise ValueError(f"width must be >= the number of atoms ({n}) to reproduce J* exactly; got {N}")
        (W,), A = _standard_params(self)
        if n == 0:
            W, A = np.zeros((N, W.shape[1])), np.zeros((N, A.shape[1]))
        else:
            copies = _split_counts(self.masses, N)
            s = np.repeat(1 / np.sqrt(copies), copies)[:, None]
            W, A = np.repeat(W, copies, axis=0) * s, np.repeat(A, copies, axis=0) * s
        if self.parametrization == "mean_field":
            W, A = W * np.sqrt(N), A * np.sqrt(N)
        return [W], A

    def to_network(self, width: int | None = None):
        """The finite network of :meth:`network_params` as an :class:`abstractnb.training.Network`.

        For ReLU/linear its objective equals ``objective`` (Carathéodory made concrete).
        """
        from ..activations import ACTIVATIONS
        from ..training import Network

        W, A = self.network_params(width)
        # The registered name where there is one (what users compare), else the object itself.
        act = self.activation if self.phi is None or ACTIVATIONS.get(self.activation) is self.phi else self.phi
        return Network(W, A, activation=act, bias=self.bias, parametrization=self.parametrization)


def _standard_params(sol: Solution) -> tuple[list[np.ndarray], np.ndarray]:
    """Standard-parametrisation weights of a ReLU/linear solution (one unit per atom)."""
    (W,), A = sol.params
    if sol.parametrization == "mean_field" and sol.n_atoms:
        W, A = W / np.sqrt(sol.n_atoms), A / np.sqrt(sol.n_atoms)
    return [W], A


def _round_counts(p: np.ndarray, N: int) -> np.ndarray:
    """Integers summing to N, proportional to p (largest remainders)."""
    if p.size == 0:
        return np.zeros(0, int)
    x = p / p.sum() * N
    c = np.floor(x).astype(int)
    c[np.argsort(-(x - c))[: N - c.sum()]] += 1
    return c


def _split_counts(m: np.ndarray, N: int) -> np.ndarray:
    """One copy per atom, then the N - n extra units go to the heaviest atoms (by mass per copy)."""
    c = np.ones(m.size, int)
    for _ in range(N - m.size):
        c[np.argmax(m / c)] += 1
    return c


@dataclass(frozen=True, eq=False)
class Certificate(_Bounded):
    r"""How far a given network is from the global minimum (see :func:`certify`).

    Attributes
    ----------
    objective : float
        :math:`J` of the network, via :func:`abstractnb.objective.objective`.
    lower_bound : float
        A lower bound on :math:`J` over all networks (of any width; for ``scope='last layer'``
        over all last layers given the earlier ones).
    gap : float
        ``objective - lower_bound`` (>= 0 up to rounding when ``exact``).
    certified : bool
        ``exact`` and ``gap <= gap_tol * objective`` (relative gap): with ``scope='global'`` the network
        is a global minimum; with ``scope='last layer'`` its last hidden layer and readout are
        optimal given the earlier layers (a statement about the last layer only).
    dual : (P, K) array
        :math:`Z_0 = (Y - F)/(P\lambda)` of the network.
    scale : float
        :math:`t`: the bound is :math:`D(tZ_0)` (ReLU/linear).
    max_dual_constraint : float
        :math:`c(Z_0)` (ReLU/linear; 1 at a global minimum) or :math:`\min_v V(v)` (tanh).
    exact : bool
        Whether the bound is a proof (exact pricing) or comes from a search.
    scope : str
        ``'global'`` (one hidden layer) or ``'last layer'`` (deeper networks: the last
        layer and readout are compared with all others, the earlier layers held fixed).
    note : str
    bound_from : str
        ``'network'``: the bound is :math:`D(tZ_0)`; ``'refined'``: it is :math:`D(tZ_1)`, with
        :math:`Z_1` the optimal dual point for measures on the network's own unit directions
        (``refined_dual``), which is tighter for a nearly optimal network. ``scale`` and
        ``max_dual_constraint`` refer to the dual point used.
    refined_dual : (P, K) array or None
        :math:`Z_1`.
    upper_bound : float
        Objective of the best network seen (this one, or the refinement's measure):
        :math:`J^* \le` ``upper_bound``, so :math:`J^*` lies in [``lower_bound``, ``upper_bound``].
    refine_reason : str
        Why the refinement stopped (as :attr:`Solution.stop_reason`), or ``"not run"``.

    The property ``relative_gap`` is ``gap / objective``.
    """

    objective: float
    lower_bound: float
    gap: float
    certified: bool
    dual: np.ndarray
    scale: float
    max_dual_constraint: float
    exact: bool
    scope: str
    reg: float
    activation: str
    bias: bool
    parametrization: str
    note: str = ""
    bound_from: str = "network"
    refined_dual: np.ndarray | None = None
    upper_bound: float = float("nan")
    refine_reason: str = "not run"

    def __repr__(self) -> str:
        return (f"Certificate(objective={self.objective:.10g}, lower_bound={self.lower_bound:.10g}, "
                f"gap={self.gap:.2e}, relative_gap={self.relative_gap:.2e}, "
                f"certified={self.certified}, exact={self.exact}, "
                f"max_dual_constraint={self.max_dual_constraint:.10g}, bound_from={self.bound_from!r}, "
                f"scope={self.scope!r})")




@dataclass(frozen=True, eq=False)
class OptimalRange:
    r"""Range of a linear functional of the kernel over all global minima.

    Unpacks as ``lo, hi = optimal_set_range(...)``.

    Attributes
    ----------
    min, max : float
    exact : bool
        True when the range is exact (up to solver tolerance): the solution is certified, faces
        enumerated and every continuum of active atoms is a cone with at most 4 extreme rays,
        where the completely positive cone equals the doubly nonnegative one. Otherwise
        ``min``/``max`` are outer bounds (they contain the true range) or, without face
        enumeration or a certified solution, only estimates (see ``note``).
    kernels : ((P, P) array, (P, P) array)
        Optimal kernels attaining ``min`` and ``max``.
    n_cones : int
        Active faces found (isolated atoms and continua).
    max_rays : int
        Largest number of extreme rays of an active continuum (1 if all atoms are isolated).
    note : str
    """

    min: float
    max: float
    exact: bool
    kernels: tuple
    n_cones: int
    max_rays: int
    note: str = ""

    def __iter__(self):
        return iter((self.min, self.max))

    def __repr__(self) -> str:
        return (f"OptimalRange(min={self.min:.10g}, max={self.max:.10g}, exact={self.exact}, "
                f"n_cones={self.n_cones}, max_rays={self.max_rays})")
