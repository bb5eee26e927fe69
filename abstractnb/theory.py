r"""Closed forms derived in the book, checked against the convex solver in the tests.

The modular solution
--------------------
Targets equal to the latents, :math:`Y = S` (:math:`P = 2^D` conditions), ReLU units with a
bias, standard parametrisation. Consider the :math:`2D` *modular* units, each selective to
one value of one latent,

.. math:: z_k^\pm = c\,(\mathbf 1 \pm s_k), \qquad h_k^\pm = \mathrm{relu}(z_k^\pm) = z_k^\pm,

with :math:`c` set so that each costs one unit of squared weight norm,
:math:`c^2 (\mathbf 1 \pm s_k)^\top G^+ (\mathbf 1 \pm s_k) = 1`. Giving all of them mass
:math:`m` yields the kernel

.. math:: \Sigma = m\sum_{k,\pm} h_k^\pm h_k^{\pm\top} = m\,\beta\,(D\,\mathbf 1\mathbf 1^\top + SS^\top),
    \qquad \beta = 2c^2,

which is abstract (affine in the latents, parallelism score 1). Since the columns of
:math:`S` are orthogonal with squared norm :math:`P` and orthogonal to :math:`\mathbf 1`,
:math:`J(m) = \lambda DP/(\beta m P + P\lambda) + 2D\lambda m`, minimised at

.. math:: m^* = \frac{\sqrt{\beta/2} - \lambda}{\beta}, \qquad
    J^* = 2D\lambda\sqrt{2/\beta} - \frac{2D\lambda^2}{\beta}\quad (\lambda < \sqrt{\beta/2}),

and :math:`m^* = 0`, :math:`J^* = D` (the zero network) for :math:`\lambda \ge \sqrt{\beta/2}`.
The dual point is :math:`Z = (\Sigma + P\lambda I)^{-1} S`. That this is the *global*
optimum is exactly the statement that :math:`\max_{\|w\|=1}\|Z^\top\mathrm{relu}(\tilde Xw)\| \le 1`,
which :func:`abstractnb.meanfield.certify` checks exactly. Aligned inputs give :math:`\beta = 1`;
whitened inputs :math:`\beta = 2D(D+P)/(P(2D+P))`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_latents, as_matrix, positive
from .preactivations import input_cost, min_norm_weights


@dataclass(frozen=True)
class ModularOptimum:
    """The modular closed-form solution (see module docstring).

    Attributes
    ----------
    objective : float            J* of the closed form
    beta : float                 2 c^2, the squared scale of a unit-cost modular unit
    mass : float                 m*, the squared weight norm of each of the 2D units
    atoms : (2D, P) array        unit-cost preactivations z_k^+, z_k^- (k = 0..D-1)
    kernel : (P, P) array        Sigma* = m* beta (D 11^T + S S^T)
    dual : (P, D) array          Z = (Sigma* + P reg I)^{-1} S
    weights, readout : arrays    a network of width 2D realising it (standard parametrisation)
    """

    objective: float
    beta: float
    mass: float
    atoms: np.ndarray
    kernel: np.ndarray
    dual: np.ndarray
    weights: list
    readout: np.ndarray


def modular_optimum(X, S, reg: float, *, rtol: float = 1e-9) -> ModularOptimum:
    r"""Closed-form optimum of the latent task :math:`Y = S` with ReLU and a bias.

    Valid when every modular unit costs the same (aligned and whitened inputs do);
    raises ``ValueError`` otherwise.

    Parameters
    ----------
    X : (P, d) inputs; S : (P, D) latents (+-1); reg : lambda > 0.
    """
    S = as_latents(S)
    X = as_matrix(X, "X", rows=S.shape[0])
    reg = positive(reg, "reg")
    P, D = S.shape
    shapes = np.concatenate([1 + S.T, 1 - S.T])            # (2D, P): 1 +- s_k
    costs = input_cost(X, shapes, bias=True)
    if not np.all(np.isfinite(costs)):
        raise ValueError("some modular unit cannot be produced from these inputs (its preactivation is "
                         "outside the range of the input kernel)")
    if np.ptp(costs) > rtol * costs.max():
        raise ValueError(f"the modular closed form needs every modular unit to cost the same; costs range "
                         f"over [{costs.min():.6g}, {costs.max():.6g}] for these inputs")
    c2 = 1.0 / costs[0]
    beta = 2.0 * c2
    threshold = np.sqrt(beta / 2)
    if reg < threshold:
        mass = (threshold - reg) / beta
        J = 2 * D * reg * np.sqrt(2 / beta) - 2 * D * reg ** 2 / beta
    else:
        mass, J = 0.0, float(D)
    atoms = np.sqrt(c2) * shapes
    kernel = mass * beta * (D * np.ones((P, P)) + S @ S.T)
    dual = np.linalg.solve(kernel + P * reg * np.eye(P), S)
    # A finite network: unit j has w_j = sqrt(m) * (min-norm weight of atom j), readout a_j = m Z^T h_j / sqrt(m).
    w_unit = min_norm_weights(X, atoms, bias=True)          # (2D, d+1), each of norm 1
    weights = [np.sqrt(mass) * w_unit]
    readout = np.sqrt(mass) * (np.maximum(atoms, 0) @ dual)  # (2D, D)
    return ModularOptimum(objective=float(J), beta=float(beta), mass=float(mass), atoms=atoms,
                          kernel=kernel, dual=dual, weights=weights, readout=readout)
