"""Tests of the convex mean-field solver (abstractnb.meanfield) and exact pricing (abstractnb.arrangement).

Known answers come from independent computations written here: a Pilanci-Ergen group lasso over
all 2^P activation patterns, a per-chamber NNLS closed form of the pricing for one output, dense
random search, trained networks, and the symmetries of the problem.
"""
import itertools
import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import nnls
from scipy.stats import ortho_group

from abstractnb import arrangement, inputs, meanfield as mf, objective as obj, tasks
from abstractnb.preactivations import reduce_inputs

REG = 0.01
# Relative rounding of J and of the dual bound for these O(1) problems: a few hundred ulps.
ROUND = 1e-12


def problem(D, geometry="aligned", targets="latent", seed=0):
    S = tasks.binary_latents(D)
    X = {"aligned": lambda: inputs.aligned(S), "whitened": lambda: inputs.whitened(S),
         "embedding": lambda: inputs.random_embedding(S, 3, activation="tanh", seed=seed)}[geometry]()
    Y = tasks.latent_targets(S) if targets == "latent" else tasks.parity_targets(S, [0, 1])
    return S, X, Y


def interaction_projector(S):
    """I - projector onto span(1, s_1, ..., s_D): the part of a code that is not affine in the latents."""
    Q, _ = np.linalg.qr(np.hstack([np.ones((S.shape[0], 1)), S]))
    return np.eye(S.shape[0]) - Q @ Q.T


@pytest.fixture(scope="module")
def sol3():
    _, X, Y = problem(3)
    return mf.solve(X, Y, reg=REG)


# ----------------------------------------------------------------------------- certified optimum
@pytest.mark.parametrize("D,geometry,targets,bias", [
    (2, "aligned", "latent", True), (3, "aligned", "latent", True), (2, "whitened", "latent", True),
    (3, "whitened", "latent", True), (3, "embedding", "latent", True), (3, "aligned", "xor", True),
    (3, "aligned", "latent", False),
])
def test_certified_gap(D, geometry, targets, bias):
    _, X, Y = problem(D, geometry, targets)
    s = mf.solve(X, Y, reg=REG, bias=bias)
    assert s.certified and s.exact_pricing
    assert s.certified and -ROUND * s.objective <= s.gap <= mf.GAP_TOL * s.objective
    assert s.lower_bound <= s.objective + 1e-12
    assert s.n_faces > 0 and s.iterations >= 1
    assert abs(s.max_dual_constraint - 1) < 1e-6
    # J reported = J of the rebuilt finite network, via THE objective
    W, A = s.params
    assert obj.objective(X, Y, W, A, reg=REG, bias=bias) == pytest.approx(s.objective, abs=1e-12)
    # kernel = H H^T of that network, atoms and masses rebuild it, Caratheodory bound holds
    (H,) = s.hidden
    np.testing.assert_allclose(s.kernel, H @ H.T, atol=1e-10)
    np.testing.assert_allclose(s.kernel, (np.maximum(s.atoms, 0).T * s.masses) @ np.maximum(s.atoms, 0),
                               atol=1e-10)
    P = X.shape[0]
    assert s.n_atoms <= P * (P + 1) // 2
    np.testing.assert_allclose(s.dual, (Y - s.output) / (P * REG), atol=1e-12)


def test_sixteen_conditions_certified_fast():
    S, X, Y = problem(4)
    s = mf.solve(X, Y, reg=REG)
    assert s.certified and s.gap <= 1e-6 and s.time < 10
    assert s.n_faces == 16482  # faces of the arrangement of the 16 hyperplanes (s, 1) . v = 0 in R^5
    assert s.n_atoms == 8
    assert np.sum(interaction_projector(S) * s.kernel) == pytest.approx(0, abs=1e-9)


def test_known_value_and_abstract_kernel_with_bias(sol3):
    # D=3, aligned, bias, Y = S: one unit per latent and sign, relu(+-s_k + 1), equal masses.
    assert sol3.n_atoms == 6
    np.testing.assert_allclose(np.sort(np.abs(sol3.atoms), axis=1)[:, -4:], np.sqrt(2), atol=1e-8)
    np.testing.assert_allclose(sol3.masses, sol3.masses[0], rtol=1e-8)
    S = tasks.binary_latents(3)
    assert np.sum(interaction_projector(S) * sol3.kernel) == pytest.approx(0, abs=1e-10)


def test_to_network_reproduces_objective(sol3):
    _, X, Y = problem(3)
    for width in (None, sol3.n_atoms + 1, 64):
        net = sol3.to_network(width)
        assert net.width == (sol3.n_atoms if width is None else width)
        assert net.objective(X, Y, reg=REG) == pytest.approx(sol3.objective, abs=1e-10)
    with pytest.raises(ValueError, match="width must be >= the number of atoms"):
        sol3.network_params(sol3.n_atoms - 1)


def test_splitting_an_atom_keeps_objective(sol3):
    _, X, Y = problem(3)
    (W,), A = sol3.params
    W2 = np.vstack([W[1:], W[:1] / np.sqrt(2), W[:1] / np.sqrt(2)])
    A2 = np.vstack([A[1:], A[:1] / np.sqrt(2), A[:1] / np.sqrt(2)])
    assert obj.objective(X, Y, [W2], A2, reg=REG) == pytest.approx(sol3.objective, abs=1e-12)


def test_mean_field_relu_same_optimum(sol3):
    _, X, Y = problem(3)
    s = mf.solve(X, Y, reg=REG, parametrization="mean_field")
    assert s.certified and s.parametrization == "mean_field"
    assert s.objective == pytest.approx(sol3.objective, abs=1e-10)
    np.testing.assert_allclose(s.kernel, sol3.kernel, atol=1e-8)
    W, A = s.params
    assert obj.objective(X, Y, W, A, reg=REG, parametrization="mean_field") == pytest.approx(s.objective, abs=1e-12)
    net = s.to_network(20)
    assert net.parametrization == "mean_field"
    assert net.objective(X, Y, reg=REG) == pytest.approx(s.objective, abs=1e-10)


def test_invariant_under_output_rotation(sol3):
    _, X, Y = problem(3)
    Q = ortho_group.rvs(3, random_state=1)
    s = mf.solve(X, Y @ Q, reg=REG)
    assert s.objective == pytest.approx(sol3.objective, abs=1e-10)
    np.testing.assert_allclose(s.kernel, sol3.kernel, atol=1e-7)
    np.testing.assert_allclose(s.output, sol3.output @ Q, atol=1e-7)


def test_linear_activation():
    _, X, Y = problem(2)
    s = mf.solve(X, Y, reg=REG, activation="linear")
    assert s.certified and s.gap <= 1e-6
    net = s.to_network()
    assert net.objective(X, Y, reg=REG) == pytest.approx(s.objective, abs=1e-10)


def test_zero_targets_and_large_reg():
    _, X, Y = problem(2)
    s = mf.solve(X, np.zeros_like(Y), reg=REG)
    assert s.objective == 0 and s.gap == 0 and s.certified and s.n_atoms == 0
    assert s.to_network().objective(X, np.zeros_like(Y), reg=REG) == 0
    # so much weight decay that the zero network is optimal: J* = ||Y||^2 / P
    s = mf.solve(X, Y, reg=10.0)
    assert s.n_atoms == 0 and s.certified
    assert s.objective == pytest.approx(np.sum(Y ** 2) / len(Y), abs=1e-12)


# ----------------------------------------------------------------------------- independent formulations
def pilanci_ergen(X, y, reg, slopes=(0.0, 1.0)):
    """Group lasso over ALL 2^P activation patterns (Pilanci & Ergen 2020), one output; a
    piecewise-linear unit with slopes (a-, a+) acts as diag(a+ or a-) on each pattern."""
    Xt = np.hstack([X, np.ones((len(X), 1))])
    P, d = Xt.shape
    f, pen, cons = 0, 0, []
    for pattern in itertools.product((0.0, 1.0), repeat=P):
        Dm = np.diag(np.where(np.array(pattern) > 0, slopes[1], slopes[0]))
        sign = np.diag(2 * np.array(pattern) - 1)
        u, u2 = cp.Variable(d), cp.Variable(d)
        f = f + Dm @ Xt @ (u - u2)
        pen = pen + cp.norm(u) + cp.norm(u2)
        cons += [sign @ Xt @ u >= 0, sign @ Xt @ u2 >= 0]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(f - y) / P + 2 * reg * pen), cons)
    prob.solve(solver="CLARABEL")
    return prob.value


@pytest.mark.parametrize("targets", ["latent", "xor"])
def test_agrees_with_pilanci_ergen_all_patterns(targets):
    S, X, _ = problem(2, targets=targets)
    y = (S[:, 0] + 0.5 * S[:, 1]) if targets == "latent" else S[:, 0] * S[:, 1]
    s = mf.solve(X, y, reg=REG)
    assert s.objective == pytest.approx(pilanci_ergen(X, y, REG), abs=1e-6)


@pytest.mark.parametrize("name,slopes", [("leaky_relu", (0.01, 1.0)), ("leaky_relu_0.3", (0.3, 1.0)),
                                         ("abs", (-1.0, 1.0))])
@pytest.mark.parametrize("targets", ["latent", "xor"])
def test_piecewise_linear_activations_agree_with_all_patterns(name, slopes, targets):
    from abstractnb.activations import leaky_relu

    leaky_relu(0.3)  # registers "leaky_relu_0.3"
    S, X, _ = problem(2, targets=targets)
    y = (S[:, 0] + 0.5 * S[:, 1]) if targets == "latent" else S[:, 0] * S[:, 1]
    s = mf.solve(X, y, reg=REG, activation=name)
    assert s.certified and s.activation == name
    # both solved to conic/certified accuracy (relative 1e-6 at most): agree to 1e-6
    assert s.objective == pytest.approx(pilanci_ergen(X, y, REG, slopes), abs=1e-6)
    cert = mf.certify(s, X, y, reg=REG)
    assert cert.certified and cert.activation == name


def test_a_registered_activation_works_end_to_end():
    from abstractnb import training
    from abstractnb.activations import Activation, register

    def numpy_fn(z):
        return np.where(z > 0, 2.0 * z, -0.5 * z)

    act = register(Activation("vee_test", numpy_fn, lambda t: 2.0 * t.clamp(min=0) - 0.5 * t.clamp(max=0),
                              1.0, slopes=(-0.5, 2.0)), overwrite=True)
    S, X, Y = problem(2)
    s = mf.solve(X, Y, reg=REG, activation="vee_test")
    assert s.certified and s.phi is act
    res = training.train(X, Y, width=16, reg=REG, steps=300, seed=0, activation="vee_test", progress=False)
    cert = mf.certify(res, X, Y, reg=REG)
    assert cert.exact and res.objective >= s.lower_bound - ROUND * s.objective
    assert cert.lower_bound <= s.objective * (1 + ROUND)
    net = s.to_network()
    assert net.objective(X, Y, reg=REG) == pytest.approx(s.objective, rel=1e-12)


@pytest.mark.parametrize("name", ["erf", "sigmoid_centred"])
def test_bounded_activations_use_the_mean_field_solver(name):
    S, X, Y = problem(2)
    s = mf.solve(X, Y, reg=REG, activation=name, parametrization="mean_field")
    assert s.mean_field_limit and s.activation == name
    # reduced rank 3 and known lipschitz/curvature bounds: certified by branch and bound
    assert s.certified and s.exact_pricing
    assert s.masses.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match=f"{name} in the standard parametrisation"):
        mf.solve(X, Y, reg=REG, activation=name)


def nnls_pricing(L, z):
    r"""c(z) for one output: max over sign patterns of ||projection of +-L^T D z onto the cone||."""
    best = 0.0
    for sigma in itertools.product((-1.0, 1.0), repeat=L.shape[0]):
        sigma = np.array(sigma)
        A = sigma[:, None] * L  # cone {v : A v >= 0}
        g = L.T @ ((sigma > 0) * z)
        for h in (g, -g):
            lam, _ = nnls(A.T, -h)  # projection onto the polar cone {-A^T lam}
            best = max(best, np.linalg.norm(h + A.T @ lam))
    return best


@pytest.mark.parametrize("D,geometry,bias", [(2, "aligned", True), (3, "aligned", True),
                                             (3, "aligned", False), (2, "whitened", True),
                                             (3, "embedding", True)])
def test_exact_pricing_vs_nnls_and_brute_force(D, geometry, bias):
    _, X, _ = problem(D, geometry)
    L = reduce_inputs(X, bias).L
    arr = arrangement.enumerate_faces(L)
    rng = np.random.default_rng(D)
    V = rng.standard_normal((100_000, L.shape[1]))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    relu = np.maximum(V @ L.T, 0)
    for K in (1, 3):
        Z = rng.standard_normal((L.shape[0], K))
        pr = arrangement.price(arr, Z)
        brute = np.linalg.norm(relu @ Z, axis=1).max()
        assert brute <= pr.value + 1e-12  # never below a sampled value
        assert pr.value - brute < 0.05 * pr.value
        assert np.linalg.norm(np.maximum(L @ pr.witness, 0) @ Z) == pytest.approx(pr.value, rel=1e-9)
        assert np.linalg.norm(pr.witness) == pytest.approx(1)
        if K == 1:
            assert pr.value == pytest.approx(nnls_pricing(L, Z[:, 0]), rel=1e-9)


def test_face_enumeration_counts():
    # Linearly separable dichotomies of the D-cube (threshold functions): 14 (D=2), 104 (D=3).
    for D, n_chambers in ((2, 14), (3, 104)):
        L = reduce_inputs(inputs.aligned(tasks.binary_latents(D)), True).L
        arr = arrangement.enumerate_faces(L)
        assert int(np.sum(np.all(arr.signs != 0, axis=1))) == n_chambers
        rng = np.random.default_rng(0)
        sampled = np.unique(np.sign(rng.standard_normal((20_000, L.shape[1])) @ L.T), axis=0)
        found = {tuple(r) for r in arr.signs.tolist()}
        assert all(tuple(r) in found for r in sampled.astype(np.int8).tolist())


# ----------------------------------------------------------------------------- trained networks
def test_trained_relu_networks_reach_the_certified_optimum(sol3):
    training = pytest.importorskip("abstractnb.training")
    _, X, Y = problem(3)
    for seed in range(3):
        res = training.train(X, Y, width=64, reg=REG, steps=1500, seed=seed, progress=False)
        # no network beats a valid lower bound (rounding of J is ~1e-16 J)
        assert res.objective >= sol3.lower_bound - ROUND * sol3.objective
        assert res.objective <= sol3.objective + 1e-4
        cert = mf.certify(res, X, Y, reg=REG)
        assert cert.exact and cert.objective == pytest.approx(res.objective, abs=1e-12)
        assert cert.lower_bound <= sol3.objective + ROUND * sol3.objective
        assert 0 <= cert.gap <= 1e-4
        # What certify guarantees on every machine: J - J* <= gap <= J - J* + bracket, with
        # J* in [sol3.lower_bound, sol3.objective] and the bracket upper_bound - lower_bound ...
        bracket = cert.upper_bound - cert.lower_bound
        slack = ROUND * res.objective
        assert cert.gap >= res.objective - sol3.objective - slack
        assert cert.gap <= res.objective - sol3.lower_bound + bracket + slack
        # ... which the refinement drives below GAP_TOL / 10 unless it ran out of rounds.
        assert cert.refine_reason in ("converged", "stalled")
        assert 0 <= bracket <= mf.GAP_TOL / 10 * cert.upper_bound + slack


def test_certify_flags_an_early_stopped_network(sol3):
    training = pytest.importorskip("abstractnb.training")
    _, X, Y = problem(3)
    res = training.train(X, Y, width=64, reg=REG, steps=5, lbfgs_steps=0, seed=0, progress=False)
    cert = mf.certify(res, X, Y, reg=REG)
    assert not cert.certified and cert.exact
    assert cert.gap > 1e-2
    assert cert.lower_bound <= sol3.objective + 1e-9
    # the bound from the network's own dual point alone is valid too, only looser
    raw = mf.certify(res.network, X, Y, reg=REG, refine=False)
    assert raw.bound_from == "network"
    assert raw.lower_bound <= cert.lower_bound + 1e-12
    np.testing.assert_allclose(raw.dual, (Y - res.outputs) / (len(Y) * REG), atol=1e-10)


def test_certify_accepts_solution_and_tuple(sol3):
    _, X, Y = problem(3)
    for thing in (sol3, sol3.params, (sol3.params[0][0], sol3.params[1])):
        cert = mf.certify(thing, X, Y, reg=REG)
        assert cert.certified and cert.relative_gap <= mf.GAP_TOL
        assert cert.objective == pytest.approx(sol3.objective, abs=1e-12)
        assert cert.max_dual_constraint == pytest.approx(1, abs=1e-6)


def test_certify_last_layer_of_a_deep_network():
    training = pytest.importorskip("abstractnb.training")
    _, X, Y = problem(2)
    res = training.train(X, Y, width=16, depth=2, reg=REG, steps=1500, seed=0, progress=False)
    cert = mf.certify(res, X, Y, reg=REG)
    assert cert.scope == "last layer"
    assert cert.lower_bound <= res.objective + 1e-9
    assert cert.gap <= 1e-3


# ----------------------------------------------------------------------------- set of global minima
def test_with_bias_every_global_minimum_is_abstract(sol3):
    M = interaction_projector(tasks.binary_latents(3))
    rng = mf.optimal_set_range(sol3, M)
    assert rng.exact
    lo, hi = rng
    assert abs(lo) < 1e-7 and abs(hi) < 1e-7
    # a callable functional gives the same answer
    lo2, hi2 = mf.optimal_set_range(sol3, lambda K: float(np.sum(M * K)))
    assert abs(lo2) < 1e-7 and abs(hi2) < 1e-7


@pytest.mark.parametrize("D", [2, 3])
def test_without_bias_non_abstract_global_minima_exist(D):
    S, X, Y = problem(D)
    s = mf.solve(X, Y, reg=REG, bias=False)
    M = interaction_projector(S)
    rng = mf.optimal_set_range(s, M)
    assert rng.exact
    # abstract global minima exist (min = 0) and so do non-abstract ones (max clearly > 0)
    assert abs(rng.min) < 1e-6
    assert rng.max > 0.1 * np.trace(s.kernel) / len(S)
    # both extreme kernels are optimal: same output F* = Sigma Z*
    for K in rng.kernels:
        np.testing.assert_allclose(K @ s.dual, s.output, atol=1e-6)
        assert np.linalg.eigvalsh(K)[0] >= -1e-6


# ----------------------------------------------------------------------------- tanh, mean field
@pytest.fixture(scope="module")
def tanh2():
    _, X, Y = problem(2)
    return mf.solve(X, Y, reg=REG, activation="tanh", parametrization="mean_field")


def test_tanh_mean_field_limit(tanh2):
    _, X, Y = problem(2)
    # reduced rank 3: the energy minimum is bounded by branch and bound, so the bound is a proof
    assert tanh2.certified and tanh2.exact_pricing and "a proof" in tanh2.note
    assert 0 <= tanh2.gap <= mf.GAP_TOL * tanh2.objective
    assert tanh2.masses.sum() == pytest.approx(1)
    # finite mean-field networks built from the measure approach J* from above
    J = [obj.objective(X, Y, *tanh2.network_params(N), reg=REG, activation="tanh", parametrization="mean_field")
         for N in (4, 16, 1000)]
    assert all(j >= tanh2.lower_bound - ROUND for j in J)
    assert J[-1] == pytest.approx(tanh2.objective, abs=1e-5)


def test_tanh_trained_mean_field_network_is_above_the_bound(tanh2):
    training = pytest.importorskip("abstractnb.training")
    _, X, Y = problem(2)
    res = training.train(X, Y, width=32, activation="tanh", parametrization="mean_field", reg=REG, steps=500,
                         seed=0, progress=False)
    assert res.objective >= tanh2.lower_bound - ROUND
    cert = mf.certify(res, X, Y, reg=REG)
    assert cert.exact and cert.lower_bound <= tanh2.objective * (1 + ROUND)
    assert cert.certified == (cert.relative_gap <= mf.GAP_TOL)


def test_energy_branch_and_bound_is_below_every_sampled_value(tanh2):
    from abstractnb.activations import get_activation
    from abstractnb.meanfield.bounded import _min_energy
    from abstractnb.meanfield.energy import energy as _energy, energy_lower_bound

    act = get_activation("tanh")
    L = reduce_inputs(problem(2)[1], True).L
    rng = np.random.default_rng(1)
    for Z in (tanh2.dual, rng.standard_normal((4, 2)), 3 * rng.standard_normal((4, 1))):
        eb = energy_lower_bound(L, Z, act, tol=1e-6)
        V = rng.standard_normal((200_000, L.shape[1])) * rng.choice([0.1, 1, 3, 10], size=(200_000, 1))
        E, _ = _energy(V, L, Z, act)
        _, Em = _min_energy(L, Z, np.zeros((0, L.shape[1])), 0, act)
        assert eb.converged and eb.lower <= min(E.min(), Em[0]) and eb.upper - eb.lower <= 1e-6 + 1e-9
    with pytest.raises(ValueError, match="rank <= 4"):
        energy_lower_bound(np.eye(5), np.ones((5, 1)), act, tol=1e-6)


def test_bounded_bound_is_a_search_above_rank_four():
    S = tasks.binary_latents(3)
    X, Y = inputs.whitened(S), tasks.latent_targets(S)  # reduced rank 8
    s = mf.solve(X, Y, reg=REG, activation="tanh", parametrization="mean_field", max_iter=3)
    assert not s.certified and not s.exact_pricing and "NOT a proof" in s.note


# ----------------------------------------------------------------------------- fallbacks and errors
def test_search_fallback_is_not_certified():
    _, X, Y = problem(2)
    with pytest.warns(RuntimeWarning, match="NOT certified"):
        s = mf.solve(X, Y, reg=REG, max_faces=10)
    assert not s.certified and not s.exact_pricing and s.n_faces == 0
    assert s.objective == pytest.approx(mf.solve(X, Y, reg=REG).objective, abs=1e-6)
    with pytest.warns(RuntimeWarning, match="NOT exact"):
        cert = mf.certify(s, X, Y, reg=REG, max_faces=10)
    assert not cert.certified


def test_errors(sol3, tanh2, monkeypatch):
    _, X, Y = problem(2)
    with pytest.raises(ValueError, match="same number of rows"):
        mf.solve(X, Y[:3], reg=REG)
    with pytest.raises(ValueError, match="NaN or inf"):
        mf.solve(np.where(X > 0, np.nan, X), Y, reg=REG)
    with pytest.raises(ValueError, match="NaN or inf"):
        mf.solve(X, np.full_like(Y, np.inf), reg=REG)
    with pytest.raises(ValueError, match="2-D array"):
        mf.solve(X[None], Y, reg=REG)
    for bad in (0, -1, np.nan):
        with pytest.raises(ValueError, match="reg must be"):
            mf.solve(X, Y, reg=bad)
    with pytest.raises(ValueError, match="unknown parametrization"):
        mf.solve(X, Y, reg=REG, parametrization="ntk")
    with pytest.raises(ValueError, match="unknown activation"):
        mf.solve(X, Y, reg=REG, activation="gelu")
    with pytest.raises(ValueError, match="J_N -> 0"):
        mf.solve(X, Y, reg=REG, activation="relu2", parametrization="mean_field")
    with pytest.raises(ValueError, match="relu2 in the standard parametrisation"):
        mf.solve(X, Y, reg=REG, activation="relu2")
    with pytest.raises(ValueError, match="tanh in the standard parametrisation"):
        mf.solve(X, Y, reg=REG, activation="tanh")
    with pytest.raises(ValueError, match="none of the properties that give a convex formulation"):
        mf.solve(X, Y, reg=REG, activation=lambda t: t.sigmoid())
    with pytest.raises(ValueError, match="tol must be"):
        mf.solve(X, Y, reg=REG, tol=0)
    # the conic solver failing is reported with its status
    monkeypatch.setattr(cp.Problem, "solve", lambda self, *a, **k: None)
    monkeypatch.setattr(cp.Problem, "status", property(lambda self: "infeasible"))
    with pytest.raises(mf.SolverFailed, match="status: infeasible"):
        mf.solve(X, Y, reg=REG)
    monkeypatch.undo()
    # certify
    with pytest.raises(ValueError, match="certify expects"):
        mf.certify("net", X, Y, reg=REG)
    with pytest.raises(ValueError, match="columns"):
        mf.certify(([np.ones((3, 5))], np.ones((3, 2))), X, Y, reg=REG)
    with pytest.raises(ValueError, match="readout must have shape"):
        mf.certify(([np.ones((3, 3))], np.ones((3, 1))), X, Y, reg=REG)
    with pytest.raises(ValueError, match="reg must be"):
        mf.certify(sol3, *problem(3)[1:], reg=0)
    # optimal_set_range
    with pytest.raises(ValueError, match="expects a Solution"):
        mf.optimal_set_range(sol3.params, np.eye(8))
    with pytest.raises(ValueError, match="needs the solution of a piecewise-linear activation"):
        mf.optimal_set_range(tanh2, np.eye(4))
    with pytest.raises(ValueError, match="functional must have 8 rows"):
        mf.optimal_set_range(sol3, np.eye(4))
    with pytest.raises(ValueError, match="width must be"):
        tanh2.network_params(0)
    with pytest.raises(ValueError, match="active_tol must be"):
        mf.optimal_set_range(sol3, np.eye(8), active_tol=0)
    with pytest.raises(ValueError, match="max_faces must be"):
        mf.solve(X, Y, reg=REG, max_faces=0)
    with pytest.raises(ValueError, match="max_iter must be"):
        mf.solve(X, Y, reg=REG, max_iter=1.5)
    with pytest.raises(ValueError, match="relu2 in the standard"):
        mf.certify(sol3.params, *problem(3)[1:], reg=REG, activation="relu2")


def test_progress_bar_is_silent_by_default(capsys):
    _, X, Y = problem(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mf.solve(X, Y, reg=REG)
    assert capsys.readouterr().err == ""


def test_caratheodory_reduction_keeps_the_kernel():
    _, X, Y = problem(3)
    s = mf.solve(X, Y, reg=REG, bias=False)
    L = reduce_inputs(X, False).L
    v = s.atoms @ np.linalg.pinv(L).T
    v4, m4 = np.vstack([v] * 4), np.concatenate([s.masses * w for w in (0.1, 0.2, 0.3, 0.4)])
    from abstractnb.meanfield.homogeneous import _caratheodory

    vr, mr = _caratheodory(v4, m4, L, lambda z: np.maximum(z, 0))
    assert len(mr) <= len(s.masses) and np.all(mr > 0)
    relu = lambda V: np.maximum(V @ L.T, 0)  # noqa: E731
    np.testing.assert_allclose((relu(vr).T * mr) @ relu(vr), s.kernel, atol=1e-9)


# ----------------------------------------------------------------------------- regressions (review)
@pytest.mark.parametrize("delta", [1e-9, 3e-10])
def test_near_degenerate_inputs_are_not_certified(delta):
    # Rows 2 and 3 differ by ~delta: X has a singular value ~delta, kept by reduce_inputs, but every
    # preactivation along it is below the sign tolerance. The rays' signs used to come out all zero:
    # no faces, c(Z) = 0, and the zero network (J = 0.75) was "certified" although J* ~ 0.39.
    X = np.array([[1.0, 1.0, 0.0], [1.0, -1.0, -1.0], [1.0, -1.0 - delta, -1.0 + delta]])
    Y = np.array([[1.0], [-1.0], [0.5]])
    L = reduce_inputs(X, False).L
    assert L.shape[1] == 3 and arrangement.enumerate_faces(L) is None
    with pytest.warns(RuntimeWarning, match="NOT certified"):
        s = mf.solve(X, Y, reg=REG, bias=False)
    assert not s.certified and not s.exact_pricing
    Xr = X.copy()
    Xr[2] = [1.0, -1.0, -1.0]
    assert s.objective == pytest.approx(mf.solve(Xr, Y, reg=REG, bias=False).objective, abs=1e-6)
    with pytest.warns(RuntimeWarning, match="NOT exact"):
        cert = mf.certify(([np.zeros((1, 3))], np.zeros((1, 1))), X, Y, reg=REG, bias=False)
    assert not cert.certified and cert.lower_bound < 0.75 - 0.1


def test_face_enumeration_passes_the_euler_check_or_gives_up():
    # A face of dimension k meets the unit sphere in a (k-1)-cell: sum_k (-1)^(k-1) f_k = chi(S^(r-1)).
    rng = np.random.default_rng(0)
    for X, bias in ((tasks.binary_latents(4), True), (tasks.binary_latents(3), False),
                    (rng.integers(-1, 2, (9, 3)).astype(float), True), (rng.standard_normal((7, 2)), False)):
        L = reduce_inputs(X, bias).L
        arr = arrangement.enumerate_faces(L)
        r = L.shape[1]
        f = np.bincount(arr.dims, minlength=r + 1)
        assert f[0] == 0 and sum((-1) ** (k - 1) * f[k] for k in range(1, r + 1)) == 1 + (-1) ** (r - 1)


def test_warnings_point_at_the_callers_line():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    with pytest.warns(RuntimeWarning, match="NOT certified") as rec:
        mf.solve(X, Y, reg=REG, max_iter=1)
    assert rec[0].filename == __file__
    W, A = rng.standard_normal((4, 4)), rng.standard_normal((4, 2))
    with pytest.warns(RuntimeWarning, match="NOT exact") as rec:
        mf.certify((W, A), X, Y, reg=REG, max_faces=1, refine=False)
    assert rec[0].filename == __file__


def test_optimal_set_range_of_an_uncertified_solution_is_not_exact():
    # After one round the dual point is not Z*: its "active" atoms are the wrong ones.
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    s = mf.solve(X, Y, reg=REG, max_iter=1)
    assert not s.certified
    with pytest.warns(RuntimeWarning, match="not certified optimal"):
        rng_ = mf.optimal_set_range(s, np.eye(8))
    assert not rng_.exact


def test_dual_value_is_a_lower_bound_and_tight_at_the_optimum(sol3):
    _, X, Y = problem(3)
    assert mf.dual_value(sol3.dual, Y, REG) == pytest.approx(sol3.objective, rel=1e-9)
    # Any rescaling of a feasible dual point stays below J*.
    for t in (0.5, 0.9):
        assert mf.dual_value(t * sol3.dual, Y, REG) < sol3.objective
    with pytest.raises(ValueError, match="same shape"):
        mf.dual_value(sol3.dual[:, :1], Y, REG)


# ----------------------------------------------------------------------------- relative verdict (issue 16)
def test_reproducers_far_from_optimal_are_not_certified():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    sol = mf.solve(X, Y, reg=1e-7)
    (W,), A = sol.params
    cert = mf.certify(([2 * W], A / 2), X, Y, reg=1e-7)  # J = 2.1 J*
    assert cert.objective > 2 * sol.lower_bound and not cert.certified
    zero = ([np.zeros((1, 3))], np.zeros((1, 2)))
    cert = mf.certify(zero, X, 5e-4 * Y, reg=1e-5)  # J = 17.9 J*
    assert not cert.certified and cert.relative_gap > 0.5
    # A solve that is certified is within GAP_TOL of its bound, relative to J.
    s = mf.solve(X, Y, reg=1e-9)
    assert not s.certified or s.lower_bound >= (1 - mf.GAP_TOL) * s.objective


@pytest.mark.parametrize("reg", [1e-9, 1e-6, 1e-3, 0.1, 1.0])
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_certified_means_relatively_optimal(reg, scale):
    # J(X, c Y, lam) = c^2 J(X, Y, lam / c) (w, a -> sqrt(c) w, sqrt(c) a): compare with the
    # closed-form optimum of the equivalent problem, an independent computation.
    from abstractnb import theory

    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = mf.solve(X, scale * Y, reg=reg)
    J_star = scale ** 2 * theory.modular_optimum(X, S, reg / scale).objective
    assert s.lower_bound <= J_star * (1 + ROUND)
    if s.certified:
        assert s.objective - J_star <= mf.GAP_TOL * s.objective
        assert s.relative_gap == pytest.approx(s.gap / s.objective)
    # The effective weight decay reg / scale is what matters; from 1e-9 to 1 it is certified.
    if 1e-9 <= reg / scale <= 1:
        assert s.certified, s


@pytest.mark.parametrize("c", [1e-6, 1e-3, 1e3, 1e6])
def test_a_rescaled_problem_is_the_same_problem(c):
    S, X, Y = problem(3)
    ref = mf.solve(X, Y, reg=REG)
    # targets times c, reg times c: J times c^2, the same dual point
    s = mf.solve(X, c * Y, reg=c * REG)
    assert s.certified
    assert s.objective == pytest.approx(c ** 2 * ref.objective, rel=mf.GAP_TOL)
    np.testing.assert_allclose(s.dual, ref.dual, atol=1e-6 * np.abs(ref.dual).max())
    # without a bias, inputs times c and reg times c: the same J
    ref0 = mf.solve(X, Y, reg=REG, bias=False)
    s0 = mf.solve(c * X, Y, reg=c * REG, bias=False)
    assert s0.certified and s0.objective == pytest.approx(ref0.objective, rel=mf.GAP_TOL)
    cert = mf.certify(s, X, c * Y, reg=c * REG)
    assert cert.certified and cert.objective == pytest.approx(s.objective, rel=1e-12)


def test_large_targets_keep_the_better_bound():
    S, X, Y = problem(3)
    s = mf.solve(X, 1e4 * Y, reg=REG)
    assert s.certified and s.relative_gap <= mf.GAP_TOL


# ----------------------------------------------------------------------------- long runs (issue 7)
def test_time_limit_returns_the_best_bound_so_far():
    import time

    S = tasks.binary_latents(5)
    X, Y = inputs.random_embedding(S, 10, seed=0), tasks.latent_targets(S)
    t0 = time.perf_counter()
    # a limit no machine can meet (the face enumeration alone takes longer): the result is
    # whatever was found when it ran out, on every machine
    with pytest.warns(RuntimeWarning, match="NOT certified"):
        s = mf.solve(X, Y, reg=REG, time_limit=1e-3)
    # a chunk of the enumeration or a round may finish after the limit
    assert time.perf_counter() - t0 < 30
    assert not s.certified and not s.exact and s.stop_reason == "time_limit"
    # a network, with its objective; its bound comes from a search, so it is no proof
    assert np.isfinite(s.objective) and np.isfinite(s.lower_bound)
    with pytest.raises(ValueError, match="time_limit must be"):
        mf.solve(X, Y, reg=REG, time_limit=0)


# ----------------------------------------------------------------------------- bad input (issue 7)
def test_bad_input_is_refused_with_a_clear_message(sol3):
    S, X, Y = problem(2)
    with pytest.raises(TypeError, match="X must be real"):
        mf.solve(X + 0j, Y, reg=REG)
    with pytest.raises(TypeError, match="Y must be real"):
        mf.certify(sol3, *problem(3)[1:2], problem(3)[2] * (1 + 1j), reg=REG)
    with pytest.raises(TypeError, match="bias must be True or False"):
        mf.solve(X, Y, reg=REG, bias="yes")
    with pytest.raises(TypeError, match="bias must be True or False"):
        obj.objective(X, Y, [np.ones((2, 3))], np.ones((2, 2)), reg=REG, bias=1)
    for bad in (-1, 1.5, None, "0"):
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            mf.solve(X, Y, reg=REG, seed=bad)
    with pytest.raises(TypeError, match="solver must be the name"):
        mf.solve(X, Y, reg=REG, solver=None)
    with pytest.raises(ValueError, match="not an installed cvxpy solver"):
        mf.solve(X, Y, reg=REG, solver="NOPE")
    with pytest.raises(ValueError, match="solver_options .* not accepted"):
        mf.solve(X, Y, reg=REG, solver_options={"no_such_option": 1})
    with pytest.raises(TypeError, match="solver_options must be a dict"):
        mf.solve(X, Y, reg=REG, solver_options=[1])
    # dual_value
    Z = sol3.dual
    Y3 = problem(3)[2]
    with pytest.raises(ValueError, match="reg must be"):
        mf.dual_value(Z, Y3, -0.1)
    with pytest.raises(ValueError, match="Z contains NaN"):
        mf.dual_value(np.where(Z > 0, np.nan, Z), Y3, REG)
    # certify: a 3-D weight array is not a network
    W, A = sol3.params
    with pytest.raises(ValueError, match="2-D array .* got an array of shape"):
        mf.certify((W[0][None], A), *problem(3)[1:], reg=REG)
    with pytest.raises(ValueError, match=r"weights\[1\] must have"):
        mf.certify(([W[0], np.ones((2, W[0].shape[0] + 3))], np.ones((2, 3))), *problem(3)[1:], reg=REG)
    # optimal_set_range: a callable functional must be linear in the kernel
    with pytest.raises(ValueError, match="functional must be linear"):
        mf.optimal_set_range(sol3, lambda K: float(np.sum(K * K)))
    with pytest.raises(ValueError, match="functional must be linear"):
        mf.optimal_set_range(sol3, lambda K: float(np.trace(K)) + 1.0)
    lo, hi = mf.optimal_set_range(sol3, lambda K: float(np.trace(K)))
    assert lo <= hi


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    _, X, Y = problem(2)
    mf.solve(X, Y, reg=REG, progress=False)
    mf.solve(X, Y, reg=REG, progress=None)  # pytest's stderr is no terminal: silent
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be True or False"):
        mf.solve(X, Y, reg=REG, progress="yes")


def test_optimal_set_of_the_zero_network():
    S = tasks.binary_latents(2)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    s = mf.solve(X, Y, reg=REG, activation="abs", bias=False)  # |z| without a bias: J* = D
    assert s.certified and s.objective == pytest.approx(S.shape[1], rel=mf.GAP_TOL)
    lo, hi = mf.optimal_set_range(s, interaction_projector(S))
    assert lo == hi == 0.0


@pytest.mark.parametrize("K", [1, 2, 3, 6])
def test_pricing_agrees_with_a_singular_value_per_face(K):
    # c(Z) = max over faces whose top right-singular space meets the face; every face's
    # singular value is an upper bound where it is attained, so compare with dense search
    # from the witness side and with the largest attained singular value face by face.
    S = tasks.binary_latents(2)
    L = reduce_inputs(inputs.whitened(S), True).L  # rank 4: faces of dimension 1..4
    arr = arrangement.enumerate_faces(L)
    rng = np.random.default_rng(K)
    for _ in range(3):
        Z = rng.standard_normal((4, K))
        pr = arrangement.price(arr, Z)
        relu = np.maximum(L @ pr.witness, 0)
        assert np.linalg.norm(relu @ Z) == pytest.approx(pr.value, rel=1e-9)
        best = 0.0
        for blk in arr.blocks:
            for i in range(blk.features.shape[0]):
                _, sv, Vt = np.linalg.svd(Z.T @ blk.features[i])
                u = blk.basis[i] @ Vt[0]
                sg = arr.signs[blk.index[i]]
                y = sg * (L @ u)
                if np.all(y >= -1e-9) or np.all(y <= 1e-9):
                    best = max(best, sv[0])
        assert pr.value >= best * (1 - 1e-9)
        V = rng.standard_normal((20000, L.shape[1]))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        assert np.linalg.norm(np.maximum(V @ L.T, 0) @ Z, axis=1).max() <= pr.value * (1 + 1e-9)


# ---- pricing on one cone (arrangement.single_cone) and partial pricing -----------------------

def _m_matrix_inputs(P, seed):
    """Square inputs whose metric M = (LL^T)^{-1} has nonpositive off-diagonal entries."""
    rng = np.random.default_rng(seed)
    off = -rng.uniform(0, 1, (P, P))
    off = (off + off.T) / 2
    np.fill_diagonal(off, 0)
    M = off + np.diag(np.abs(off).sum(1) + rng.uniform(0.1, 1, P))  # diagonally dominant
    return np.linalg.cholesky(np.linalg.inv(M))


@pytest.mark.parametrize("D,bias", [(2, True), (2, False), (3, True), (3, False)])
def test_cone_pricing_equals_pricing_over_every_face_for_whitened_inputs(D, bias):
    L = reduce_inputs(inputs.whitened(tasks.binary_latents(D)), bias).L
    assert arrangement.single_cone(L)
    full, cone = arrangement.enumerate_faces(L), arrangement.cone_faces(L)
    assert cone.cone and cone.n_faces == 2 ** L.shape[0] - 1 < full.n_faces
    rng = np.random.default_rng(D)
    for K in (1, 2, 5):
        Z = rng.standard_normal((L.shape[0], K))
        a, b = full.price(Z), cone.price(Z)
        # both are maxima of the same finite list of attained face values (TIE_SLACK rounding)
        assert abs(a.value - b.value) <= arrangement.TIE_SLACK * a.value
        # the maximiser has no negative preactivation
        assert (L @ b.witness).min() >= -arrangement.SIGN_TOL * np.abs(L).max()


def test_cone_pricing_on_a_random_m_matrix_geometry():
    L = _m_matrix_inputs(6, seed=0)
    assert arrangement.single_cone(L)
    full, cone = arrangement.enumerate_faces(L), arrangement.cone_faces(L)
    rng = np.random.default_rng(0)
    for K in (1, 3):
        Z = rng.standard_normal((6, K))
        assert abs(full.price(Z).value - cone.price(Z).value) <= arrangement.TIE_SLACK * full.price(Z).value


def test_single_cone_needs_a_relu_and_an_m_matrix():
    S = tasks.binary_latents(3)
    L_wh = reduce_inputs(inputs.whitened(S)).L
    assert not arrangement.single_cone(L_wh, slopes=(0.1, 1.0))   # leaky: negatives pay
    assert not arrangement.single_cone(L_wh, slopes=(-1.0, 1.0))  # |z|
    assert not arrangement.single_cone(reduce_inputs(inputs.aligned(S)).L)  # r < P
    L = reduce_inputs(inputs.random_embedding(S, 8, seed=0)).L
    assert L.shape == (8, 8) and not arrangement.single_cone(L)
    # Square, but M = [[1, .9], [.9, 1]] has a positive off-diagonal entry: a unit read out on
    # condition 1 gets cheaper by going negative on condition 2 (h = (1, -.9): h^T M h = .19),
    # so c = 1/sqrt(.19), while the cone alone gives 1.
    L = np.linalg.cholesky(np.linalg.inv(np.array([[1.0, 0.9], [0.9, 1.0]])))
    assert not arrangement.single_cone(L)
    Z = np.array([[1.0], [0.0]])
    np.testing.assert_allclose(arrangement.enumerate_faces(L).price(Z).value, 1 / np.sqrt(0.19),
                               rtol=ROUND)
    np.testing.assert_allclose(arrangement.cone_faces(L).price(Z).value, 1.0, rtol=ROUND)


def test_partial_pricing_and_the_faces_of_listed_directions():
    _, X, Y = problem(3, "embedding")
    L = reduce_inputs(X).L
    arr = arrangement.enumerate_faces(L)
    Z = np.random.default_rng(1).standard_normal((L.shape[0], 2))
    pr = arr.price(Z, threshold=0.0, max_directions=10_000)
    assert pr.exact and pr.faces.shape == (pr.directions.shape[0],)
    tol = 10 * arrangement.SIGN_TOL * np.abs(L).max()
    for v, f in zip(pr.directions, pr.faces):  # each direction lies in the closure of its face
        sg, y = arr.signs[f], L @ v
        assert np.all(sg * y >= -tol) and np.all(np.abs(y[sg == 0]) <= tol)
    some = pr.faces[::3]
    part = arr.price(Z, threshold=0.0, faces=some)
    assert not part.exact and part.value <= pr.value
    assert set(part.faces) <= set(some)
    np.testing.assert_allclose(arr.price(Z, faces=pr.faces[:1]).value, pr.values[0], rtol=ROUND)


@pytest.mark.parametrize("k", [2, 4])
def test_whitened_linear_tasks_at_p16_are_certified(k):
    S = tasks.binary_latents(4)
    sol = mf.solve(inputs.whitened(S), tasks.linear_tasks(S, k, seed=0), reg=REG, progress=False)
    assert sol.certified and sol.exact_pricing and "cone" in sol.note
    assert sol.relative_gap <= mf.GAP_TOL and sol.stop_reason == "converged"
    # every unit of the optimum is silent or active on each condition, never below zero: up to
    # the pricing's in-face tolerance, SIGN_TOL * max|L| per unit of weight norm (x10 rounding)
    W = sol.params[0][0]
    pre = obj.augment(sol.X, True) @ W.T
    tol = 10 * arrangement.SIGN_TOL * np.abs(reduce_inputs(sol.X).L).max()
    assert np.all(pre >= -tol * np.linalg.norm(W, axis=1))


def test_search_refines_its_pool_and_stays_below_exact_pricing():
    """search_price(pool=...) keeps every pool direction as a candidate and ascends from the
    best of them monotonically, so it ends at least as high as the best ray, and never above
    the exact c (it only evaluates attained values)."""
    _, X, Y = problem(3, "embedding")
    L = reduce_inputs(X).L
    rays = arrangement.ray_directions(L)
    assert rays is not None and rays.shape[1] == L.shape[1]
    Z = np.random.default_rng(2).standard_normal((L.shape[0], 2))
    at_rays = np.linalg.norm(np.maximum(rays @ L.T, 0) @ Z, axis=1).max()
    pr = arrangement.search_price(L, Z, n_random=0, pool=rays)
    exact = arrangement.enumerate_faces(L).price(Z).value
    assert at_rays * (1 - ROUND) <= pr.value <= exact * (1 + ROUND)
