r"""THE objective: one definition of the network and of :math:`J`, for numpy and torch.

A network with :math:`L` hidden layers maps the inputs of the :math:`P` conditions,
:math:`X \in \mathbb{R}^{P\times d}`, to outputs :math:`F \in \mathbb{R}^{P\times K}`:

.. math::

    H_0 = X,\qquad H_l = \phi(\tilde H_{l-1} W_l^\top),\qquad F = c\, H_L A,

where :math:`\tilde H = [H, \mathbf 1]` when ``bias=True`` (a bias is a weight on a
constant input, so weight decay applies to it like to every other weight) and
:math:`\tilde H = H` otherwise. ``W_l`` has shape (N_l, N_{l-1} + bias) and the
readout ``A`` has shape (N_L, K).

*Standard* parametrisation (:math:`c = 1`):

.. math:: J = \tfrac1P\|F - Y\|_F^2 + \lambda\Big(\sum_l \|W_l\|_F^2 + \|A\|_F^2\Big).

*Mean-field* parametrisation (one hidden layer of width :math:`N`, :math:`c = 1/N`):

.. math:: J = \tfrac1P\|F - Y\|_F^2 + \tfrac{\lambda}{N}\big(\|W\|_F^2 + \|A\|_F^2\big).

Every module that needs :math:`J` calls :func:`objective`; none re-implements it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._validate import as_bool, as_matrix, nonnegative
from .activations import get_activation

PARAMETRIZATIONS = ("standard", "mean_field")


def check_parametrization(parametrization: str) -> str:
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {parametrization!r}; choose one of {PARAMETRIZATIONS}")
    return parametrization


def augment(H, bias: bool):
    """Append a constant-1 column to ``H`` (numpy array or torch tensor) if ``bias``."""
    if not as_bool(bias, "bias"):
        return H
    if isinstance(H, np.ndarray):
        return np.concatenate([H, np.ones((H.shape[0], 1), dtype=H.dtype)], axis=1)
    import torch

    return torch.cat([H, torch.ones(H.shape[0], 1, dtype=H.dtype, device=H.device)], dim=1)


def forward(X, weights: Sequence, readout, *, activation="relu", bias: bool = True,
            parametrization: str = "standard"):
    """Outputs and hidden layers of the network.

    Parameters
    ----------
    X : (P, d) array or tensor
    weights : list of (N_l, N_{l-1} + bias) arrays, one per hidden layer
    readout : (N_L, K) array
    Returns
    -------
    F : (P, K) outputs
    hidden : list of (P, N_l) hidden representations (last = last hidden layer)
    """
    check_parametrization(parametrization)
    phi = get_activation(activation)
    H = X
    hidden = []
    for W in weights:
        H = phi(augment(H, bias) @ W.T)
        hidden.append(H)
    F = H @ readout
    if parametrization == "mean_field":
        F = F / readout.shape[0]
    return F, hidden


def penalty(weights: Sequence, readout, parametrization: str = "standard"):
    r"""Weight-decay term without :math:`\lambda`: :math:`\sum_l\|W_l\|^2 + \|A\|^2`, divided by
    :math:`N` in the mean-field parametrisation."""
    check_parametrization(parametrization)
    total = sum((W ** 2).sum() for W in weights) + (readout ** 2).sum()
    if parametrization == "mean_field":
        total = total / readout.shape[0]
    return total


def objective(X, Y, weights: Sequence, readout, *, reg: float, activation="relu", bias: bool = True,
              parametrization: str = "standard"):
    r"""The objective :math:`J = \frac1P\|F-Y\|_F^2 + \lambda\,\mathrm{penalty}` (see module docstring).

    Works on numpy arrays (returns a float) and on torch tensors (returns a 0-d tensor
    that can be differentiated).
    """
    if parametrization == "mean_field" and len(weights) != 1:
        raise ValueError("the mean-field parametrisation is defined for one hidden layer only; "
                         f"got {len(weights)} layers")
    reg = nonnegative(reg, "reg")
    if not hasattr(X, "detach"):  # numpy path (torch tensors come from the training loop, checked there)
        X, Y = as_matrix(X, "X"), as_matrix(Y, "Y")
    F, _ = forward(X, weights, readout, activation=activation, bias=bias, parametrization=parametrization)
    P = X.shape[0]
    J = ((F - Y) ** 2).sum() / P + reg * penalty(weights, readout, parametrization)
    return float(J) if isinstance(J, (np.ndarray, np.floating, float)) else J
