import numpy as np
import pytest

from abstractnb import inputs, objective, preactivations as pa, tasks


@pytest.fixture
def problem():
    S = tasks.binary_latents(3)
    rng = np.random.default_rng(1)
    W = rng.standard_normal((7, 4))
    return S, inputs.aligned(S), W


def test_reduced_coordinates_reproduce_inputs(problem):
    S, X, _ = problem
    red = pa.reduce_inputs(X, bias=True)
    Xt = np.c_[X, np.ones(len(X))]
    np.testing.assert_allclose(red.L @ red.V.T, Xt, atol=1e-12)
    np.testing.assert_allclose(red.V.T @ red.V, np.eye(red.rank), atol=1e-12)
    assert red.rank == 4 and pa.reduce_inputs(X, bias=False).rank == 3


def test_input_cost_is_least_weight_norm(problem):
    S, X, W = problem
    Xt = np.c_[X, np.ones(len(X))]
    z = Xt @ W.T                                   # (P, 7): preactivations of 7 units
    cost = pa.input_cost(X, z.T)
    # Full-column-rank inputs: the weight producing z is unique, so the cost is its norm.
    np.testing.assert_allclose(cost, np.sum(W ** 2, axis=1), rtol=1e-10)
    w = pa.min_norm_weights(X, z.T)
    np.testing.assert_allclose(w @ Xt.T, z.T, atol=1e-10)
    # Whitened inputs without bias: cost is |z|^2 / D.
    Xw = inputs.whitened(S)
    zz = np.arange(8.0)
    assert pa.input_cost(Xw, zz, bias=False) == pytest.approx(zz @ zz / 3)


def test_all_zero_inputs_have_rank_zero():
    red = pa.reduce_inputs(np.zeros((8, 3)), bias=False)
    assert red.rank == 0 and red.L.shape == (8, 0)
    assert pa.input_cost(np.zeros((8, 3)), np.zeros(8), bias=False) == 0.0
    assert np.isinf(pa.input_cost(np.zeros((8, 3)), np.ones(8), bias=False))


def test_input_cost_infinite_outside_range(problem):
    S, X, _ = problem
    z = np.zeros(8)
    z[0] = 1.0                                     # one-hot is not affine in s: not producible
    assert np.isinf(pa.input_cost(X, z))


def test_eliminating_the_readout(problem):
    S, X, W = problem
    reg = 0.07
    H = np.maximum(np.c_[X, np.ones(8)] @ W.T, 0)
    A = pa.ridge_readout(H, S, reg)
    J = objective.objective(X, S, [W], A, reg=reg)
    assert pa.kernel_objective(H @ H.T, S, reg, mass=np.sum(W ** 2)) == pytest.approx(J, rel=1e-12)
    # Any other readout is worse.
    for eps in (1e-3, -1e-3):
        assert objective.objective(X, S, [W], A + eps, reg=reg) > J


def test_readout_value_depends_on_outputs_only_through_YYt(problem):
    S, X, W = problem
    H = np.maximum(np.c_[X, np.ones(8)] @ W.T, 0)
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))
    assert pa.readout_value(H @ H.T, S @ Q, 0.1) == pytest.approx(pa.readout_value(H @ H.T, S, 0.1))


def test_errors(problem):
    S, X, W = problem
    with pytest.raises(ValueError, match="entries"):
        pa.input_cost(X, np.ones(5))
    with pytest.raises(ValueError, match="square"):
        pa.readout_value(np.ones((8, 3)), S, 0.1)
    with pytest.raises(ValueError, match="reg"):
        pa.ridge_readout(np.ones((8, 2)), S, 0.0)
    with pytest.raises(ValueError, match="rows"):
        pa.ridge_readout(np.ones((8, 2)), S[:4], 0.1)
