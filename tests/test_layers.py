"""Per-layer certificates of deep networks (abstractnb.meanfield.layers, exported as meanfield.certify_layers).

Known answers are derived in the docstrings; tolerances come from GAP_TOL (a certified
layer is within a factor 1 + GAP_TOL of its conditional optimum) or from inequalities that
are theorems (weak duality: a bound never exceeds the value of any feasible layer).
"""
import numpy as np
import pytest
import torch

from abstractnb import inputs, meanfield, objective, tasks, training
from abstractnb.meanfield import layers
from abstractnb.meanfield import GAP_TOL
from abstractnb.preactivations import ridge_readout

REG = 1e-2
# Round-off allowed on the theorem "bound <= value" (values are O(1)-O(10)).
ROUND = 1e-10


def test_exported_from_meanfield():
    assert meanfield.certify_layers is layers.certify_layers


def _diag_net(P, a, beta, D, K=2, seed=0):
    """Whitened inputs X = sqrt(D) I, no bias, layer 1 = a I, layer 2 = beta I, random readout.

    Layer 1's min-norm problem has a closed form: features relu(sqrt(D) v), |v| = 1, are the
    nonnegative vectors u of norm <= sqrt(D), so R(T) = (2 / sqrt(D)) min{sum ||b_j|| :
    sum u_j b_j^T = T, u_j >= 0, |u_j| = 1}. For T = t I, Z = I is dual feasible
    (max over nonnegative unit u of ||u|| = 1) with tr(Z^T T) = P t, and u_j = e_j, b_j = t e_j
    attains it: R(t I) = 2 P t / sqrt(D). Here t = sqrt(D) a beta, so R = 2 P a beta, while the
    network pays P a^2 + P beta^2: optimal iff a = beta.
    """
    rng = np.random.default_rng(seed)
    W1, W2 = a * np.eye(P), beta * np.eye(P)
    A = rng.standard_normal((P, K))
    return [W1, W2], A


def test_min_norm_known_answer_whitened():
    D = 3
    S = tasks.binary_latents(D)
    X, Y = inputs.whitened(S), tasks.latent_targets(S)
    P = S.shape[0]
    for a, beta in ((0.7, 0.7), (1.3, 0.4)):
        net = _diag_net(P, a, beta, D, K=D)
        cl = meanfield.certify_layers(net, X, Y, reg=REG, bias=False)
        c = cl[0]
        R = 2 * P * a * beta
        assert c.problem == "min-norm" and c.exact
        np.testing.assert_allclose(c.objective, P * (a ** 2 + beta ** 2), rtol=1e-12)
        assert c.lower_bound <= R * (1 + ROUND)                     # weak duality (theorem)
        assert c.upper_bound >= R * (1 - ROUND)
        if a == beta:
            assert c.certified and c.relative_gap <= GAP_TOL
        else:
            assert not c.certified
            assert c.gap >= c.objective - R - ROUND * R             # gap >= distance to the optimum
        # the refined bound reaches R (the optimal atoms e_j are rays of the arrangement)
        np.testing.assert_allclose(c.lower_bound, R, rtol=GAP_TOL)


def test_min_norm_known_answer_linear():
    """Linear activation: R(T) = min ||W1||^2 + ||W2'||^2 s.t. Xt W1^T W2'^T = T is
    2 ||Xt^+ T||_* (nuclear norm) for T in the range of Xt; a network built from the SVD of
    C = Xt^+ T (W1 = Sigma^1/2 U^T, W2' = V Sigma^1/2) attains it."""
    rng = np.random.default_rng(1)
    P, d, N1, N2, K = 6, 4, 5, 3, 2
    X = rng.standard_normal((P, d))
    Y = rng.standard_normal((P, K))
    Xt = objective.augment(X, True)
    C = rng.standard_normal((d + 1, 2)) @ rng.standard_normal((2, N2))   # rank 2
    T = Xt @ C
    Cmin = np.linalg.pinv(Xt) @ T
    R = 2 * np.linalg.svd(Cmin, compute_uv=False).sum()
    U, s, Vt = np.linalg.svd(Cmin, full_matrices=False)
    W1 = np.zeros((N1, d + 1))
    W1[: s.size] = (U * np.sqrt(s)).T
    W2 = np.zeros((N2, N1 + 1))
    W2[:, : s.size] = (np.sqrt(s)[:, None] * Vt).T
    A = rng.standard_normal((N2, K))
    for scale, optimal in ((1.0, True), (2.0, False)):
        net = ([W1 * scale, np.hstack([W2[:, :N1] / scale, W2[:, N1:]])], A)
        cl = meanfield.certify_layers(net, X, Y, reg=REG, activation="linear", bias=True)
        c = cl[0]
        assert c.exact and c.lower_bound <= R * (1 + ROUND)
        np.testing.assert_allclose(c.lower_bound, R, rtol=GAP_TOL)
        assert c.certified == optimal
        if optimal:
            np.testing.assert_allclose(c.objective, R, rtol=1e-10)


def test_depth_one_is_the_global_certificate():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    sol = meanfield.solve(X, Y, reg=REG, progress=False)
    net = sol.to_network()
    cl = meanfield.certify_layers(net, X, Y, reg=REG)
    cert = meanfield.certify(net, X, Y, reg=REG, progress=False)
    assert len(cl) == 1 and cl.depth == 1
    c = cl[0]
    assert c.problem == "penalized" and c.certificate is not None and c.certificate.scope == "global"
    assert c.certified and cl.certified and cl.exact
    np.testing.assert_allclose(c.lower_bound, cert.lower_bound, rtol=1e-12)
    np.testing.assert_allclose(cl.objective, sol.objective, rtol=1e-10)


def test_last_layer_matches_certify_scope_last_layer():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    r = training.train(X, Y, width=6, depth=3, reg=REG, steps=150, seed=0, progress=False)
    cl = meanfield.certify_layers(r, X, Y, reg=REG)
    cert = meanfield.certify(r, X, Y, reg=REG, progress=False)
    assert [c.problem for c in cl] == ["min-norm", "min-norm", "penalized"]
    assert [c.index for c in cl] == [0, 1, 2]
    assert cl[2].certificate.scope == "last layer"
    np.testing.assert_allclose(cl[2].lower_bound, cert.lower_bound, rtol=1e-12)
    np.testing.assert_allclose(cl.objective, r.objective, rtol=1e-12)
    for c in cl:                      # weak duality for every layer, whatever the network
        assert c.lower_bound <= c.objective * (1 + ROUND) and c.lower_bound <= c.upper_bound * (1 + ROUND)
    assert "NOT a proof" in cl.proves
    rows = cl.rows()
    assert [row["layer"] for row in rows] == [1, 2, 3]


def test_dual_point_is_the_backpropagated_residual():
    """Z0 = -d(data term)/dU_{l+1} / (2 reg); its defining identity: the data-term gradient with
    respect to the incoming weights W'_{l+1} of layer l+1 is -2 reg Z0^T H_l."""
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    net = training.Network.init(2, 2, width=5, depth=3, seed=3)
    W, A = net.params()
    Xt = torch.as_tensor(X)
    Wt = [torch.tensor(w, requires_grad=True) for w in W]
    F, _ = objective.forward(Xt, Wt, torch.as_tensor(A))
    data = ((F - torch.as_tensor(Y)) ** 2).sum() / X.shape[0]
    data.backward()
    for l in range(2):
        Z0, H = layers._layer_dual(X, W, A, Y, REG, "relu", True, l)
        grad = Wt[l + 1].grad.numpy()[:, :-1]
        np.testing.assert_allclose(grad, -2 * REG * Z0.T @ H[l + 1], atol=1e-12)


def test_rebalancing_leaves_the_bound_valid():
    """Rescaling unit j of layer 1 (w_j * k, its outgoing weights / k) keeps T and R(T); the
    bound of either network is below the cost of both (theorem)."""
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    r = training.train(X, Y, width=6, depth=2, reg=REG, steps=300, seed=1, progress=False)
    (W1, W2), A = r.params
    k = np.linspace(0.5, 2.0, W1.shape[0])
    W2b = W2.copy()
    W2b[:, :-1] /= k
    c1 = meanfield.certify_layers(r, X, Y, reg=REG)[0]
    c2 = meanfield.certify_layers(([W1 * k[:, None], W2b], A), X, Y, reg=REG)[0]
    for c in (c1, c2):
        assert c.lower_bound <= min(c1.objective, c2.objective) * (1 + ROUND)


def test_resolve_last_layer_lowers_the_objective():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    r = training.train(X, Y, width=8, depth=2, reg=REG, steps=200, seed=0, progress=False)
    net, sol = layers.resolve_last_layer(r, X, Y, reg=REG)
    assert sol.certified
    J_new = net.objective(X, Y, reg=REG)
    # sol is certified: its J is within GAP_TOL of the best last layer, and the old one is a candidate
    assert J_new <= r.objective * (1 + GAP_TOL)
    np.testing.assert_allclose(net.hidden(X)[0], r.hidden[0], atol=1e-12)   # the layer below is kept
    assert net.widths[0] == 8 and net.width >= sol.n_atoms
    cl = meanfield.certify_layers(net, X, Y, reg=REG)
    assert cl[-1].certified


@pytest.mark.parametrize("bias", [True, False])
def test_zero_network_is_blockwise_certified(bias):
    """All weights zero: every hidden layer is 0, the last layer's input has no variance (the
    best it can do for centred targets is output 0), and every intermediate layer passes on
    T = 0 at cost 0 = R(0). Every layer is certified although J = ||Y||^2 / P is far from J*."""
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    b = int(bias)
    W = [np.zeros((5, 2 + b)), np.zeros((5, 5 + b)), np.zeros((5, 5 + b))]
    cl = meanfield.certify_layers((W, np.zeros((5, 2))), X, Y, reg=REG, bias=bias)
    assert cl.certified and cl.exact and [c.problem for c in cl] == ["min-norm", "min-norm", "penalized"]
    np.testing.assert_allclose(cl.objective, np.sum(Y ** 2) / S.shape[0], rtol=1e-12)
    # a depth-3 network with a lower J: modular units relu(+-a s_k [+ a]), two identity layers
    # (relu(h) = h for h >= 0) and the ridge readout
    a = 0.8
    E = np.vstack([np.eye(2), -np.eye(2)]) * a
    W1 = np.hstack([E, np.full((4, 1), a)]) if bias else E
    I4 = np.hstack([np.eye(4), np.zeros((4, b))])
    H = objective.forward(X, [W1, I4, I4], np.zeros((4, 2)), bias=bias)[1][-1]
    A = ridge_readout(H, Y, REG)
    J_net = objective.objective(X, Y, [W1, I4, I4], A, reg=REG, bias=bias)
    assert J_net < cl.objective / 2


def test_error_time_limit():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    with pytest.raises(ValueError, match="time_limit"):
        meanfield.certify_layers(([np.ones((4, 3))], np.ones((4, 2))), X, Y, reg=REG, time_limit=-1)


@pytest.mark.parametrize("activation", ["tanh", "relu2"])
def test_error_not_homogeneous(activation):
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    net = training.Network.init(2, 2, width=4, depth=2, activation=activation, seed=0)
    with pytest.raises(ValueError, match="needs a piecewise-linear activation"):
        meanfield.certify_layers(net, X, Y, reg=REG)
    with pytest.raises(ValueError, match="needs a piecewise-linear activation"):
        layers.resolve_last_layer(net, X, Y, reg=REG)


def test_error_callable_activation():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    net = training.Network.init(2, 2, width=4, depth=2, activation=torch.relu, seed=0)
    with pytest.raises(ValueError, match="registered with slopes"):
        meanfield.certify_layers(net, X, Y, reg=REG)


def test_error_mean_field_deep():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    W = [np.ones((4, 3)), np.ones((4, 5))]
    with pytest.raises(ValueError, match="mean-field"):
        meanfield.certify_layers((W, np.ones((4, 2))), X, Y, reg=REG, parametrization="mean_field")


def test_error_shapes_and_types():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    with pytest.raises(ValueError, match=r"weights\[1\] must have 5 columns"):
        meanfield.certify_layers(([np.ones((4, 3)), np.ones((4, 4))], np.ones((4, 2))), X, Y, reg=REG)
    with pytest.raises(ValueError, match="readout must have shape"):
        meanfield.certify_layers(([np.ones((4, 3))], np.ones((3, 2))), X, Y, reg=REG)
    with pytest.raises(ValueError, match="expects a training.TrainResult"):
        meanfield.certify_layers("net", X, Y, reg=REG)
    with pytest.raises(ValueError, match="reg"):
        meanfield.certify_layers(([np.ones((4, 3))], np.ones((4, 2))), X, Y, reg=0.0)


def test_any_two_slope_activation_is_read_from_its_properties():
    # no name check: a leaky ReLU network gets exact per-layer bounds like a ReLU one
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    r = training.train(X, Y, width=8, depth=2, reg=REG, steps=400, seed=0, activation="leaky_relu",
                       progress=False)
    certs = meanfield.certify_layers(r, X, Y, reg=REG)
    last = certs.layers[-1]
    assert last.exact and last.lower_bound <= last.objective * (1 + 1e-12)
