"""Known answers and error paths of the core modules: _validate, tasks, inputs,
activations, objective."""
import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from abstractnb import _validate as V
from abstractnb.activations import ACTIVATIONS, Activation, get_activation
from abstractnb.inputs import aligned, random_embedding, whitened
from abstractnb.objective import augment, check_parametrization, forward, objective, penalty
from abstractnb.tasks import binary_latents, latent_targets, linear_tasks, parity_targets

# ----------------------------------------------------------------------------- _validate


def test_as_matrix():
    A = V.as_matrix([1, 2, 3], "a")
    assert A.shape == (3, 1) and A.dtype == np.float64
    B = V.as_matrix([[1, 2], [3, 4]], "b", rows=2, cols=2)
    np.testing.assert_array_equal(B, [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="a must be a 2-D array"):
        V.as_matrix(np.zeros((2, 2, 2)), "a")
    with pytest.raises(ValueError, match="a must be non-empty"):
        V.as_matrix(np.zeros((0, 3)), "a")
    with pytest.raises(ValueError, match="a must have 3 rows"):
        V.as_matrix(np.zeros((2, 2)), "a", rows=3)
    with pytest.raises(ValueError, match="a must have 3 columns"):
        V.as_matrix(np.zeros((2, 2)), "a", cols=3)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="a contains NaN or inf"):
            V.as_matrix([[1.0, bad]], "a")


def test_as_latents():
    S = V.as_latents([[1, -1], [-1, 1]])
    assert S.dtype == np.float64
    with pytest.raises(ValueError, match=r"\+1 or -1 only"):
        V.as_latents([[1, 0], [-1, 1]])
    with pytest.raises(ValueError, match=r"\+1 or -1 only"):
        V.as_latents([[2, -1], [-1, 1]])
    with pytest.raises(ValueError, match="latent 1 takes only one value"):
        V.as_latents([[1, 1], [-1, 1]])
    with pytest.raises(ValueError, match="NaN or inf"):
        V.as_latents([[1, np.nan], [-1, 1]])
    with pytest.raises(ValueError, match="2-D"):
        V.as_latents(np.ones((2, 2, 2)))


def test_scalar_checks():
    assert V.positive(2, "x") == 2.0 and isinstance(V.positive(2, "x"), float)
    assert V.nonnegative(0, "x") == 0.0
    assert V.positive_int(3.0, "n") == 3 and V.positive_int(np.int64(4), "n") == 4
    assert V.positive_int(0, "n", minimum=0) == 0
    for bad in (0, -1, np.nan, np.inf):
        with pytest.raises(ValueError, match="x must be a finite number > 0"):
            V.positive(bad, "x")
    for bad in (-1e-9, np.nan, np.inf):
        with pytest.raises(ValueError, match="x must be a finite number >= 0"):
            V.nonnegative(bad, "x")
    with pytest.raises(ValueError, match="n must be an integer"):
        V.positive_int(2.5, "n")
    with pytest.raises(ValueError, match="n must be an integer"):
        V.positive_int(True, "n")
    with pytest.raises(ValueError, match="n must be >= 1"):
        V.positive_int(0, "n")
    with pytest.raises(ValueError, match="n must be >= 3"):
        V.positive_int(2, "n", minimum=3)


# ----------------------------------------------------------------------------- tasks


def test_binary_latents_order_and_shape():
    np.testing.assert_array_equal(binary_latents(1), [[-1], [1]])
    np.testing.assert_array_equal(binary_latents(2), [[-1, -1], [-1, 1], [1, -1], [1, 1]])
    for D in range(1, 7):
        S = binary_latents(D)
        assert S.shape == (2 ** D, D) and S.dtype == np.float64
        # Row index = the latents read as a binary number, last latent least significant.
        codes = ((S > 0).astype(int) * 2 ** np.arange(D - 1, -1, -1)).sum(axis=1)
        np.testing.assert_array_equal(codes, np.arange(2 ** D))


def test_binary_latents_errors():
    with pytest.raises(ValueError, match="n_latents must be >= 1"):
        binary_latents(0)
    with pytest.raises(ValueError, match="n_latents must be >= 1"):
        binary_latents(-2)
    with pytest.raises(ValueError, match="too many to enumerate"):
        binary_latents(17)
    with pytest.raises(ValueError, match="n_latents must be an integer"):
        binary_latents(2.5)
    with pytest.raises(ValueError, match="n_latents must be an integer"):
        binary_latents(True)


def test_latent_targets():
    S = binary_latents(3)
    Y = latent_targets(S)
    np.testing.assert_array_equal(Y, S)
    assert Y is not S and not np.shares_memory(Y, S)
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        latent_targets(S * 2)


def test_linear_tasks():
    S = binary_latents(4)
    Y = linear_tasks(S, 5, seed=3)
    assert Y.shape == (16, 5)
    assert np.all(np.isin(Y, (-1.0, 1.0)))
    np.testing.assert_array_equal(Y, linear_tasks(S, 5, seed=3))
    assert not np.array_equal(Y, linear_tasks(S, 5, seed=4))
    # Each task is a hyperplane through the centre: y (S w) >= 1 is feasible.
    for y in Y.T:
        res = linprog(np.zeros(4), A_ub=-(y[:, None] * S), b_ub=-np.ones(16), bounds=[(None, None)] * 4)
        assert res.status == 0
    # Negation symmetry of such a task: y(-s) = -y(s).
    np.testing.assert_array_equal(Y[::-1], -Y)


def test_linear_tasks_errors():
    S = binary_latents(2)
    with pytest.raises(ValueError, match="n_tasks must be >= 1"):
        linear_tasks(S, 0, seed=0)
    with pytest.raises(ValueError, match="n_tasks must be an integer"):
        linear_tasks(S, 1.5, seed=0)
    with pytest.raises(ValueError, match="only one value"):
        linear_tasks(np.ones((4, 2)), 1, seed=0)


def test_parity_targets():
    S = binary_latents(3)
    np.testing.assert_array_equal(parity_targets(S, [0, 2]), (S[:, 0] * S[:, 2])[:, None])
    np.testing.assert_array_equal(parity_targets(S, 1), S[:, [1]])
    np.testing.assert_array_equal(parity_targets(S, (0, 1, 2)), S.prod(axis=1, keepdims=True))
    # A parity of two or more latents is balanced and uncorrelated with every latent.
    y = parity_targets(S, [0, 1])[:, 0]
    assert y.sum() == 0 and np.all(S.T @ y == 0)


def test_parity_targets_errors():
    S = binary_latents(3)
    with pytest.raises(ValueError, match="at least one latent"):
        parity_targets(S, [])
    for bad in ([3], [-1], [0, 5], [1.5]):
        with pytest.raises(ValueError, match="latent index .* out of range for 3 latents"):
            parity_targets(S, bad)
    with pytest.raises(ValueError, match="repeated latents"):
        parity_targets(S, [1, 1])
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        parity_targets(np.zeros((4, 2)), [0])


# ----------------------------------------------------------------------------- inputs


def mean_sq_norm(X):
    return np.mean(np.sum(X ** 2, axis=1))


@pytest.mark.parametrize("D", [1, 2, 4])
def test_aligned_and_whitened(D):
    S = binary_latents(D)
    X = aligned(S)
    np.testing.assert_array_equal(X, S)
    assert not np.shares_memory(X, S)
    W = whitened(S)
    np.testing.assert_allclose(W, np.sqrt(D) * np.eye(2 ** D), rtol=1e-15)
    np.testing.assert_allclose(W @ W.T, D * np.eye(2 ** D), rtol=1e-14)
    assert mean_sq_norm(W) == pytest.approx(D, rel=1e-14)
    assert mean_sq_norm(X) == pytest.approx(D, rel=1e-14)


def test_random_embedding():
    S = binary_latents(3)
    X = random_embedding(S, 50, seed=1)
    assert X.shape == (8, 50)
    assert np.all(X >= 0)  # relu
    assert mean_sq_norm(X) == pytest.approx(3.0, rel=1e-12)
    np.testing.assert_array_equal(X, random_embedding(S, 50, seed=1))
    assert not np.allclose(X, random_embedding(S, 50, seed=2))
    Xt = random_embedding(S, 20, activation="tanh", seed=1)
    assert Xt.shape == (8, 20) and np.any(Xt < 0)
    assert mean_sq_norm(Xt) == pytest.approx(3.0, rel=1e-12)
    # A linear embedding keeps the conditions on an affine image of the cube.
    Xl = random_embedding(S, 10, activation="linear", seed=0)
    A = np.column_stack([np.ones(8), S])
    np.testing.assert_allclose(A @ np.linalg.lstsq(A, Xl, rcond=None)[0], Xl, atol=1e-12)


def test_input_errors():
    S = binary_latents(2)
    for fn in (aligned, whitened, lambda s: random_embedding(s, 4)):
        with pytest.raises(ValueError, match=r"\+1 or -1"):
            fn(np.zeros((4, 2)))
        with pytest.raises(ValueError, match="NaN or inf"):
            fn(np.where(S > 0, np.inf, -1.0))
        with pytest.raises(ValueError, match="only one value"):
            fn(np.column_stack([S, -np.ones(4)]))
    with pytest.raises(ValueError, match="dim must be >= 1"):
        random_embedding(S, 0)
    with pytest.raises(ValueError, match="unknown activation 'sigmoidish'"):
        random_embedding(S, 4, activation="sigmoidish")
    zero = Activation("zero", lambda z: 0.0 * z, lambda t: 0.0 * t, 1.0)
    with pytest.raises(ValueError, match="identically zero"):
        random_embedding(S, 4, activation=zero)


# ----------------------------------------------------------------------------- activations


def test_activation_registry():
    assert get_activation("ReLU") is ACTIVATIONS["relu"]
    assert get_activation("relu²") is ACTIVATIONS["relu2"]
    assert get_activation("relu^2") is ACTIVATIONS["relu2"]
    act = ACTIVATIONS["tanh"]
    assert get_activation(act) is act
    z = np.linspace(-3, 3, 13)
    for name, act in ACTIVATIONS.items():
        np.testing.assert_allclose(act(z), act.torch(torch.as_tensor(z)).numpy(), rtol=1e-15, atol=0)
        assert isinstance(act(torch.as_tensor(z)), torch.Tensor)
        if act.degree is not None:
            for c in (0.5, 3.0):
                np.testing.assert_allclose(act(c * z), c ** act.degree * act(z), rtol=1e-13)
    np.testing.assert_array_equal(get_activation("relu")(z), np.maximum(z, 0))
    np.testing.assert_array_equal(get_activation("relu2")(z), np.maximum(z, 0) ** 2)
    assert get_activation("relu")(-2.0) == 0.0
    assert get_activation("tanh").degree is None


def test_custom_activation():
    act = get_activation(torch.sigmoid)
    assert act.name == "sigmoid" and act.degree is None
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(act(z), 1 / (1 + np.exp(-z)), rtol=1e-14)


def test_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'softsign'"):
        get_activation("softsign")
    with pytest.raises(ValueError, match="must be a name or a callable; got int"):
        get_activation(3)


# ----------------------------------------------------------------------------- objective


def random_net(rng, dims, K, bias):
    weights = [rng.standard_normal((n_out, n_in + bias)) for n_in, n_out in zip(dims[:-1], dims[1:])]
    return weights, rng.standard_normal((dims[-1], K))


@pytest.mark.parametrize("activation, bias, dims, parametrization", [
    ("relu", True, (3, 7), "standard"),
    ("relu", False, (3, 7), "standard"),
    ("tanh", True, (3, 5, 4), "standard"),
    ("relu2", False, (3, 6, 6, 2), "standard"),
    ("relu", True, (3, 9), "mean_field"),
    ("tanh", False, (3, 9), "mean_field"),
])
def test_objective_numpy_equals_torch(activation, bias, dims, parametrization):
    rng = np.random.default_rng(0)
    X = binary_latents(3)
    Y = rng.standard_normal((8, 2))
    weights, A = random_net(rng, dims, 2, bias)
    kw = dict(reg=0.03, activation=activation, bias=bias, parametrization=parametrization)
    J_np = objective(X, Y, weights, A, **kw)
    assert isinstance(J_np, float)
    tw = [torch.tensor(W, requires_grad=True) for W in weights]
    tA = torch.tensor(A, requires_grad=True)
    J_t = objective(torch.tensor(X), torch.tensor(Y), tw, tA, **kw)
    assert isinstance(J_t, torch.Tensor) and J_t.ndim == 0
    assert J_t.item() == pytest.approx(J_np, rel=1e-13)
    # The torch value is differentiable: compare one gradient entry with finite differences.
    J_t.backward()
    eps = 1e-6
    Wp, Wm = [W.copy() for W in weights], [W.copy() for W in weights]
    Wp[0][0, 0] += eps
    Wm[0][0, 0] -= eps
    fd = (objective(X, Y, Wp, A, **kw) - objective(X, Y, Wm, A, **kw)) / (2 * eps)
    assert tw[0].grad[0, 0].item() == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_objective_by_hand():
    X = np.array([[1.0], [-1.0]])
    Y = np.array([[1.0], [0.0]])
    # relu(2x + 0.5) = (2.5, 0); F = 3 * that = (7.5, 0); loss = 6.5^2 / 2; penalty 4 + 0.25 + 9.
    J = objective(X, Y, [np.array([[2.0, 0.5]])], np.array([[3.0]]), reg=0.1)
    assert J == pytest.approx(6.5 ** 2 / 2 + 0.1 * 13.25, rel=1e-15)
    # No bias: relu(2x) = (2, 0); F = (6, 0); loss 25/2; penalty 4 + 9.
    J = objective(X, Y, [np.array([[2.0]])], np.array([[3.0]]), reg=0.1, bias=False)
    assert J == pytest.approx(12.5 + 1.3, rel=1e-15)
    # Mean field, N = 2: H = I, F = H A / 2 = (1, 2); loss (0 + 4)/2; penalty (1+1+4+16)/2.
    W = np.array([[1.0, 0.0], [-1.0, 0.0]])
    A = np.array([[2.0], [4.0]])
    J = objective(X, Y, [W], A, reg=0.1, parametrization="mean_field")
    assert J == pytest.approx(2.0 + 0.1 * 11.0, rel=1e-15)
    # Two linear layers, no bias: F = 1 * 3 * 2 x = (6, 12); loss (36 + 144)/2; penalty 4 + 9 + 1.
    X2 = np.array([[1.0], [2.0]])
    J = objective(X2, np.zeros((2, 1)), [np.array([[2.0]]), np.array([[3.0]])], np.array([[1.0]]),
                  reg=0.5, activation="linear", bias=False)
    assert J == pytest.approx(90.0 + 7.0, rel=1e-15)
    # reg = 0 leaves the mean squared error.
    assert objective(X2, np.zeros((2, 1)), [np.array([[2.0]]), np.array([[3.0]])], np.array([[1.0]]),
                     reg=0.0, activation="linear", bias=False) == pytest.approx(90.0)


def test_forward_and_penalty():
    rng = np.random.default_rng(1)
    X = binary_latents(2)
    weights, A = random_net(rng, (2, 5, 3), 2, True)
    F, hidden = forward(X, weights, A)
    assert F.shape == (4, 2) and [h.shape for h in hidden] == [(4, 5), (4, 3)]
    np.testing.assert_allclose(hidden[0], np.maximum(augment(X, True) @ weights[0].T, 0))
    np.testing.assert_allclose(F, hidden[-1] @ A)
    total = sum(np.sum(W ** 2) for W in weights) + np.sum(A ** 2)
    assert penalty(weights, A) == pytest.approx(total)
    Fm, _ = forward(X, weights[:1], np.ones((5, 1)), parametrization="mean_field")
    np.testing.assert_allclose(Fm[:, 0], forward(X, weights[:1], np.ones((5, 1)))[0][:, 0] / 5)
    W1, A1 = weights[:1], rng.standard_normal((5, 1))
    assert penalty(W1, A1, "mean_field") == pytest.approx(penalty(W1, A1) / 5)


def test_augment():
    H = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(augment(H, True), [[0, 1, 1], [2, 3, 1], [4, 5, 1]])
    assert augment(H, False) is H
    T = augment(torch.tensor(H), True)
    assert isinstance(T, torch.Tensor) and T.dtype == torch.float64
    np.testing.assert_array_equal(T.numpy(), augment(H, True))


def test_objective_errors():
    X = binary_latents(2)
    Y = np.zeros((4, 1))
    weights = [np.ones((3, 3))]
    A = np.ones((3, 1))
    assert check_parametrization("standard") == "standard"
    with pytest.raises(ValueError, match="unknown parametrization 'ntk'"):
        check_parametrization("ntk")
    with pytest.raises(ValueError, match="unknown parametrization 'ntk'"):
        objective(X, Y, weights, A, reg=0.1, parametrization="ntk")
    with pytest.raises(ValueError, match="unknown parametrization 'meanfield'"):
        forward(X, weights, A, parametrization="meanfield")
    with pytest.raises(ValueError, match="unknown parametrization 'meanfield'"):
        penalty(weights, A, "meanfield")
    with pytest.raises(ValueError, match="one hidden layer only; got 2 layers"):
        objective(X, Y, [np.ones((3, 3)), np.ones((3, 4))], A, reg=0.1, parametrization="mean_field")
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        objective(X, Y, weights, A, reg=0.1, activation="elu")


def test_bad_input_is_refused_by_name():
    S = binary_latents(2)
    with pytest.raises(TypeError, match="S \\(latents\\) must be real"):
        aligned(S + 0j)
    with pytest.raises(ValueError, match=r"repeats conditions \(rows \[4\]"):
        whitened(np.vstack([S, S[:1]]))
    for bad in (-1, 2.0, None, True):
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            random_embedding(S, 3, seed=bad)
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            linear_tasks(S, 2, seed=bad)
    assert np.array_equal(random_embedding(S, 3, seed=np.int64(3)), random_embedding(S, 3, seed=3))
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="bias must be True or False"):
            augment(S, bad)
    assert augment(S, np.bool_(True)).shape == (4, 3)
    with pytest.raises(TypeError, match="reg must be a real number"):
        objective(S, S, [np.ones((2, 3))], np.ones((2, 2)), reg=1j)


def test_activation_properties_and_registry():
    from abstractnb.activations import LEAKY_SLOPE, leaky_relu, register

    z = np.linspace(-2, 2, 9)
    for name in ACTIVATIONS:
        act = ACTIVATIONS[name]
        np.testing.assert_allclose(act(z), act(torch.as_tensor(z)).numpy(), atol=1e-12)
        if act.slopes is not None:  # phi(z) = a+ z (z > 0), a- z (z < 0)
            lo, hi = act.slopes
            np.testing.assert_allclose(act(z), np.where(z > 0, hi * z, lo * z))
            assert act.degree == 1 and act.piecewise_linear and not act.bounded
        if act.bounded:
            assert np.all(np.abs(act(100 * z)) <= 1.0)
            h = 1e-6  # central difference: error O(h^2) ~ 1e-12, rounding ~1e-10
            np.testing.assert_allclose(act.derivative(z), (act(z + h) - act(z - h)) / (2 * h), atol=1e-8)
    assert get_activation("leaky_relu").slopes == (LEAKY_SLOPE, 1.0)
    assert leaky_relu(0.2).name == "leaky_relu_0.2" and get_activation("leaky_relu_0.2").slopes == (0.2, 1.0)
    assert get_activation("abs").slopes == (-1.0, 1.0) and get_activation("linear").linear
    assert get_activation("relu2").superlinear and not get_activation("relu").superlinear
    with pytest.raises(ValueError, match="already registered"):
        register(Activation("relu", np.abs, torch.abs, 1.0, slopes=(-1.0, 1.0)))
    with pytest.raises(TypeError, match="expects an Activation"):
        register("relu")
    with pytest.raises(ValueError, match="has degree 1"):
        Activation("bad", np.abs, torch.abs, 2.0, slopes=(-1.0, 1.0))
    with pytest.raises(ValueError, match="not both 0"):
        Activation("bad", np.abs, torch.abs, 1.0, slopes=(0.0, 0.0))
