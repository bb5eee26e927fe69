r"""Activation functions: one registry used by the objective, training and the solver.

Each entry carries the function in numpy and in torch and its degree of positive
homogeneity :math:`\alpha` (:math:`\phi(c z) = c^\alpha \phi(z)` for :math:`c>0`), or
``None`` when there is none. The degree decides which convex problem describes the
global minima: for :math:`\alpha = 1` (ReLU, linear) the optimum does not depend on
the width; for bounded :math:`\phi` (tanh) the convex problem is the mean-field limit;
for :math:`\alpha > 1` (relu²) the mean-field problem degenerates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Activation:
    """A pointwise nonlinearity, in numpy and torch.

    Attributes
    ----------
    name : str
    numpy : callable, ndarray -> ndarray
    torch : callable, Tensor -> Tensor
    degree : float or None
        Degree of positive homogeneity, or None.
    """

    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    torch: Callable
    degree: float | None

    def __call__(self, z):
        """Apply to a numpy array or a torch tensor."""
        if isinstance(z, np.ndarray) or np.isscalar(z):
            return self.numpy(np.asarray(z, dtype=float))
        return self.torch(z)


# Tensor methods keep this module free of a torch import.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda z: np.maximum(z, 0.0), lambda t: t.relu(), 1.0),
    "tanh": Activation("tanh", np.tanh, lambda t: t.tanh(), None),
    "relu2": Activation("relu2", lambda z: np.maximum(z, 0.0) ** 2, lambda t: t.relu() ** 2, 2.0),
    "linear": Activation("linear", lambda z: np.asarray(z, dtype=float), lambda t: t, 1.0),
}


def get_activation(activation: str | Activation | Callable) -> Activation:
    """Look up an activation by name (``relu``, ``tanh``, ``relu2``, ``linear``).

    An :class:`Activation` is returned as is. Any other callable is wrapped: it must
    act elementwise on torch tensors (it is applied to numpy arrays through torch),
    and it is treated as not homogeneous.
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
