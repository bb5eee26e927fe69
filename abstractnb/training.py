r"""Training networks on the objective :math:`J`, and sweeping over settings.

The network and the objective are those of :mod:`abstractnb.objective` (this module
calls it; it never re-implements it). With :math:`\tilde H = [H, \mathbf 1]` when
``bias=True`` (a bias is a weight on a constant input, so weight decay applies to it)
and :math:`\tilde H = H` otherwise:

*Standard* parametrisation, :math:`L` hidden layers,

.. math::

    f(x) = A^\top \phi\big(W_L\, \widetilde{\phi(\cdots \phi(W_1 \tilde x))}\big),\qquad
    J = \frac1P\|F - Y\|_F^2 + \lambda\Big(\sum_{l=1}^L \|W_l\|_F^2 + \|A\|_F^2\Big).

*Mean-field* parametrisation, one hidden layer of width :math:`N`,

.. math::

    f(x) = \frac1N \sum_{i=1}^N a_i\, \phi(w_i\cdot \tilde x),\qquad
    J = \frac1P\|F - Y\|_F^2 + \frac{\lambda}{N}\sum_{i=1}^N \big(\|w_i\|^2 + \|a_i\|^2\big).

:func:`train` minimises :math:`J` full batch in float64: Adam, then an L-BFGS polish
with a strong-Wolfe line search, then (one hidden layer, ReLU-like activations) a *kink
polish* that merges duplicate units and solves with the kinks of the minimum held fixed.
:func:`sweep` runs any function over a grid of settings (and seeds) with joblib, locally or
on a Dask cluster, and returns a tidy :class:`pandas.DataFrame`.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from itertools import product
from numbers import Number
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import objective as _obj
from ._validate import as_bool, as_matrix, as_seed, nonnegative, positive, positive_int
from .activations import get_activation

__all__ = ["Network", "TrainResult", "TrainingDivergedError", "train", "sweep", "polishable",
           "balance_and_merge"]

DTYPE = torch.float64
# The cosine schedule ends at this fraction of lr: small enough to settle into the kinks of
# ReLU minima (where L-BFGS stalls), large enough not to waste the last steps.
_COSINE_FLOOR = 1e-3
SCHEDULES = ("cosine", "constant")
BACKENDS = ("loky", "threading", "multiprocessing", "sequential", "dask")


class TrainingDivergedError(ValueError):
    """The objective (or a weight) became NaN or inf during training."""


def _as_device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:0', ... or a torch.device; got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    return dev


def _as_tensor(A, like: torch.Tensor) -> torch.Tensor:
    if isinstance(A, torch.Tensor):
        return A.to(dtype=DTYPE, device=like.device)
    return torch.as_tensor(np.asarray(A, dtype=float), dtype=DTYPE, device=like.device)


class Network(torch.nn.Module):
    r"""Fully connected network of :mod:`abstractnb.objective`:
    :math:`H_l = \phi(\tilde H_{l-1} W_l^\top)`, :math:`F = c\, H_L A`
    (:math:`c = 1` standard, :math:`c = 1/N` mean-field).

    Parameters
    ----------
    weights : sequence of arrays or tensors
        ``weights[l]`` has shape (N_{l+1}, N_l + bias), with N_0 = d the input dimension;
        with ``bias=True`` its last column multiplies the constant input.
    readout : array or tensor, shape (N_L, K)
        The readout :math:`A` (a 1-D array is one output column).
    activation : str or callable
        a registered name (``relu``, ``leaky_relu``, ``abs``, ``linear``, ``tanh``, ``erf``,
        ``sigmoid_centred``, ``relu2``, ...), an Activation, or an elementwise torch callable
        (see :func:`abstractnb.activations.get_activation`).
    bias : bool
    parametrization : {"standard", "mean_field"}

    Attributes
    ----------
    weights : torch.nn.ParameterList of float64 parameters
    readout : torch.nn.Parameter, float64
    activation, bias, parametrization : as given
    d, K : input and output dimension
    widths : list of hidden widths N_1, ..., N_L
    width : N_L, the width of the last hidden layer
    depth : L, the number of hidden layers
    """

    def __init__(self, weights: Sequence[np.ndarray | torch.Tensor], readout, *, activation="relu",
                 bias: bool = True, parametrization: str = "standard"):
        super().__init__()
        _obj.check_parametrization(parametrization)
        get_activation(activation)  # fail early on an unknown name
        if len(weights) == 0:
            raise ValueError("weights must hold at least one hidden layer; got an empty list")
        if parametrization == "mean_field" and len(weights) != 1:
            raise ValueError("the mean-field parametrisation is defined for one hidden layer only; "
                             f"got {len(weights)} layers")
        bias = bool(bias)
        Ws = [_to_param_array(W, f"weights[{l}]") for l, W in enumerate(weights)]
        A = _to_param_array(readout, "readout")
        if A.ndim == 1:
            A = A[:, None]
        fan_in = Ws[0].shape[1] - int(bias)
        if fan_in < 1:
            raise ValueError(f"weights[0] must have at least {1 + int(bias)} columns (inputs"
                             f"{' + constant' if bias else ''}); got shape {tuple(Ws[0].shape)}")
        for l in range(1, len(Ws)):
            need = Ws[l - 1].shape[0] + int(bias)
            if Ws[l].shape[1] != need:
                raise ValueError(f"weights[{l}] must have {need} columns (width of layer {l}"
                                 f"{' + constant' if bias else ''}); got shape {tuple(Ws[l].shape)}")
        if A.shape[0] != Ws[-1].shape[0]:
            raise ValueError(f"readout must have {Ws[-1].shape[0]} rows (width of the last hidden layer); "
                             f"got shape {tuple(A.shape)}")
        self.weights = torch.nn.ParameterList([torch.nn.Parameter(W) for W in Ws])
        self.readout = torch.nn.Parameter(A)
        self.activation = activation
        self.bias = bias
        self.parametrization = parametrization

    # -- architecture -------------------------------------------------------------
    @property
    def d(self) -> int:
        return self.weights[0].shape[1] - int(self.bias)

    @property
    def K(self) -> int:
        return self.readout.shape[1]

    @property
    def widths(self) -> list[int]:
        return [W.shape[0] for W in self.weights]

    @property
    def width(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @classmethod
    def init(cls, d: int, K: int, *, width: int, depth: int = 1, activation="relu", bias: bool = True,
             parametrization: str = "standard", seed: int = 0, scale: float = 1.0) -> "Network":
        r"""Random Gaussian initialisation, reproducible from ``seed`` (a private
        :class:`torch.Generator`; the global torch seed is left alone).

        Standard: :math:`(W_l)_{ij} \sim \mathcal N(0, s^2/\text{fan-in})` (fan-in counts the
        constant input) and :math:`A_{ij} \sim \mathcal N(0, s^2/N_L)`. Mean-field: the
        per-neuron parameters are O(1), :math:`(w_i)_j \sim \mathcal N(0, s^2/\text{fan-in})`,
        :math:`a_{ik} \sim \mathcal N(0, s^2)`. Here :math:`s` = ``scale``.
        """
        d = positive_int(d, "d")
        K = positive_int(K, "K")
        width = positive_int(width, "width")
        depth = positive_int(depth, "depth")
        scale = positive(scale, "scale")
        seed = as_seed(seed)
        bias = as_bool(bias, "bias")
        _obj.check_parametrization(parametrization)
        if parametrization == "mean_field" and depth != 1:
            raise ValueError(f"the mean-field parametrisation needs depth=1; got depth={depth}")
        gen = torch.Generator(device="cpu").manual_seed(seed)
        weights, n_in = [], d
        for _ in range(depth):
            fan_in = n_in + int(bias)
            weights.append(torch.randn(width, fan_in, generator=gen, dtype=DTYPE) * (scale / math.sqrt(fan_in)))
            n_in = width
        a_std = scale if parametrization == "mean_field" else scale / math.sqrt(width)
        readout = torch.randn(width, K, generator=gen, dtype=DTYPE) * a_std
        return cls(weights, readout, activation=activation, bias=bias, parametrization=parametrization)

    # -- evaluation -----------------------------------------------------------------
    def _X(self, X) -> torch.Tensor:
        return _as_tensor(X, self.readout)

    def forward(self, X) -> torch.Tensor:
        """Outputs F, shape (P, K), as a float64 tensor (``X`` may be an array)."""
        F, _ = _obj.forward(self._X(X), list(self.weights), self.readout, activation=self.activation,
                            bias=self.bias, parametrization=self.parametrization)
        return F

    def hidden(self, X) -> list[np.ndarray]:
        """Hidden representations, one (P, N_l) float64 array per layer (last = last hidden layer)."""
        with torch.no_grad():
            _, H = _obj.forward(self._X(X), list(self.weights), self.readout, activation=self.activation,
                                bias=self.bias, parametrization=self.parametrization)
        return [h.detach().cpu().numpy().copy() for h in H]

    def params(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Copies of (weights, readout) as float64 numpy arrays."""
        return ([W.detach().cpu().numpy().copy() for W in self.weights],
                self.readout.detach().cpu().numpy().copy())

    def objective(self, X, Y, *, reg: float) -> float:
        """:math:`J` of the current weights, float64, via :func:`abstractnb.objective.objective`."""
        W, A = self.params()
        X = as_matrix(X, "X", cols=self.d)
        Y = as_matrix(Y, "Y", rows=X.shape[0], cols=self.K)
        return _obj.objective(X, Y, W, A, reg=nonnegative(reg, "reg"), activation=self.activation,
                              bias=self.bias, parametrization=self.parametrization)

    def extra_repr(self) -> str:
        name = self.activation if isinstance(self.activation, str) else get_activation(self.activation).name
        return (f"d={self.d}, widths={self.widths}, K={self.K}, activation={name}, bias={self.bias}, "
                f"parametrization={self.parametrization}")


def _to_param_array(W, name: str) -> torch.Tensor:
    if isinstance(W, torch.Tensor):
        W = W.detach().to(dtype=DTYPE).clone()
    else:
        W = torch.as_tensor(np.array(W, dtype=float), dtype=DTYPE)
    if W.ndim not in (1, 2) or (W.ndim == 1 and name != "readout") or W.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array; got shape {tuple(W.shape)}")
    if not torch.isfinite(W).all():
        raise ValueError(f"{name} contains NaN or inf entries")
    return W


@dataclass(frozen=True)
class TrainResult:
    r"""Outcome of :func:`train`.

    Attributes
    ----------
    objective : float
        :math:`J` of the final weights in float64, via :func:`abstractnb.objective.objective`.
    hidden : list of (P, N_l) arrays
        Hidden representations of the final network; ``hidden[-1]`` is the last hidden layer.
    history : (n_adam + n_lbfgs + n_polish,) array
        :math:`J` after each step: Adam steps first, then L-BFGS iterations, then the
        :math:`J` after each round of the kink polish (non-increasing).
    params : (weights, readout)
        Final weights as float64 arrays (shapes as in :class:`Network`).
    network : Network
        The trained torch module.
    outputs : (P, K) array
        Outputs F of the final network.
    initial_objective : float
        :math:`J` at initialisation.
    n_adam, n_lbfgs : int
        Adam steps and L-BFGS iterations actually taken (the polish stops when converged).
    grad_norm : float
        Largest absolute entry of :math:`\nabla J` at the final weights. After the kink
        polish (where :math:`J` has no gradient at the kinks) it is the gradient along the
        piece on which the final kinks stay at 0: with respect to :math:`A`, and to each
        :math:`w_i` projected orthogonally to the :math:`\tilde x_\mu` with
        :math:`|w_i\cdot\tilde x_\mu| \le 10^{-6}\|w_i\|\|\tilde x_\mu\|`.
    snapshot_steps : (n_snap,) int array
        Steps at which the last hidden layer was recorded (0 = initialisation); empty
        unless ``snapshot_every`` was given.
    snapshots : (n_snap, P, N_L) array
        The last hidden layer at those steps.
    seed : int
    settings : dict
        The keyword settings of the call.
    wall_time : float
        Seconds spent in the optimisation.
    stop_reason : str
        Why training ended: ``"steps"`` (every Adam step, and the polish used all its
        iterations or was off), ``"converged"`` (the polish found a vanishing gradient),
        ``"stalled"`` (the polish stopped decreasing J, relative ``tol``), ``"time_limit"``.
        When the kink polish ran, it decides: ``"converged"`` if its last round did not lower
        :math:`J` by more than :math:`\max(\text{tol}, 10^{-9})|J|` and ``grad_norm`` is below
        :math:`\sqrt{\epsilon} \approx 1.5\cdot 10^{-8}` (from there on :math:`J` is flat to
        rounding), ``"stalled"`` if it stopped so with a larger gradient (still creeping,
        typically small units decaying along nearly flat directions), ``"steps"`` if all
        its rounds kept lowering :math:`J`, ``"time_limit"``.
        A network that stalled above :math:`J^*` (see :func:`abstractnb.meanfield.certify`) is
        at or near a stationary point that is not a global minimum; one that ran out of steps
        with a large ``last_improvement`` was still descending.
    last_improvement : float
        Relative decrease of :math:`J` over the last 10 recorded steps.
    n_polish : int
        Rounds of the kink polish recorded in ``history`` (0 when it did not run).
    """

    objective: float
    hidden: list
    history: np.ndarray
    params: tuple
    network: Network
    outputs: np.ndarray
    initial_objective: float
    n_adam: int
    n_lbfgs: int
    grad_norm: float
    snapshot_steps: np.ndarray
    snapshots: np.ndarray
    seed: int
    settings: dict = field(default_factory=dict)
    wall_time: float = 0.0
    stop_reason: str = ""
    last_improvement: float = 0.0
    n_polish: int = 0

    @property
    def steps(self) -> int:
        """Total number of recorded optimisation steps (Adam + L-BFGS + kink-polish rounds)."""
        return self.n_adam + self.n_lbfgs + self.n_polish


def _diverged(what: str, value: float, phase: str, step: int, total: int, hint: str) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"training diverged: {what} is not finite ({value}) at {phase} step {step} of {total}; {hint}")


def train(X, Y, *, width: int, depth: int = 1, activation="relu", bias: bool = True, reg: float,
          parametrization: str = "standard", steps: int = 1000, seed: int, device="cpu",
          progress: bool = True,
          lr: float = 3e-2, lbfgs_steps: int = 1000, tol: float = 1e-15, init_scale: float = 1.0,
          snapshot_every: int | None = None, init: Network | None = None, schedule: str = "cosine",
          time_limit: float | None = None, batch_size: int | None = None, polish: bool = True) -> TrainResult:
    r"""Minimise :math:`J` (see the module docstring) full batch, in float64.

    ``steps`` Adam steps with learning rate ``lr`` (cosine-decayed by default), then at
    most ``lbfgs_steps`` L-BFGS iterations (:class:`torch.optim.LBFGS`, strong-Wolfe line
    search) that polish the Adam point towards the nearby stationary point. Deterministic
    for a given ``seed`` on CPU.

    ReLU minima often sit on kinks (units whose preactivation is exactly 0 on some
    conditions, e.g. :math:`\mathrm{relu}(s_k + 1)`), where :math:`J` is not differentiable
    and L-BFGS stalls (Adam + L-BFGS alone end ~1e-4 above the optimum even after thousands
    of steps). With one hidden layer and a piecewise-linear activation with a kink (ReLU,
    leaky ReLU, ``abs``; see :func:`polishable`) a *kink polish* follows, in rounds:

    1. :func:`balance_and_merge`: dead units are zeroed, every unit is balanced
       (:math:`\|w_i\| = \|a_i\|`) and units with the same direction are merged into one;
       none of this increases :math:`J` and it leaves :math:`F` unchanged (to rounding).
    2. The conditions on each unit's kink, :math:`|w_i\cdot\tilde x_\mu| \le \tau
       \|w_i\|\|\tilde x_\mu\|`, are pinned: :math:`w_i = \Pi_i v_i` with :math:`\Pi_i` the
       projector onto :math:`\{w: w\cdot\tilde x_\mu = 0\}`. With the kinks held at 0 and
       every other preactivation away from 0, :math:`J` is a smooth polynomial of
       :math:`(v, A)` near the point, and L-BFGS on the true :math:`J` converges fast; when
       another condition reaches a kink, it stalls there and the next round pins it.
    3. A round's result is kept only if the true :math:`J` went down, so :math:`J` never
       increases; :math:`\tau` runs through 1e-2, 1e-3, 1e-4, 1e-6 until one lowers
       :math:`J`. The polish ends when a round lowers :math:`J` by less than
       :math:`\max(\text{tol}, 10^{-9})|J|`.

    Units merged or found dead come back as exact zeros: the width is the one asked for.
    On the latent-target problems of the book (D = 2-4, aligned or whitened inputs, widths
    64 and 256, reg 1e-2) the default run ends within a relative 1e-8 of the certified
    optimum in a few seconds (see ``benchmarks/bench_training.py``).

    Parameters
    ----------
    X : (P, d) array
        Inputs, one row per condition.
    Y : (P, K) array
        Targets (a 1-D array is one output).
    width : int
        Width N of every hidden layer.
    depth : int
        Number of hidden layers L (1 for the mean-field parametrisation).
    activation : str or callable
        a registered name (``relu``, ``leaky_relu``, ``abs``, ``linear``, ``tanh``, ``erf``,
        ``sigmoid_centred``, ``relu2``, ...), an Activation, or an elementwise torch callable.
    bias : bool
        Append a constant-1 input to every layer (its weights are decayed like the others).
    reg : float
        Weight decay :math:`\lambda \ge 0`.
    parametrization : {"standard", "mean_field"}
    steps : int
        Number of Adam steps (>= 1); 1000 by default.
    seed : int
        Seed of the initialisation (a private generator; no global seeding).
    device : str or torch.device
        ``"cpu"`` (default) or a CUDA device.
    progress : bool
        Show a tqdm progress bar.
    lr : float
        Adam learning rate (the peak of the schedule).
    schedule : {"cosine", "constant"}
        ``"cosine"`` decays the learning rate from ``lr`` to ``1e-3 * lr`` over the Adam steps
        (much better final accuracy at kinks); ``"constant"`` keeps it.
    lbfgs_steps : int
        Most L-BFGS iterations of the polish; 0 skips the polish (and the kink polish).
    tol : float
        The polish stops once :math:`J` decreased by less than ``tol`` times :math:`|J|` for
        three iterations in a row (or the gradient vanished to 1e-12).
    init_scale : float
        Scale of the random initialisation (see :meth:`Network.init`).
    snapshot_every : int, optional
        Record the last hidden layer at step 0 and every ``snapshot_every`` steps (Adam and
        L-BFGS steps counted together), and at the end.
    init : Network, optional
        Start from (a copy of) this network instead of a random one (``seed`` is then only
        recorded); its d, K, width, depth, bias and parametrisation must match the
        arguments, and it is trained with ``activation``.
    time_limit : float, optional
        Seconds. When spent, training stops where it is and the result says so
        (``stop_reason="time_limit"``); None (default) runs every step.
    batch_size : int, optional
        Stochastic mini-batches for the Adam phase: each step's gradient is that of
        :math:`\frac1B\sum_{\mu\in\text{batch}}\|f(x_\mu) - y_\mu\|^2 + \lambda\,\mathrm{penalty}`
        on ``batch_size`` conditions drawn without replacement (an unbiased estimate of
        :math:`\nabla J`), from a generator seeded by ``seed``. ``history`` still records the
        full-batch :math:`J`. None (default): full batch. The L-BFGS polish is full batch.
    polish : bool
        Run the kink polish (see above) where it applies (one hidden layer, an activation
        for which :func:`polishable` is True, ``lbfgs_steps > 0``); ignored elsewhere.
        Works for both parametrisations and with ``bias=False``; full batch.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        On bad arguments.
    TrainingDivergedError
        (a ValueError) When the objective or a weight becomes NaN or inf; the message names
        the step.
    """
    X = as_matrix(X, "X")
    P, d = X.shape
    Y = as_matrix(Y, "Y")
    if Y.shape[0] != P:
        raise ValueError(f"X and Y must have the same number of rows P (one per condition); "
                         f"got {P} rows in X and {Y.shape[0]} in Y")
    K = Y.shape[1]
    width = positive_int(width, "width")
    depth = positive_int(depth, "depth")
    reg = nonnegative(reg, "reg")
    steps = positive_int(steps, "steps")
    seed = as_seed(seed)
    bias = as_bool(bias, "bias")
    progress = as_bool(progress, "progress")
    polish = as_bool(polish, "polish")
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
        if batch_size > P:
            raise ValueError(f"batch_size must be at most the number of conditions P = {P}; got {batch_size}")
    deadline = None if time_limit is None else time.perf_counter() + positive(time_limit, "time_limit")
    lr = positive(lr, "lr")
    lbfgs_steps = positive_int(lbfgs_steps, "lbfgs_steps", minimum=0)
    tol = nonnegative(tol, "tol")
    init_scale = positive(init_scale, "init_scale")
    if snapshot_every is not None:
        snapshot_every = positive_int(snapshot_every, "snapshot_every")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    _obj.check_parametrization(parametrization)
    get_activation(activation)
    if parametrization == "mean_field" and depth != 1:
        raise ValueError(f"the mean-field parametrisation needs depth=1; got depth={depth}")
    dev = _as_device(device)
    settings = dict(width=width, depth=depth, activation=activation, bias=bool(bias), reg=reg,
                    parametrization=parametrization, steps=steps, lr=lr, lbfgs_steps=lbfgs_steps,
                    tol=tol, init_scale=init_scale, schedule=schedule, device=str(dev),
                    batch_size=batch_size, polish=polish)

    if init is None:
        net = Network.init(d, K, width=width, depth=depth, activation=activation, bias=bias,
                           parametrization=parametrization, seed=seed, scale=init_scale)
    else:
        if not isinstance(init, Network):
            raise ValueError(f"init must be a Network; got {type(init).__name__}")
        want = dict(d=d, K=K, width=width, depth=depth, bias=bool(bias), parametrization=parametrization)
        have = dict(d=init.d, K=init.K, width=init.width, depth=init.depth, bias=init.bias,
                    parametrization=init.parametrization)
        if want != have or init.widths != [width] * depth:
            raise ValueError(f"init does not match the requested architecture: expected {want}, got {have}")
        net = copy.deepcopy(init).cpu()
        net.activation = activation
    net = net.to(dev)
    Xt = torch.as_tensor(X, dtype=DTYPE, device=dev)
    Yt = torch.as_tensor(Y, dtype=DTYPE, device=dev)
    params = list(net.parameters())

    def J(rows=None):
        Xb, Yb = (Xt, Yt) if rows is None else (Xt[rows], Yt[rows])
        return _obj.objective(Xb, Yb, list(net.weights), net.readout, reg=reg, activation=activation,
                              bias=net.bias, parametrization=parametrization)

    # Mini-batches from their own generator: the initialisation's stays untouched.
    batches = (torch.Generator(device="cpu").manual_seed(seed + 1) if batch_size is not None and batch_size < P
               else None)

    snap_steps, snaps = [], []

    def snapshot(step: int):
        if snapshot_every is not None and (not snap_steps or snap_steps[-1] != step):
            snap_steps.append(step)
            snaps.append(net.hidden(Xt)[-1])

    from tqdm.auto import tqdm

    total = steps + lbfgs_steps
    bar = tqdm(total=total, desc="train", disable=not progress, leave=False)
    trace: list[float] = []
    t0 = time.perf_counter()
    try:
        # -- Adam -------------------------------------------------------------------
        snapshot(0)
        opt = torch.optim.Adam(params, lr=lr)
        sched = None
        if schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * _COSINE_FLOOR)
        hint = "try a smaller lr or init_scale"
        stop_reason, n_adam = "steps", steps
        for k in range(steps):
            if deadline is not None and time.perf_counter() > deadline:
                stop_reason, n_adam = "time_limit", k
                break
            opt.zero_grad(set_to_none=False)
            if batches is None:
                loss = J()
                value = float(loss.detach())
            else:
                with torch.no_grad():
                    value = float(J())  # the full-batch J, for the history
                loss = J(torch.randperm(P, generator=batches)[:batch_size].to(Xt.device))
            if not math.isfinite(value):
                raise _diverged("the objective", value, "Adam", k, steps, hint)
            trace.append(value)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if not all(torch.isfinite(p).all() for p in params):
                raise _diverged("a weight", float("nan"), "Adam", k + 1, steps, hint)
            if snapshot_every is not None and (k + 1) % snapshot_every == 0:
                snapshot(k + 1)
            if progress and k % 50 == 0:
                bar.set_postfix(J=f"{value:.6g}", refresh=False)
            bar.update(1)
        with torch.no_grad():
            value = float(J())
        if not math.isfinite(value):
            raise _diverged("the objective", value, "Adam", n_adam, steps, hint)
        trace.append(value)

        # -- L-BFGS polish ---------------------------------------------------------------
        n_lbfgs = 0
        if lbfgs_steps > 0 and stop_reason != "time_limit":
            hint = "try more Adam steps, a smaller lr, or lbfgs_steps=0"
            lbfgs = _lbfgs(params)
            state = lbfgs.state[params[0]]

            def closure():
                lbfgs.zero_grad(set_to_none=False)
                loss = J()
                loss.backward()
                return loss

            stalled = 0
            for k in range(lbfgs_steps):
                if deadline is not None and time.perf_counter() > deadline:
                    stop_reason = "time_limit"
                    break
                before = state.get("n_iter", 0)
                best = [p.detach().clone() for p in params]
                lbfgs.step(closure)
                if state.get("n_iter", 0) == before:
                    stop_reason = "converged"  # gradient below tolerance: nothing was done
                    break
                with torch.no_grad():
                    value = float(J())
                if not math.isfinite(value) or not all(torch.isfinite(p).all() for p in params):
                    with torch.no_grad():
                        for p, b in zip(params, best):
                            p.copy_(b)
                    raise _diverged("the objective", value, "L-BFGS", k + 1, lbfgs_steps, hint)
                n_lbfgs += 1
                decrease = trace[-1] - value
                trace.append(value)
                bar.update(1)
                if snapshot_every is not None and (steps + n_lbfgs) % snapshot_every == 0:
                    snapshot(steps + n_lbfgs)
                stalled = stalled + 1 if decrease <= tol * abs(value) else 0
                if stalled >= 3:
                    stop_reason = "stalled"
                    break

        # -- kink polish --------------------------------------------------------------------
        n_polish, polish_grad = 0, None
        if polish and lbfgs_steps > 0 and polishable(activation, depth) and stop_reason != "time_limit":
            rounds, stop_reason, polish_grad = _kink_polish(net, Xt, Yt, reg=reg, tol=tol, deadline=deadline)
            for value in rounds:
                n_polish += 1
                trace.append(value)
                if snapshot_every is not None and (steps + n_lbfgs + n_polish) % snapshot_every == 0:
                    snapshot(steps + n_lbfgs + n_polish)
        snapshot(steps + n_lbfgs + n_polish)
    finally:
        bar.close()
    wall = time.perf_counter() - t0

    net.zero_grad(set_to_none=False)
    loss = J()
    loss.backward()
    grad_norm = max(float(p.grad.abs().max()) for p in params) if polish_grad is None else polish_grad
    net.zero_grad(set_to_none=True)
    net.activation = activation

    weights, readout = net.params()
    J_final = _obj.objective(X, Y, weights, readout, reg=reg, activation=activation, bias=net.bias,
                             parametrization=parametrization)
    F, hidden = _obj.forward(X, weights, readout, activation=activation, bias=net.bias,
                             parametrization=parametrization)
    n_snap_cols = width
    return TrainResult(
        objective=float(J_final),
        hidden=[np.asarray(h, dtype=float) for h in hidden],
        history=np.asarray(trace[1:], dtype=float),
        params=(weights, readout),
        network=net,
        outputs=np.asarray(F, dtype=float),
        initial_objective=trace[0],
        n_adam=n_adam,
        n_lbfgs=n_lbfgs,
        n_polish=n_polish,
        grad_norm=grad_norm,
        snapshot_steps=np.asarray(snap_steps, dtype=int),
        snapshots=np.asarray(snaps, dtype=float).reshape(len(snaps), P, n_snap_cols),
        seed=seed,
        settings=settings,
        wall_time=wall,
        stop_reason=stop_reason,
        last_improvement=_last_improvement(trace),
    )


# -- the kink polish (one hidden layer, piecewise-linear activation) ----------------------

# Thresholds on the normalised preactivation z / (|w| |x|) below which a condition counts as
# sitting on a unit's kink, tried from the loosest: a loose one catches kinks Adam left far
# from 0, a tight one avoids pinning conditions that only happen to be small.
_KINK_TOLS = (1e-2, 1e-3, 1e-4, 1e-6)
# Units whose directions agree to 1 - cos <= this are merged (and the merge kept only if J
# does not increase): near-duplicates from one optimal direction split their mass.
_MERGE_COS = 1e-6
_POLISH_ROUNDS = 30   # rounds of (find the kinks, solve on them)
_POLISH_ITERS = 100   # L-BFGS iterations per round at most
_POLISH_GRAD = 1e-12  # L-BFGS stops when the largest entry of the pinned gradient is below this
# A round that lowers J by less than this (relative) ends the polish. Rounds near the end
# gain little (small units decay slowly along nearly flat directions); this stops them far
# below the accuracy asked of training (1e-6) without paying for the crawl to rounding.
_POLISH_PROGRESS = 1e-9
# "converged": the gradient on the final piece is below sqrt(eps). At a smooth minimum
# J - J_min ~ |g|^2 / curvature, so from there on J is flat to rounding.
_POLISH_CONVERGED = math.sqrt(np.finfo(float).eps)


def polishable(activation, depth: int) -> bool:
    """Whether :func:`train`'s kink polish applies: one hidden layer and a piecewise-linear
    activation with a kink (ReLU, leaky ReLU, ``abs``; not ``linear``, which has none)."""
    act = get_activation(activation)
    return depth == 1 and act.piecewise_linear and not act.linear


def balance_and_merge(X, Y, weights, readout, *, reg: float, activation="relu", bias: bool = True,
                      parametrization: str = "standard", cos_tol: float = _MERGE_COS):
    r"""Rewrite a one-hidden-layer network with a positively homogeneous activation
    (:math:`\phi(tz) = t\phi(z)`, :math:`t > 0`) without increasing :math:`J`.

    Three moves, each keeping the width (units removed become exact zeros):

    * *dead units*, :math:`\phi(w_i\cdot\tilde x_\mu) = 0` on every condition (or
      :math:`a_i = 0`), contribute nothing to :math:`F` and are set to zero: :math:`F` is
      unchanged and the penalty drops by :math:`\|w_i\|^2 + \|a_i\|^2`.
    * *balancing*: :math:`(w_i, a_i) \to (\sqrt t\, w_i, a_i/\sqrt t)` with
      :math:`t = \|a_i\|/\|w_i\|` keeps :math:`a_i\phi(w_i\cdot\tilde x)` and lowers
      :math:`\|w_i\|^2 + \|a_i\|^2` to its minimum over :math:`t`, :math:`2\|w_i\|\|a_i\|`.
    * *merging* units with the same direction :math:`u = w_i/\|w_i\|`: their sum is
      :math:`\phi(u\cdot\tilde x)\,c` with :math:`c = \sum_i \|w_i\| a_i`, which one balanced
      unit :math:`(\sqrt{\|c\|}\,u,\ c/\sqrt{\|c\|})` computes at penalty
      :math:`2\|c\| \le \sum_i 2\|w_i\|\|a_i\|` (triangle inequality).

    Dead units and balancing leave :math:`F` unchanged (to rounding) and never raise
    :math:`J`. Units are grouped as parallel when :math:`1 - \cos \le` ``cos_tol``; for
    directions that agree only to that tolerance the merge changes :math:`F` slightly, so each
    group's merge is kept only if the exact :math:`J` (via :func:`abstractnb.objective.objective`)
    does not increase. The same holds in the mean-field parametrisation (every term is divided
    by :math:`N`).

    Parameters
    ----------
    X, Y : (P, d), (P, K) float64 tensors
    weights : sequence of one (N, d + bias) tensor
    readout : (N, K) tensor
    reg, activation, bias, parametrization : as in :func:`train`
    cos_tol : float

    Returns
    -------
    (W, A) : new float64 tensors of the same shapes.
    """
    if len(weights) != 1:
        raise ValueError(f"balance_and_merge needs one hidden layer; got {len(weights)}")
    act = get_activation(activation)
    if act.degree != 1:
        raise ValueError(f"balance_and_merge needs a positively homogeneous activation of degree 1; "
                         f"got {act.name}")

    def J(W, A):
        return float(_obj.objective(X, Y, [W], A, reg=reg, activation=activation, bias=bias,
                                    parametrization=parametrization))

    with torch.no_grad():
        W, A = weights[0].detach().clone(), readout.detach().clone()
        H = act(_obj.augment(X, bias) @ W.T)
        nw, na = W.norm(dim=1), A.norm(dim=1)
        dead = (H == 0).all(dim=0) | (nw == 0) | (na == 0)
        W[dead], A[dead] = 0.0, 0.0
        live = ~dead
        t = torch.ones_like(nw)
        t[live] = (na[live] / nw[live]).sqrt()
        W, A = W * t[:, None], A / t[:, None]
        idx = torch.nonzero(live).flatten()
        if idx.numel() < 2:
            return W, A
        U = W[idx] / W[idx].norm(dim=1, keepdim=True)
        close = (U @ U.T) >= 1.0 - cos_tol
        J_now = J(W, A)
        done = torch.zeros(idx.numel(), dtype=torch.bool, device=W.device)
        for k in range(idx.numel()):
            if done[k]:
                continue
            group = torch.nonzero(close[k] & ~done).flatten()
            done[group] = True
            if group.numel() < 2:
                continue
            g = idx[group]
            c = (W[g].norm(dim=1, keepdim=True) * A[g]).sum(dim=0)
            s = c.norm().sqrt()
            W2, A2 = W.clone(), A.clone()
            W2[g], A2[g] = 0.0, 0.0
            if s > 0:
                W2[g[0]], A2[g[0]] = s * U[k], c / s
            J_new = J(W2, A2)
            if J_new <= J_now:
                W, A, J_now = W2, A2, J_new
    return W, A


def _kink_projectors(Xa: torch.Tensor, W: torch.Tensor, tol: float) -> tuple[torch.Tensor, int]:
    r"""Per unit, the orthogonal projector onto :math:`\{w : w\cdot\tilde x_\mu = 0\}` for
    the conditions :math:`\mu` on its kink, :math:`|w_i\cdot\tilde x_\mu| \le \tau
    \|w_i\|\|\tilde x_\mu\|` with :math:`\tau` = ``tol`` (zero for a zero unit, which stays
    zero); and the number of (unit, condition) pairs pinned."""
    N, n_in = W.shape
    nw = W.norm(dim=1)
    nx = Xa.norm(dim=1).clamp_min(torch.finfo(DTYPE).tiny)
    live = nw > 0
    zeta = (Xa @ W.T) / (nx[:, None] * nw.clamp_min(torch.finfo(DTYPE).tiny)[None, :])
    kink = (zeta.abs() <= tol) & live[None, :]
    proj = torch.eye(n_in, dtype=DTYPE, device=W.device).repeat(N, 1, 1)
    proj[~live] = 0.0
    for i in torch.nonzero(kink.any(dim=0)).flatten().tolist():
        Q, sv, _ = torch.linalg.svd(Xa[kink[:, i]].T, full_matrices=False)
        Q = Q[:, sv > sv[0] * 1e-12]
        proj[i] -= Q @ Q.T
    return proj, int(kink.sum())


def _pinned_solve(J, W, A, proj, *, tol: float, iters: int, deadline):
    r"""L-BFGS on the true :math:`J` over :math:`(V, A)` with :math:`w_i = \Pi_i v_i`: the
    kinks found stay exactly at 0 and nothing else is constrained, so :math:`J` is smooth
    there until another condition reaches a kink (where this stalls and the next round pins
    it). Returns (W, A, J, gradient max, iterations, timed out)."""
    V = torch.einsum("nij,nj->ni", proj, W).clone().requires_grad_(True)
    A = A.clone().requires_grad_(True)
    opt = _lbfgs([V, A], tolerance_grad=_POLISH_GRAD)
    state = opt.state[V]

    def f():
        return J(torch.einsum("nij,nj->ni", proj, V), A)

    def closure():
        opt.zero_grad(set_to_none=False)
        loss = f()
        loss.backward()
        return loss

    with torch.no_grad():
        last = float(f())
    timed_out, stalled, n = False, 0, 0
    for _ in range(iters):
        if deadline is not None and time.perf_counter() > deadline:
            timed_out = True
            break
        before = state.get("n_iter", 0)
        opt.step(closure)
        if state.get("n_iter", 0) == before:
            break
        n += 1
        with torch.no_grad():
            value = float(f())
        if not math.isfinite(value):
            break
        stalled = stalled + 1 if last - value <= tol * abs(value) else 0
        last = value
        if stalled >= 3:
            break
    opt.zero_grad(set_to_none=False)
    loss = f()
    loss.backward()
    gmax = max(float(V.grad.abs().max()), float(A.grad.abs().max()))
    with torch.no_grad():
        W_new = torch.einsum("nij,nj->ni", proj, V)
    return W_new.detach(), A.detach().clone(), float(loss.detach()), gmax, n, timed_out


def _kink_polish(net: Network, X: torch.Tensor, Y: torch.Tensor, *, reg: float, tol: float, deadline):
    r"""The kink polish of :func:`train`, in place on ``net`` (one hidden layer, piecewise-linear
    activation). Returns (J after each round, stop reason, gradient on the final piece).

    A round: :func:`balance_and_merge`; then, for each threshold of ``_KINK_TOLS`` in turn,
    pin the conditions on each unit's kink (:func:`_kink_projectors`), minimise the true
    :math:`J` with them held at 0 (:func:`_pinned_solve`), merge again, and keep the result
    if :math:`J` went down. The round ends at the first threshold that lowers :math:`J` by
    more than ``tol`` :math:`|J|`; when none does the polish ends. The network kept is always
    the best seen, so :math:`J` never increases.
    """
    opts = dict(reg=reg, activation=net.activation, bias=net.bias, parametrization=net.parametrization)

    def J(W, A):
        return _obj.objective(X, Y, [W], A, **opts)

    Xa = _obj.augment(X, net.bias)
    W, A = net.weights[0].detach().clone(), net.readout.detach().clone()
    with torch.no_grad():
        best = float(J(W, A))
    trace, reason = [], "steps"
    for _ in range(_POLISH_ROUNDS):
        progress = False
        for ktol in _KINK_TOLS:
            if deadline is not None and time.perf_counter() > deadline:
                reason = "time_limit"
                break
            W0, A0 = balance_and_merge(X, Y, [W], A, **opts)
            proj, _ = _kink_projectors(Xa, W0, ktol)
            W1, A1, _, _, _, timed_out = _pinned_solve(J, W0, A0, proj, tol=tol, iters=_POLISH_ITERS,
                                                       deadline=deadline)
            W1, A1 = balance_and_merge(X, Y, [W1], A1, **opts)
            with torch.no_grad():
                J1 = float(J(W1, A1))
            if J1 < best:  # (False for NaN)
                progress = best - J1 > max(tol, _POLISH_PROGRESS) * abs(J1)
                W, A, best = W1, A1, J1
            if timed_out:
                reason = "time_limit"
                break
            if progress:
                break
        trace.append(best)
        if reason == "time_limit" or not progress:
            break
    with torch.no_grad():
        net.weights[0].copy_(W)
        net.readout.copy_(A)
    # The gradient on the piece where the final kinks stay at 0 (J has none at a kink).
    proj, _ = _kink_projectors(Xa, W, _KINK_TOLS[-1])
    *_, gmax, _, _ = _pinned_solve(J, W, A, proj, tol=tol, iters=0, deadline=None)
    if reason == "steps" and not progress:
        reason = "converged" if gmax <= _POLISH_CONVERGED else "stalled"
    return trace, reason, gmax


def _lbfgs(params, tolerance_grad: float = 1e-12) -> torch.optim.LBFGS:
    """The L-BFGS of both polishes. One iteration per ``step`` call, so that J can be recorded
    after each; the optimiser keeps its curvature memory between calls. ``max_eval`` must
    leave room for the strong-Wolfe line search."""
    return torch.optim.LBFGS(params, lr=1.0, max_iter=1, max_eval=40, history_size=100,
                             tolerance_grad=tolerance_grad, tolerance_change=0.0,
                             line_search_fn="strong_wolfe")


def _last_improvement(trace: list[float], window: int = 10) -> float:
    """Relative decrease of J over the last ``window`` recorded steps (0: no progress)."""
    if len(trace) < 2:
        return 0.0
    old, new = trace[-min(window, len(trace) - 1) - 1], trace[-1]
    return float((old - new) / abs(new)) if new != 0 else 0.0


# -- sweeps ---------------------------------------------------------------------------

def _grid_settings(grid: Mapping[str, Any], seeds) -> tuple[list[str], list[dict]]:
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a dict mapping a keyword of fn to its values; got {type(grid).__name__}")
    axes: dict[str, list] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid keys must be keyword names of fn; got {name!r}")
        if isinstance(values, (list, tuple, range, np.ndarray)):
            values = list(values)
        else:
            values = [values]  # a single setting, e.g. reg=1e-2
        if not values:
            raise ValueError(f"grid[{name!r}] is empty; give at least one value")
        axes[name] = values
    if seeds is not None:
        if "seed" in axes:
            raise ValueError("give the seeds either as grid['seed'] or as seeds=, not both")
        seeds = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
        if not seeds:
            raise ValueError("seeds is empty; give at least one seed or None")
        axes["seed"] = [as_seed(s) for s in seeds]
    names = list(axes)
    return names, [dict(zip(names, combo)) for combo in product(*axes.values())]


def _as_row(result, settings: dict) -> dict:
    if isinstance(result, Mapping):
        row = dict(result)
        clash = sorted(set(row) & set(settings))
        if clash:
            raise ValueError(f"fn returned keys {clash} that are also settings of the sweep; rename them")
        return row
    if result is None or isinstance(result, (Number, str, bool, np.generic)):
        return {"result": result}
    raise ValueError(f"fn must return a dict (or a scalar); got {type(result).__name__} for settings {settings}")


def _call(fn: Callable, settings: dict):
    return fn(**settings)


def sweep(fn: Callable[..., Any], grid: Mapping[str, Any], n_jobs: int = 1, backend: str = "loky",
          seeds: Sequence[int] | None = None, progress: bool = True):
    """Run ``fn(**settings)`` for every combination of the values in ``grid`` (and ``seeds``).

    Parameters
    ----------
    fn : callable
        Called with keyword arguments, one per grid key (plus ``seed=`` when ``seeds`` is
        given); returns a dict of results (or a scalar, stored as column ``result``).
        With process or Dask backends ``fn`` must be picklable (cloudpickle handles
        lambdas and local functions).
    grid : dict
        Keyword name -> list of values; a non-list value is a single setting. The runs are
        the Cartesian product, in order, with the last key (then ``seed``) varying fastest.
    n_jobs : int
        Parallel jobs for joblib (-1 = all cores). With ``backend="dask"`` the cluster's
        workers are used and ``n_jobs=1`` is read as -1 (all of them).
    backend : {"loky", "threading", "multiprocessing", "sequential", "dask"}
        ``"dask"`` runs the same sweep on a Dask cluster through joblib's Dask backend; it
        needs a :class:`dask.distributed.Client` connected in this process first, e.g.
        ``from dask.distributed import Client; client = Client("scheduler-address:8786")``
        (or ``Client(LocalCluster())``).
    seeds : sequence of int, optional
        Extra axis passed to ``fn`` as ``seed=``.
    progress : bool
        Show a tqdm progress bar over runs.

    Returns
    -------
    pandas.DataFrame
        One row per run: the setting columns, then the result columns.
    """
    import joblib
    import pandas as pd
    from tqdm.auto import tqdm

    if not callable(fn):
        raise ValueError(f"fn must be callable; got {type(fn).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (-1 = all cores); got {n_jobs!r}")
    n_jobs = int(n_jobs)
    names, runs = _grid_settings(grid, seeds)

    tasks = (joblib.delayed(_call)(fn, s) for s in runs)
    bar = tqdm(total=len(runs), desc="sweep", disable=not progress, leave=False)
    results = []
    try:
        if backend == "dask":
            try:
                from distributed import get_client
            except ImportError as err:
                raise ValueError("backend='dask' needs dask.distributed: pip install 'dask[distributed]'") from err
            try:
                get_client()
            except ValueError as err:
                raise ValueError("backend='dask' needs a dask.distributed Client in this process; create one "
                                 "first, e.g. `from dask.distributed import Client; client = Client()`") from err
            with joblib.parallel_config(backend="dask"):
                parallel = joblib.Parallel(n_jobs=-1 if n_jobs == 1 else n_jobs, return_as="generator")
                for r in parallel(tasks):
                    results.append(r)
                    bar.update(1)
        else:
            parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
            for r in parallel(tasks):
                results.append(r)
                bar.update(1)
    finally:
        bar.close()

    rows = []
    for s, r in zip(runs, results):
        rows.append({**s, **_as_row(r, s)})
    return pd.DataFrame(rows)
