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


# ---------------------------------------------------------------- Chapter 5: the theorem's closed forms
# Cases the chapter does not show: other scales of the inputs, rotated/embedded inputs, unequal and
# negative latent weights, lambda above the threshold, D = 1. Tolerances: the solver certifies J to
# meanfield.GAP_TOL (relative); kernels are determined only to about sqrt(GAP_TOL) by J.
from abstractnb import arrangement, meanfield, metrics  # noqa: E402

KERNEL_TOL = np.sqrt(meanfield.GAP_TOL)


def _rotation(d, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]


def _inputs(kind, S):
    P, D = S.shape
    if kind == "aligned a=0.4":
        return 0.4 * S
    if kind == "aligned a=2.5":
        return 2.5 * S
    if kind == "aligned, rotated into 2D dims":
        return np.c_[S, np.zeros_like(S)] @ _rotation(2 * D, 3)
    if kind == "whitened sigma=0.7":
        return 0.7 * np.eye(P)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["aligned a=0.4", "aligned a=2.5", "aligned, rotated into 2D dims",
                                  "whitened sigma=0.7"])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_modular_closed_form_is_the_certified_optimum(kind, D):
    S = tasks.binary_latents(D)
    X = _inputs(kind, S)
    for reg, alpha in ((0.03, None), (0.15, -np.linspace(0.5, 1.5, D)), (5.0, None)):
        r = theory.modular_optimum(X, S, reg, alpha=alpha)
        sol = meanfield.solve(X, r.targets, reg=reg)
        assert sol.certified
        assert r.objective == pytest.approx(sol.objective, rel=meanfield.GAP_TOL, abs=1e-12)
        np.testing.assert_allclose(sol.kernel, r.kernel, atol=KERNEL_TOL * max(1.0, np.abs(r.kernel).max()))
        # the closed-form network attains J* and the closed-form dual constraint is the exact one
        J = objective.objective(X, r.targets, r.weights, r.readout, reg=reg)
        assert J == pytest.approx(r.objective, rel=1e-10, abs=1e-12)
        exact = arrangement.price(arrangement.enumerate_faces(pa.reduce_inputs(X).L), r.dual).value
        assert theory.modular_dual_constraint(X, S, reg, alpha=alpha) == pytest.approx(exact, rel=1e-9)
        assert exact <= 1 + 1e-9


@pytest.mark.parametrize("a", [0.3, 1.0, 1.7, 4.0])
def test_modular_scale_closed_form_matches_the_qp(a):
    S = tasks.binary_latents(3)
    amps, W = theory.modular_scale(a * S, S)
    c = theory.modular_scale_closed_form(theory.latent_geometry(a * S, S), 8)
    np.testing.assert_allclose(amps, c, rtol=1e-8)
    H = np.maximum(np.c_[a * S, np.ones(8)] @ W.T, 0)          # activity c (1 +- s_k)
    np.testing.assert_allclose(H.T, c * np.vstack([1 + S.T, 1 - S.T]), atol=1e-8)


def test_whitened_scale_and_beta_formula():
    for D in (2, 3, 4, 5):
        S = tasks.binary_latents(D)
        P = 2 ** D
        r = theory.modular_optimum(inputs.whitened(S), S, 0.01)
        assert r.beta == pytest.approx(2 * D * (D + P) / (P * (2 * D + P)), rel=1e-12)


@pytest.mark.parametrize("geometry", ["aligned", "whitened"])
def test_latent_dual_bounds_bracket_the_exact_maximum(geometry):
    S = tasks.binary_latents(3)
    X = getattr(inputs, geometry)(S) * 1.3
    arr = arrangement.enumerate_faces(pa.reduce_inputs(X).L)
    rng = np.random.default_rng(0)
    for _ in range(4):
        M = rng.standard_normal((3, 2)) / 8
        lo, hi = theory.latent_dual_bounds(X, S, M)
        exact = arrangement.price(arr, S @ M).value
        assert lo * (1 - 1e-9) <= exact <= hi * (1 + 1e-9)
    M = np.diag(rng.standard_normal(3)) / 8                     # diagonal: the bounds coincide
    lo, hi = theory.latent_dual_bounds(X, S, M)
    assert lo == pytest.approx(hi) and arrangement.price(arr, S @ M).value == pytest.approx(lo, rel=1e-9)


@pytest.mark.parametrize("geometry", ["aligned", "whitened"])
def test_no_bias_family_is_optimal_for_every_rotation(geometry):
    D, reg = 3, 0.07
    S = tasks.binary_latents(D)
    X = getattr(inputs, geometry)(S) * 0.8
    sol = meanfield.solve(X, S, reg=reg, bias=False)
    lo, hi = theory.latent_dual_bounds(X, S, np.eye(D), bias=False)
    assert lo == hi
    for seed in range(3):
        r = theory.no_bias_optimum(X, S, reg, rotation=_rotation(D, seed))
        J = objective.objective(X, S, r.weights, r.readout, reg=reg, bias=False)
        assert J == pytest.approx(r.objective, rel=1e-10)
        assert r.objective == pytest.approx(sol.objective, rel=meanfield.GAP_TOL)
        np.testing.assert_allclose(r.dual, sol.dual, atol=1e-6 * np.abs(sol.dual).max())   # Z* unique
        # every unit direction is equally useful at Z*: the closed-form bound is exactly 1 there
        assert theory.latent_dual_bounds(X, S, r.dual[0, 0] * S[0, 0] * np.eye(D), bias=False)[0] == \
            pytest.approx(1.0, rel=1e-9)
    assert theory.no_bias_optimum(X, S, 10.0).objective == D


def test_pairing_lemma_on_random_nonnegative_vectors():
    # ||S^T r||^2 <= (P/2) ||r||^2 for r >= 0, with equality at r = relu(S u).
    for D in (2, 4, 6):
        S = tasks.binary_latents(D)
        P = 2 ** D
        R = np.abs(np.random.default_rng(D).standard_normal((200, P))) ** 3
        assert np.all(np.sum((R @ S) ** 2, 1) <= P / 2 * np.sum(R ** 2, 1) * (1 + 1e-12))
        u = np.random.default_rng(1).standard_normal(D)
        r = np.maximum(S @ u, 0)
        np.testing.assert_allclose(S.T @ r, P / 2 * u, rtol=1e-12)


def test_geometry_and_input_errors():
    S = tasks.binary_latents(2)
    assert theory.latent_geometry(S @ _rotation(2, 0), S).kind == "aligned"
    assert theory.latent_geometry(3 * np.eye(4), S) == theory.LatentGeometry("whitened", 3.0)
    assert theory.latent_geometry(S + 0.5, S).kind == "other"
    with pytest.raises(ValueError, match="proved only"):
        theory.latent_dual_bounds(S + 0.5, S, np.eye(2))
    with pytest.raises(ValueError, match="aligned"):
        theory.no_bias_optimum(S + 0.5, S, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        theory.modular_optimum(S, S, 0.1, alpha=[1.0])
    with pytest.raises(ValueError, match="orthogonal"):
        theory.no_bias_optimum(S, S, 0.1, rotation=np.ones((2, 2)))


def test_modular_optimum_params_are_a_certifiable_network():
    from abstractnb import inputs, meanfield, tasks, theory

    S = tasks.binary_latents(2)
    X = inputs.aligned(S)
    opt = theory.modular_optimum(X, S, 0.01)
    cert = meanfield.certify(opt.params, X, S, reg=0.01)
    assert cert.certified and cert.objective == pytest.approx(opt.objective, rel=1e-12)


def test_no_bias_optimum_params_are_a_certifiable_network():
    from abstractnb import meanfield

    S = tasks.binary_latents(2)
    X = inputs.aligned(S)
    opt = theory.no_bias_optimum(X, S, 0.01)
    cert = meanfield.certify(opt.params, X, S, reg=0.01, bias=False)
    assert cert.certified and cert.objective == pytest.approx(opt.objective, rel=1e-12)
