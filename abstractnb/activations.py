r"""Activation functions: one registry used by the objective, training and the solver.

Each entry carries the function in numpy and in torch and the properties that decide which
convex problem describes the global minima (the solver reads these, never the name):

- ``slopes = (a_-, a_+)``: :math:`\phi(z) = a_+ z` for :math:`z > 0` and :math:`a_- z` for
  :math:`z < 0` (ReLU (0, 1), leaky ReLU (s, 1), :math:`|z|` (-1, 1), linear (1, 1)).
  Such :math:`\phi` are positively homogeneous of degree 1, so the optimum does not depend
  on the width and is found and certified exactly (the features are linear on each face of
  the hyperplane arrangement of the conditions).
- ``bounded``: :math:`\sup|\phi| < \infty` (tanh, erf, a centred sigmoid): the convex problem
  is the mean-field (:math:`N\to\infty`) limit.
- ``degree``: the degree :math:`\alpha` of positive homogeneity
  (:math:`\phi(cz) = c^\alpha\phi(z)`, :math:`c > 0`), or None. For :math:`\alpha > 1`
  (relu²) the mean-field problem degenerates (:math:`J_N \to 0` as the width grows).

Adding an activation is one :func:`register` call with these properties.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Slope of ``leaky_relu`` on negative inputs (PyTorch's default); other slopes via
#: :func:`leaky_relu`.
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """A pointwise nonlinearity, in numpy and torch, with the properties the solvers read.

    Attributes
    ----------
    name : str
    numpy : callable, ndarray -> ndarray
    torch : callable, Tensor -> Tensor
    degree : float or None
        Degree of positive homogeneity, or None.
    slopes : (float, float) or None
        ``(a_-, a_+)`` of a piecewise-linear activation through 0, else None.
    bounded : bool
        Whether :math:`\\sup_z|\\phi(z)| < \\infty`.
    derivative : callable or None
        :math:`\\phi'` in numpy (needed by the mean-field solver for bounded activations).
    lipschitz, curvature : float or None
        :math:`\\sup|\\phi'|` and :math:`\\sup|\\phi''|` of a bounded, increasing activation
        with :math:`|\\phi| \\le 1`: with them the mean-field bound is certified by branch and
        bound (:mod:`abstractnb.meanfield.energy`); without them it comes from a search.
    """

    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    torch: Callable
    degree: float | None
    slopes: tuple[float, float] | None = None
    bounded: bool = False
    derivative: Callable[[np.ndarray], np.ndarray] | None = None
    lipschitz: float | None = None
    curvature: float | None = None

    def __post_init__(self):
        if self.slopes is not None:
            lo, hi = (float(s) for s in self.slopes)
            if not (np.isfinite(lo) and np.isfinite(hi)) or (lo == 0 and hi == 0):
                raise ValueError(f"slopes must be two finite numbers, not both 0; got {self.slopes}")
            if self.degree != 1:
                raise ValueError("a piecewise-linear activation through 0 has degree 1; "
                                 f"got degree={self.degree}")

    @property
    def piecewise_linear(self) -> bool:
        """Positively homogeneous of degree 1 with two slopes: exact finite-width convex problem."""
        return self.slopes is not None

    @property
    def linear(self) -> bool:
        """One slope on both sides: :math:`\\phi(z) = a z`."""
        return self.slopes is not None and self.slopes[0] == self.slopes[1]

    @property
    def superlinear(self) -> bool:
        """Homogeneous of degree > 1: no mean-field minimiser."""
        return self.degree is not None and self.degree > 1

    def __call__(self, z):
        """Apply to a numpy array or a torch tensor."""
        if isinstance(z, np.ndarray) or np.isscalar(z):
            return self.numpy(np.asarray(z, dtype=float))
        return self.torch(z)


def _piecewise_linear(name: str, lo: float, hi: float) -> Activation:
    """phi(z) = hi z (z > 0), lo z (z < 0), in numpy and torch."""
    lo, hi = float(lo), float(hi)

    def numpy_fn(z):
        z = np.asarray(z, dtype=float)
        return np.where(z > 0, hi * z, lo * z)

    def torch_fn(t):
        return hi * t.clamp(min=0) + lo * t.clamp(max=0)

    return Activation(name, numpy_fn, torch_fn, 1.0, slopes=(lo, hi))


def _erf(z):
    from scipy.special import erf

    return erf(z)


# Tensor methods keep this module free of a torch import.
ACTIVATIONS: dict[str, Activation] = {}


def register(activation: Activation, *, overwrite: bool = False) -> Activation:
    """Add ``activation`` to the registry under its name (so ``train``, ``solve`` and
    ``certify`` accept the name); returns it."""
    if not isinstance(activation, Activation):
        raise TypeError(f"register expects an Activation; got {type(activation).__name__}")
    key = activation.name.lower()
    if key in ACTIVATIONS and not overwrite and ACTIVATIONS[key] != activation:
        raise ValueError(f"an activation named {activation.name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    ACTIVATIONS[key] = activation
    return activation


def leaky_relu(slope: float = LEAKY_SLOPE) -> Activation:
    """The leaky ReLU with negative slope ``slope``, registered as ``leaky_relu_<slope>``
    (``"leaky_relu"`` is the default slope :data:`LEAKY_SLOPE`)."""
    slope = float(slope)
    if not np.isfinite(slope):
        raise ValueError(f"slope must be finite; got {slope}")
    name = "leaky_relu" if slope == LEAKY_SLOPE else f"leaky_relu_{slope:g}"
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    return register(_piecewise_linear(name, slope, 1.0))


for _act in (
    _piecewise_linear("relu", 0.0, 1.0),
    _piecewise_linear("abs", -1.0, 1.0),
    _piecewise_linear("linear", 1.0, 1.0),
    # sup|tanh''| = 4 / (3 sqrt 3), at tanh(z)^2 = 1/3.
    Activation("tanh", np.tanh, lambda t: t.tanh(), None, bounded=True,
               derivative=lambda z: 1.0 - np.tanh(z) ** 2, lipschitz=1.0, curvature=4 / (3 * np.sqrt(3))),
    # erf'' = -(4 / sqrt pi) z exp(-z^2), largest at z^2 = 1/2.
    Activation("erf", _erf, lambda t: t.erf(), None, bounded=True,
               derivative=lambda z: 2 / np.sqrt(np.pi) * np.exp(-np.asarray(z) ** 2),
               lipschitz=2 / np.sqrt(np.pi), curvature=4 / np.sqrt(2 * np.pi) * np.exp(-0.5)),
    # 2 sigmoid(z) - 1 = tanh(z / 2): a sigmoid centred on 0.
    Activation("sigmoid_centred", lambda z: np.tanh(np.asarray(z, dtype=float) / 2),
               lambda t: 2 * t.sigmoid() - 1, None, bounded=True,
               derivative=lambda z: 0.5 * (1.0 - np.tanh(np.asarray(z, dtype=float) / 2) ** 2),
               lipschitz=0.5, curvature=1 / (3 * np.sqrt(3))),
    Activation("relu2", lambda z: np.maximum(z, 0.0) ** 2, lambda t: t.relu() ** 2, 2.0),
):
    register(_act)
leaky_relu()


def get_activation(activation: str | Activation | Callable) -> Activation:
    """Look up an activation by name (see ``ACTIVATIONS``).

    An :class:`Activation` is returned as is. Any other callable is wrapped: it must
    act elementwise on torch tensors (it is applied to numpy arrays through torch),
    and it has none of the properties the solvers need (use :func:`register` for that).
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.lower().replace("²", "2").replace("^2", "2")
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} or pass a callable"
            )
        return ACTIVATIONS[key]
    if callable(activation):
        def _numpy(z, fn=activation):
            import torch

            return fn(torch.as_tensor(np.asarray(z, dtype=float))).detach().numpy()

        name = getattr(activation, "__name__", "custom")
        return Activation(name, _numpy, activation, None)
    raise ValueError(f"activation must be a name or a callable; got {type(activation).__name__}")
