import numpy as np
import pytest

from abstractnb import inputs, objective, preactivations as pa, tasks, theory


@pytest.mark.parametrize("D", [1, 2, 3, 4])
@pytest.mark.parametrize("geometry", ["aligned", "whitened"])
def test_modular_closed_form_is_consistent(D, geometry):
    S = tasks.binary_latents(D)
    X = getattr(inputs, geometry)(S)
    reg = 0.05
    r = theory.modular_optimum(X, S, reg)
    # The network it builds has exactly the closed-form objective and kernel.
    J = objective.objective(X, S, r.weights, r.readout, reg=reg)
    assert J == pytest.approx(r.objective, rel=1e-12)
    H = np.maximum(np.c_[X, np.ones(len(X))] @ r.weights[0].T, 0)
    np.testing.assert_allclose(H @ H.T, r.kernel, atol=1e-12)
    # m* minimises J over the common mass of the modular units.
    base = r.kernel / r.mass
    def J_of(m):
        return pa.kernel_objective(m * base, S, reg, mass=2 * D * m)
    assert J_of(r.mass) == pytest.approx(r.objective, rel=1e-12)
    assert J_of(r.mass * 1.01) > r.objective and J_of(r.mass * 0.99) > r.objective
    if geometry == "aligned":
        assert r.beta == pytest.approx(1.0)
        assert r.objective == pytest.approx(2 * D * reg * (np.sqrt(2) - reg))


def test_large_reg_gives_the_zero_network():
    S = tasks.binary_latents(2)
    r = theory.modular_optimum(inputs.aligned(S), S, reg=1.0)
    assert r.mass == 0 and r.objective == 2.0
    np.testing.assert_allclose(r.kernel, 0)


def test_unequal_costs_rejected():
    S = tasks.binary_latents(2)
    X = inputs.aligned(S) * np.array([1.0, 3.0])
    with pytest.raises(ValueError, match="cost the same"):
        theory.modular_optimum(X, S, 0.1)
