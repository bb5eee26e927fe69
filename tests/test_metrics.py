"""Known answers and error paths of abstractnb.metrics."""
from itertools import permutations
from math import comb

import numpy as np
import pytest
from pandas import testing as pd_testing
from scipy.stats import norm

from abstractnb import metrics as M
from abstractnb.tasks import binary_latents


def orthogonal(n, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return Q


def factorised(S, *, N=8, seed=0, oblique=True, n_constant=3):
    r"""(S B + c) Q plus constant units: an affine code of the latents, rotated."""
    rng = np.random.default_rng(seed)
    D = S.shape[1]
    if oblique:
        B = rng.standard_normal((D, N))
    else:
        # Orthogonal coding directions with unequal lengths.
        B = np.diag(np.arange(1.0, D + 1)) @ orthogonal(N, seed + 1)[:D]
    H = (S @ B + rng.standard_normal(N)) @ orthogonal(N, seed + 2)
    return np.hstack([H, np.full((S.shape[0], n_constant), 2.5)])


def one_hot(S, scale=1.0):
    return scale * np.eye(S.shape[0])


def xor_code(S):
    return np.column_stack([S[:, 0] * S[:, 1], -S[:, 0] * S[:, 1]])


# ----------------------------------------------------------------------------- factorised codes


@pytest.mark.parametrize("D", [2, 3, 4])
def test_factorised_code_is_perfectly_parallel_and_has_no_interactions(D):
    S = binary_latents(D)
    H = factorised(S, seed=D)
    np.testing.assert_allclose(M.parallelism_score(H, S), 1.0, atol=1e-12)
    np.testing.assert_allclose(M.parallelism_score(H, S, pairing="max"), 1.0, atol=1e-12)
    assert M.interaction_share(H, S) == pytest.approx(0.0, abs=1e-12)
    assert M.kernel_interaction_share(H @ H.T, S) == pytest.approx(0.0, abs=1e-12)
    spectrum = M.walsh_spectrum(H, S)
    np.testing.assert_allclose(spectrum[1:], 0.0, atol=1e-10 * spectrum[0])


def test_factorised_code_with_orthogonal_directions_has_ccgp_one():
    S = binary_latents(3)
    H = factorised(S, oblique=False, seed=3)
    np.testing.assert_array_equal(M.ccgp(H, S, noise=0.05, n_samples=10), 1.0)
    # Generic directions in many dimensions are nearly orthogonal.
    H = factorised(S, N=200, seed=4)
    np.testing.assert_array_equal(M.ccgp(H, S, noise=0.05, n_samples=10), 1.0)


def test_oblique_factorised_code_is_parallel_but_does_not_generalise():
    # b0.b1 = |b0|^2 = 1: a decoder of s_0 trained at s_1 = v reads b0 . h; the shift by
    # -2v b1 in the other context moves one of the two test conditions across the
    # threshold (and symmetrically for s_1), so exactly half of them are misread.
    S = binary_latents(2)
    H = S @ np.array([[1.0, 0.0], [1.0, 0.1]])
    np.testing.assert_allclose(M.parallelism_score(H, S), 1.0, atol=1e-12)
    np.testing.assert_allclose(M.ccgp(H, S, noise=1e-3, n_samples=10), 0.5)


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_ccgp_of_aligned_code_matches_gaussian_error_rate(sigma):
    # Each condition lies at distance 1 from the decoder's threshold s_k = 0.
    S = binary_latents(2)
    np.testing.assert_allclose(M.ccgp(S, S, noise=sigma, n_samples=300, seed=1), norm.cdf(1 / sigma), atol=0.03)


@pytest.mark.parametrize("D", [2, 3])
def test_participation_ratio_of_factorised_codes(D):
    S = binary_latents(D)
    V = orthogonal(10, D)[:D]
    assert M.participation_ratio(S @ V) == pytest.approx(D, abs=1e-12)
    a = np.arange(1.0, D + 1)
    expected = (a ** 2).sum() ** 2 / (a ** 4).sum()
    assert M.participation_ratio(S @ np.diag(a) @ V + 7.0) == pytest.approx(expected, abs=1e-12)
    assert M.participation_ratio(np.outer(S[:, 0], np.ones(5))) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- one-hot and random codes


@pytest.mark.parametrize("D", [2, 3, 4])
def test_one_hot_code(D):
    S = binary_latents(D)
    P = 2 ** D
    H = one_hot(S, scale=3.0)
    np.testing.assert_allclose(M.parallelism_score(H, S), 0.0, atol=1e-12)
    np.testing.assert_allclose(M.parallelism_score(H, S, pairing="max"), 0.0, atol=1e-12)
    share = (P - 1 - D) / (P - 1)
    assert M.interaction_share(H, S) == pytest.approx(share, abs=1e-12)
    assert M.kernel_interaction_share(H @ H.T, S) == pytest.approx(share, abs=1e-12)
    np.testing.assert_allclose(M.walsh_spectrum(H, S) / 9.0, [comb(D, r) for r in range(1, D + 1)], atol=1e-12)
    assert M.participation_ratio(H) == pytest.approx(P - 1, abs=1e-10)


def test_xor_code_is_pure_interaction():
    S = binary_latents(3)
    H = xor_code(S)
    assert M.interaction_share(H, S) == pytest.approx(1.0, abs=1e-12)
    spectrum = M.walsh_spectrum(H, S)
    np.testing.assert_allclose(spectrum, [0.0, np.sum(H ** 2), 0.0], atol=1e-12)
    # s_0 s_1 is odd in s_0: its coding vectors for s_0 flip sign with s_1.
    assert M.parallelism_score(H, S)[0] < 0


def test_max_pairing_is_the_best_pairing():
    # XOR of two latents: the natural coding vectors of s_0 are opposite (PS = -1); pairing
    # each condition with its antipode instead gives zero coding vectors (PS = 0).
    S = binary_latents(2)
    np.testing.assert_allclose(M.parallelism_score(xor_code(S), S), -1.0, atol=1e-12)
    np.testing.assert_allclose(M.parallelism_score(xor_code(S), S, pairing="max"), 0.0, atol=1e-12)
    # Brute force over the 4! pairings of a random code of three latents.
    S = binary_latents(3)
    H = np.random.default_rng(8).standard_normal((8, 5))
    plus, minus = np.flatnonzero(S[:, 0] > 0), np.flatnonzero(S[:, 0] < 0)
    best = -np.inf
    for perm in permutations(minus):
        C = H[plus] - H[list(perm)]
        U = C / np.linalg.norm(C, axis=1, keepdims=True)
        G = U @ U.T
        best = max(best, G[np.triu_indices(4, 1)].mean())
    ps_max = M.parallelism_score(H, S, pairing="max")
    assert ps_max[0] == pytest.approx(best, abs=1e-12)
    assert np.all(ps_max >= M.parallelism_score(H, S) - 1e-12)


def test_random_gaussian_code_has_low_parallelism():
    S = binary_latents(3)
    H = np.random.default_rng(0).standard_normal((8, 1000))
    assert np.all(np.abs(M.parallelism_score(H, S)) < 0.1)


def test_shattering_dimensionality():
    S = binary_latents(2)
    assert M.shattering_dimensionality(one_hot(S), noise=0.05, n_samples=10) == 1.0
    # Two dichotomies are linear, the XOR one is at best 3/4 right.
    sd = M.shattering_dimensionality(S, noise=0.05, n_samples=10)
    assert 0.5 < sd <= (2 + 0.75) / 3 + 1e-12
    S3 = binary_latents(3)
    assert M.shattering_dimensionality(one_hot(S3), noise=0.05, n_samples=5, max_dichotomies=12) == 1.0
    assert M.shattering_dimensionality(S3, noise=0.05, n_samples=5) < 0.9


def test_balanced_dichotomies():
    for P in (2, 4, 8):
        d = M.balanced_dichotomies(P)
        assert d.shape == (comb(P, P // 2) // 2, P)
        assert np.all(d.sum(axis=1) == 0) and np.all(d[:, 0] == 1)
        assert len({tuple(r) for r in d}) == len(d)
    d = M.balanced_dichotomies(16, max_dichotomies=50, seed=3)
    assert d.shape == (50, 16) and len({tuple(r) for r in d}) == 50
    assert np.all(d.sum(axis=1) == 0) and np.all(d[:, 0] == 1)
    np.testing.assert_array_equal(d, M.balanced_dichotomies(16, max_dichotomies=50, seed=3))


# ----------------------------------------------------------------------------- invariances


def test_geometric_invariances():
    S = binary_latents(3)
    rng = np.random.default_rng(5)
    H = rng.standard_normal((8, 6)) + 0.8 * S @ rng.standard_normal((3, 6))
    Hr = H @ orthogonal(6, 6)
    Hpad = np.hstack([H, np.full((8, 4), -1.5)])
    for G in (Hr, Hpad):
        np.testing.assert_allclose(M.parallelism_score(G, S), M.parallelism_score(H, S), atol=1e-12)
        assert M.interaction_share(G, S) == pytest.approx(M.interaction_share(H, S), abs=1e-12)
        np.testing.assert_allclose(M.walsh_spectrum(G, S), M.walsh_spectrum(H, S), atol=1e-10)
        assert M.participation_ratio(G) == pytest.approx(M.participation_ratio(H), abs=1e-10)
    # PS and the interaction share do not see the overall scale either.
    np.testing.assert_allclose(M.parallelism_score(4 * H, S), M.parallelism_score(H, S), atol=1e-12)


def test_ccgp_invariances():
    S = binary_latents(3)
    H = S @ orthogonal(6, 7)[:3] + 1.0
    base = M.ccgp(H, S, noise=1.0, n_samples=100, seed=2)
    np.testing.assert_allclose(base, norm.cdf(1.0), atol=0.03)  # a regime where noise matters
    Hr = H @ orthogonal(6, 8)
    Hpad = np.hstack([H, np.full((8, 3), 4.0)])
    for G, seed in ((H, 9), (Hr, 2), (Hpad, 2)):
        np.testing.assert_allclose(M.ccgp(G, S, noise=1.0, n_samples=100, seed=seed), base, atol=0.05)
    # Only the ratio of H's spread to the noise matters, sample by sample.
    np.testing.assert_allclose(M.ccgp(10 * H, S, noise=10.0, n_samples=100, seed=2), base, atol=0.01)
    np.testing.assert_array_equal(M.ccgp(H, S, noise=1.0, n_samples=100, seed=2), base)


# ----------------------------------------------------------------------------- Walsh machinery


def test_walsh_basis():
    S = binary_latents(3)
    Phi, orders = M.walsh_basis(S)
    assert Phi.shape == (8, 8)
    np.testing.assert_array_equal(orders, [0, 1, 1, 1, 2, 2, 2, 3])
    assert M.walsh_subsets(3) == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    np.testing.assert_array_equal(Phi[:, 0], 1.0)
    np.testing.assert_array_equal(Phi[:, 1:4], S)
    np.testing.assert_array_equal(Phi[:, 7], S.prod(axis=1))
    np.testing.assert_allclose(Phi.T @ Phi, 8 * np.eye(8))


def test_walsh_spectrum_full_cube_matches_definition_and_row_order():
    S = binary_latents(4)
    H = np.random.default_rng(1).standard_normal((16, 5))
    Phi, orders = M.walsh_basis(S)
    coef = Phi.T @ (H - H.mean(axis=0))
    expected = [np.sum(coef[orders == r] ** 2) / 16 for r in range(1, 5)]
    spectrum = M.walsh_spectrum(H, S)
    np.testing.assert_allclose(spectrum, expected, rtol=1e-12)
    assert spectrum.sum() == pytest.approx(np.sum((H - H.mean(axis=0)) ** 2), rel=1e-12)
    perm = np.random.default_rng(2).permutation(16)
    np.testing.assert_allclose(M.walsh_spectrum(H[perm], S[perm]), spectrum, rtol=1e-12)
    assert M.interaction_share(H, S) == pytest.approx(spectrum[1:].sum() / spectrum.sum(), rel=1e-12)
    assert M.interaction_share(H[perm], S[perm]) == pytest.approx(M.interaction_share(H, S), rel=1e-12)


def test_walsh_spectrum_on_a_partial_design():
    S = binary_latents(3)[1:]  # drop one condition
    H = np.random.default_rng(3).standard_normal((7, 4))
    spectrum = M.walsh_spectrum(H, S)
    assert np.all(spectrum >= -1e-12)
    assert spectrum.sum() == pytest.approx(np.sum((H - H.mean(axis=0)) ** 2), rel=1e-10)
    assert M.interaction_share(H, S) == pytest.approx(spectrum[1:].sum() / spectrum.sum(), rel=1e-10)


def test_walsh_spectrum_fast_path_for_many_latents():
    S = binary_latents(13)  # the explicit Walsh matrix would be too large
    H = S[:, [0]] + S[:, [2]] * S[:, [5]]
    spectrum = M.walsh_spectrum(H, S)
    np.testing.assert_allclose(spectrum[:2], [2 ** 13, 2 ** 13], rtol=1e-12)
    np.testing.assert_allclose(spectrum[2:], 0.0, atol=1e-8)


def test_projectors_and_kernel_share():
    S = binary_latents(3)
    Mx = M.interaction_projector(S)
    C = M.centering_projector(8)
    for A in (Mx, C):
        np.testing.assert_allclose(A, A.T, atol=1e-12)
        np.testing.assert_allclose(A @ A, A, atol=1e-12)
    np.testing.assert_allclose(Mx @ np.column_stack([np.ones(8), S]), 0.0, atol=1e-12)
    assert np.trace(Mx) == pytest.approx(8 - 1 - 3)
    np.testing.assert_allclose(C @ np.ones(8), 0.0, atol=1e-12)
    H = np.random.default_rng(4).standard_normal((8, 3))
    K = H @ H.T
    share = M.interaction_share(H, S)
    assert M.kernel_interaction_share(K, S) == pytest.approx(share, rel=1e-12)
    assert np.trace(Mx @ K) / np.trace(C @ K) == pytest.approx(share, rel=1e-12)


def test_decoding_accuracy_and_report():
    S = binary_latents(2)
    y = S[:, 0]
    assert M.decoding_accuracy(S, y, noise=0.05) == 1.0
    assert M.decoding_accuracy(S, y, noise=0.05, train=S[:, 1] > 0, test=[0, 1], decoder="logistic") == 1.0
    assert M.decoding_accuracy(S, S[:, 0] * S[:, 1], noise=0.05) <= 0.75
    H = factorised(binary_latents(3), N=50, seed=11)
    rep = M.condition_report(H, binary_latents(3), noise=0.05, n_samples=5, max_dichotomies=10)
    assert set(rep) == {"parallelism", "ccgp", "shattering_dimensionality", "interaction_share",
                        "walsh_spectrum", "participation_ratio"}
    np.testing.assert_allclose(rep["parallelism"], 1.0, atol=1e-12)
    np.testing.assert_array_equal(rep["ccgp"], 1.0)
    assert rep["interaction_share"] == pytest.approx(0.0, abs=1e-12)
    assert 1.0 <= rep["participation_ratio"] <= 3.0 + 1e-12
    assert 0.5 <= rep["shattering_dimensionality"] <= 1.0


# ----------------------------------------------------------------------------- error paths

S2 = binary_latents(2)
H2 = np.random.default_rng(0).standard_normal((4, 3))


@pytest.mark.parametrize("fn", [
    lambda H, S: M.parallelism_score(H, S),
    lambda H, S: M.ccgp(H, S, noise=0.1),
    lambda H, S: M.interaction_share(H, S),
    lambda H, S: M.walsh_spectrum(H, S),
    lambda H, S: M.condition_report(H, S, noise=0.1),
])
def test_shared_validation_errors(fn):
    with pytest.raises(ValueError, match="must have 4 rows"):
        fn(H2[:3], S2)
    bad = H2.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        fn(bad, S2)
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        fn(bad, S2)
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        fn(H2, S2 * 0.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        fn(H2, np.where(S2 > 0, np.nan, -1.0))
    with pytest.raises(ValueError, match="only one value"):
        fn(H2, np.column_stack([S2, np.ones(4)]))
    with pytest.raises(ValueError, match="2-D"):
        fn(H2[None], S2)


@pytest.mark.parametrize("fn", [
    lambda noise, n: M.ccgp(S2, S2, noise, n_samples=n),
    lambda noise, n: M.shattering_dimensionality(S2, noise, n_samples=n),
    lambda noise, n: M.decoding_accuracy(S2, S2[:, 0], noise=noise, n_samples=n),
    lambda noise, n: M.condition_report(S2, S2, noise=noise, n_samples=n),
])
def test_noise_and_sample_count_errors(fn):
    for noise in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="noise must be a finite number > 0"):
            fn(noise, 5)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        fn(0.1, 0)
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        fn(0.1, 2.5)


def test_parallelism_errors():
    S1 = binary_latents(1)
    with pytest.raises(ValueError, match="at least two latents"):
        M.parallelism_score(np.eye(2), S1)
    S3 = binary_latents(3)
    with pytest.raises(ValueError, match="no partner"):
        M.parallelism_score(np.eye(7), S3[1:])
    with pytest.raises(ValueError, match="repeated rows"):
        M.parallelism_score(np.eye(5), np.vstack([S2, S2[:1]]))
    with pytest.raises(ValueError, match="latent 0 = -1 have no partner"):
        M.parallelism_score(np.eye(3), S2[[3, 1, 0]])
    with pytest.raises(ValueError, match="at least two pairs"):
        M.parallelism_score(np.eye(2), S2[[0, 3]], pairing="max")
    with pytest.raises(ValueError, match="unknown pairing"):
        M.parallelism_score(H2, S2, pairing="best")
    with pytest.raises(ValueError, match="as many conditions"):
        M.parallelism_score(np.eye(7), S3[1:], pairing="max")
    with pytest.raises(ValueError, match="at most 8 conditions a side"):
        M.parallelism_score(np.eye(32), binary_latents(5), pairing="max")


def test_ccgp_errors():
    with pytest.raises(ValueError, match="at least two latents"):
        M.ccgp(np.eye(2), binary_latents(1), noise=0.1)
    S = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match="latent 0 takes one value"):
        M.ccgp(np.eye(3), S, noise=0.1)
    with pytest.raises(ValueError, match="unknown decoder"):
        M.ccgp(S2, S2, noise=0.1, decoder="mlp")
    with pytest.raises(ValueError, match="C must be"):
        M.ccgp(S2, S2, noise=0.1, C=0)


def test_decoding_and_shattering_errors():
    with pytest.raises(ValueError, match="exactly two values"):
        M.decoding_accuracy(S2, np.ones(4), noise=0.1)
    with pytest.raises(ValueError, match="exactly two values"):
        M.decoding_accuracy(S2, np.arange(4.0), noise=0.1)
    with pytest.raises(ValueError, match="labels must have 4 rows"):
        M.decoding_accuracy(S2, np.ones(3), noise=0.1)
    with pytest.raises(ValueError, match="both label values"):
        M.decoding_accuracy(S2, S2[:, 0], noise=0.1, train=S2[:, 0] > 0)
    with pytest.raises(ValueError, match=r"mask must have shape \(4,\)"):
        M.decoding_accuracy(S2, S2[:, 0], noise=0.1, train=np.ones(3, bool))
    with pytest.raises(ValueError, match="outside 0..3"):
        M.decoding_accuracy(S2, S2[:, 0], noise=0.1, test=[0, 4])
    with pytest.raises(ValueError, match="at least one condition"):
        M.decoding_accuracy(S2, S2[:, 0], noise=0.1, test=[])
    with pytest.raises(ValueError, match="unknown decoder"):
        M.decoding_accuracy(S2, S2[:, 0], noise=0.1, decoder="tree")
    with pytest.raises(ValueError, match="even number"):
        M.shattering_dimensionality(np.eye(3), noise=0.1)
    with pytest.raises(ValueError, match="max_dichotomies must be >= 1"):
        M.shattering_dimensionality(S2, noise=0.1, max_dichotomies=0)
    with pytest.raises(ValueError, match="unknown decoder"):
        M.shattering_dimensionality(S2, noise=0.1, decoder="tree")
    with pytest.raises(ValueError, match="even number"):
        M.balanced_dichotomies(5)
    with pytest.raises(ValueError, match="n_conditions must be >= 2"):
        M.balanced_dichotomies(1)


def test_no_variance_errors():
    const = np.tile([1.0, -2.0, 3.0], (4, 1))
    with pytest.raises(ValueError, match="no variance"):
        M.interaction_share(const, S2)
    with pytest.raises(ValueError, match="no variance"):
        M.participation_ratio(const)
    with pytest.raises(ValueError, match="no variance"):
        M.participation_ratio(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no variance"):
        M.kernel_interaction_share(const @ const.T, S2)
    with pytest.raises(ValueError, match="no variance"):
        M.kernel_interaction_share(np.zeros((4, 4)), S2)
    np.testing.assert_array_equal(M.walsh_spectrum(const, S2), 0.0)


def test_kernel_and_walsh_errors():
    K = H2 @ H2.T
    with pytest.raises(ValueError, match="must have 4 columns"):
        M.kernel_interaction_share(K[:, :3], S2)
    with pytest.raises(ValueError, match="must have 4 rows"):
        M.kernel_interaction_share(K[:3, :3], S2)
    asym = K.copy()
    asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        M.kernel_interaction_share(asym, S2)
    with pytest.raises(ValueError, match="NaN or inf"):
        M.kernel_interaction_share(np.full((4, 4), np.inf), S2)
    with pytest.raises(ValueError, match="Walsh matrix would have 8192 x 2"):
        M.walsh_basis(binary_latents(13))
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        M.walsh_basis(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="n_latents must be >= 1"):
        M.walsh_subsets(0)
    with pytest.raises(ValueError, match="n_conditions must be >= 1"):
        M.centering_projector(0)
    with pytest.raises(ValueError, match="only one value"):
        M.interaction_projector(np.column_stack([S2, np.ones(4)]))


# ----------------------------------------------------------------------------- trials and nulls
# abstraction_report on synthetic recordings: r trials per condition, isotropic noise.


def trials_of(H, S, r, noise, seed):
    """r noisy trials of each row of H: (P r, N) responses and their (P r, D) latents."""
    rng = np.random.default_rng(seed)
    X = np.repeat(H, r, axis=0)
    return X + noise * rng.standard_normal(X.shape), np.repeat(S, r, axis=0)


def landmarks(S, N=30, seed=0):
    """Factorized (orthonormal directions), conjunctive (orthogonal one-hot) and random
    codes of S, each with total variance D P across conditions (as in Chapter 1)."""
    P, D = S.shape
    rng = np.random.default_rng(seed)
    B = orthogonal(N, seed)[:D]
    G = rng.standard_normal((P, N))
    return {
        "factorized": S @ B,
        "conjunctive": np.sqrt(D * P / (P - 1)) * orthogonal(N, seed + 1)[:P],
        "random": G * np.sqrt(D * P / np.sum((G - G.mean(axis=0)) ** 2)),
    }


S3 = binary_latents(3)
CODES3 = landmarks(S3)
# 120 draws: the smallest p-value is 1/121 < 0.01.
N_NULL = 120


def rows(report, measure):
    return report[report.measure == measure].set_index("latent")


@pytest.mark.parametrize("null", M.NULLS)
def test_report_factorized_code_is_significant(null):
    X, L = trials_of(CODES3["factorized"], S3, r=20, noise=0.5, seed=1)
    rep = M.abstraction_report(X, L, null=null, n_null=N_NULL, progress=False)
    assert list(rep.columns) == ["measure", "latent", "value", "null_mean", "null_q95", "p_value"]
    assert rep.attrs["null_draws"].shape == (N_NULL, len(rep))
    for measure in ("parallelism (natural)", "parallelism (max)", "ccgp"):
        r = rows(rep, measure)
        assert list(r.index) == ["s1", "s2", "s3"]
        # The observed value exceeds every draw: p takes its smallest value, 1/(1 + n_null).
        np.testing.assert_allclose(r.p_value, 1 / (1 + N_NULL))
        assert np.all(r.value > r.null_q95)
    # The p-value is the stated function of the stored draws.
    draws = rep.attrs["null_draws"]
    np.testing.assert_allclose(rep.p_value, (1 + (draws >= rep.value.to_numpy()).sum(0)) / (1 + N_NULL))
    np.testing.assert_allclose(rep.null_mean, draws.mean(0))
    np.testing.assert_allclose(rep.null_q95, np.quantile(draws, 0.95, axis=0))


def test_report_conjunctive_and_random_codes_are_not_significant():
    # Under the geometric null a conjunctive code (equidistant conditions) and a random code
    # look like typical draws. The p-values at these seeds are 0.18 or more (measured),
    # far from 0.05, so a change of an accuracy by one trial or of a score by round-off
    # on another CPU (moving p by a few draws out of 121) cannot flip them.
    X, L = trials_of(CODES3["conjunctive"], S3, r=20, noise=0.5, seed=4)
    rep = M.abstraction_report(X, L, n_null=N_NULL, progress=False, measures=("ccgp",))
    assert np.all(rows(rep, "ccgp").p_value > 0.05)
    X, L = trials_of(CODES3["random"], S3, r=20, noise=0.5, seed=5)
    rep = M.abstraction_report(X, L, n_null=N_NULL, progress=False, measures="parallelism")
    assert np.all(rows(rep, "parallelism (natural)").p_value > 0.05)


def test_report_p_values_are_uniform_under_the_shuffle_null():
    # Trials that do not depend on the condition: the shuffle null is then exact, and the
    # rank of the observed score among the 1 + n draws is uniform on {1, ..., n + 1}. With
    # U ~ U(0, 1) independent, p - U / (n + 1) is exactly U(0, 1) (no ties: the score is
    # continuous). One p-value per seed keeps the sample independent. The KS test rejects at
    # level 1e-3, so for a random choice of seeds this test fails with probability 1e-3.
    from scipy.stats import kstest

    n_null, n_seeds = 19, 200
    jitter = np.random.default_rng(12345).uniform(size=n_seeds)
    p = np.empty(n_seeds)
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        X, L = rng.standard_normal((8 * 3, 4)), np.repeat(S3, 3, axis=0)
        rep = M.abstraction_report(X, L, null="shuffle", n_null=n_null, seed=seed,
                                   measures="parallelism", progress=False)
        p[seed] = rep.p_value.iloc[0]
    assert kstest(p - jitter / (n_null + 1), "uniform").pvalue > 1e-3


def test_report_is_deterministic_and_independent_of_n_jobs():
    X, L = trials_of(CODES3["random"], S3, r=6, noise=0.5, seed=6)
    kw = dict(n_null=12, seed=3, progress=False)
    for null in M.NULLS:
        a = M.abstraction_report(X, L, null=null, n_jobs=1, **kw)
        # Each draw has its own random stream, so two workers give the same draws as one
        # (checked for one null: starting the workers dominates the test's time).
        others = [M.abstraction_report(X, L, null=null, n_jobs=j, **kw)
                  for j in ((1, 2) if null == "geometric" else (1,))]
        for other in others:
            pd_testing.assert_frame_equal(a, other)
            np.testing.assert_array_equal(a.attrs["null_draws"], other.attrs["null_draws"])
        d = M.abstraction_report(X, L, null=null, n_jobs=1, **{**kw, "seed": 4})
        assert not np.array_equal(a.attrs["null_draws"], d.attrs["null_draws"])


def test_report_shares_the_definitions_of_the_mean_based_metrics():
    # Trials without scatter: the condition means are the code itself, so PS is exactly
    # parallelism_score of the code, and the decoders see P separable points.
    H = CODES3["random"]
    X, L = trials_of(H, S3, r=5, noise=0.0, seed=0)
    rep = M.abstraction_report(X, L, n_null=3, progress=False)
    np.testing.assert_allclose(rows(rep, "parallelism (natural)").value, M.parallelism_score(H, S3),
                               atol=1e-12)
    np.testing.assert_allclose(rows(rep, "parallelism (max)").value,
                               M.parallelism_score(H, S3, pairing="max"), atol=1e-12)
    X, L = trials_of(CODES3["factorized"], S3, r=5, noise=1e-3, seed=0)
    rep = M.abstraction_report(X, L, n_null=3, progress=False)
    np.testing.assert_array_equal(rows(rep, "ccgp").value, 1.0)
    np.testing.assert_array_equal(rows(rep, "shattering").value[:3], 1.0)
    # The XOR-like dichotomies of a factorized code are not linearly separable.
    assert rows(rep, "shattering").value["all dichotomies"] < 0.9


def test_least_squares_svm_batched_equals_fitted_and_other_classifiers_work():
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import LinearSVC

    class Unbatched(M.LeastSquaresSVM):
        """The same decoder through the generic (one fit per labelling) path."""

    X, L = trials_of(CODES3["conjunctive"], S3, r=6, noise=0.7, seed=7)
    kw = dict(n_null=4, seed=1, progress=False)
    fast = M.abstraction_report(X, L, **kw)
    slow = M.abstraction_report(X, L, classifier=Unbatched(reg=1.0), **kw)
    np.testing.assert_allclose(fast.value, slow.value, atol=1e-12)
    np.testing.assert_allclose(fast.attrs["null_draws"], slow.attrs["null_draws"], atol=1e-12)
    # The closed form: primal (n >= N) and dual (n < N) solves give the same decoder.
    rng = np.random.default_rng(0)
    y = np.repeat([-1.0, 1.0], 10)
    for N in (3, 40):
        A = rng.standard_normal((20, N)) + y[:, None]
        clf = M.LeastSquaresSVM(reg=0.5).fit(A, y)
        Ac = A - A.mean(0)
        lam = 0.5 * np.sum(Ac ** 2) / N
        w = np.linalg.solve(Ac.T @ Ac + lam * np.eye(N), Ac.T @ y)
        np.testing.assert_allclose(clf.coef_, w, atol=1e-10)
        assert clf.score(A, y) > 0.9
    clf = M.LeastSquaresSVM().fit(A, np.where(y > 0, "b", "a"))
    assert set(clf.predict(A)) <= {"a", "b"}
    kw1 = {**kw, "n_null": 1, "measures": "ccgp"}
    rep = M.abstraction_report(X, L, classifier=LinearSVC(), **kw1)
    assert np.all((rep.value >= 0) & (rep.value <= 1))
    # Regularisation chosen by cross-validation within each training set.
    search = GridSearchCV(M.LeastSquaresSVM(), {"reg": [0.1, 1.0, 10.0]}, cv=3)
    rep = M.abstraction_report(X, L, classifier=search, **kw1)
    assert np.all((rep.value >= 0) & (rep.value <= 1))


def test_report_reads_any_two_values_and_names_latents():
    import pandas as pd

    X, L = trials_of(CODES3["factorized"], S3, r=5, noise=0.3, seed=8)
    base = M.abstraction_report(X, L, n_null=3, progress=False)
    frame = pd.DataFrame({"colour": np.where(L[:, 0] > 0, "red", "blue"),
                          "side": np.where(L[:, 1] > 0, 2.5, 0.1),
                          "reward": L[:, 2] > 0})
    named = M.abstraction_report(X, frame, n_null=3, progress=False)
    np.testing.assert_array_equal(named.value, base.value)
    assert list(rows(named, "ccgp").index) == ["colour", "side", "reward"]
    assert named.attrs["levels"]["colour"] == ("blue", "red")
    # Trials in any order.
    perm = np.random.default_rng(0).permutation(len(X))
    shuffled = M.abstraction_report(X[perm], L[perm], n_null=3, progress=False)
    np.testing.assert_allclose(rows(shuffled, "parallelism (natural)").value,
                               rows(base, "parallelism (natural)").value, atol=1e-12)


def test_report_errors():
    X, L = trials_of(CODES3["random"], S3, r=5, noise=0.5, seed=9)
    report = M.abstraction_report
    with pytest.raises(ValueError, match=r"missing condition\(s\) \(s1=1.0, s2=1.0, s3=1.0\)"):
        report(X[:-5], L[:-5])
    with pytest.raises(ValueError, match=r"at least two trials; condition\(s\) \(s1=1.0, s2=1.0, s3=1.0\)"):
        report(X[:-4], L[:-4], cv=2)
    with pytest.raises(ValueError, match=r"unbalanced conditions.*\(s1=1.0, s2=1.0, s3=1.0\) have 3"):
        report(X[:-2], L[:-2], cv=2)
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 trials per condition; got 4"):
        report(np.delete(X, np.arange(0, 40, 5), 0), np.delete(L, np.arange(0, 40, 5), 0))
    bad = L.copy()
    bad[0, 1] = 0.0
    with pytest.raises(ValueError, match="latent s2 takes 3 distinct values"):
        report(X, bad)
    with pytest.raises(ValueError, match="latent s1 takes 1 distinct values"):
        report(X, np.column_stack([np.ones(40), L[:, 1:]]))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"latents contains NaN \(latent s2\)"):
        report(X, bad)
    badX = X.copy()
    badX[3, 2] = np.nan
    with pytest.raises(ValueError, match="trials .* contains NaN or inf"):
        report(badX, L)
    with pytest.raises(ValueError, match="one row per trial"):
        report(X[:-1], L)
    with pytest.raises(ValueError, match="at least two columns"):
        report(X, L[:, 0])
    for kw, msg in [(dict(null="rotation"), "unknown null"), (dict(n_null=0), "n_null must be >= 1"),
                    (dict(cv=1), "cv must be >= 2"), (dict(seed=-1), "seed must be"),
                    (dict(seed=1.5), "seed must be"), (dict(seed=None), "seed must be"),
                    (dict(n_jobs=0), "n_jobs must be"),
                    (dict(measures=("ps",)), "measures must be"), (dict(classifier="svm"), "classifier must"),
                    (dict(max_dichotomies=0), "max_dichotomies must be >= 1")]:
        with pytest.raises((ValueError, TypeError), match=msg):
            report(X, L, progress=False, **kw)


def test_null_models_keep_what_they_promise():
    rng = np.random.default_rng(3)
    T = rng.standard_normal((8, 5, 6)) + 3 * rng.standard_normal((8, 1, 6))
    means = T.mean(axis=1)
    G = M._null_trials(T, "geometric", np.random.default_rng(0))
    new_means = G.mean(axis=1)
    # Every cloud keeps its scatter about its mean; the means keep their centre and their
    # total variance about it, and move.
    np.testing.assert_allclose(G - new_means[:, None], T - means[:, None], atol=1e-12)
    np.testing.assert_allclose(new_means.mean(0), means.mean(0), atol=1e-12)
    np.testing.assert_allclose(np.sum((new_means - new_means.mean(0)) ** 2),
                               np.sum((means - means.mean(0)) ** 2), rtol=1e-12)
    assert not np.allclose(new_means, means, atol=0.1)
    # The shuffle null deals the same trials out to the conditions again.
    Sh = M._null_trials(T, "shuffle", np.random.default_rng(0))
    flat = lambda A: np.sort(A.reshape(-1, 6), axis=0)  # noqa: E731
    np.testing.assert_array_equal(flat(Sh), flat(T))
    assert not np.array_equal(Sh, T)


def test_metric_seeds_must_be_explicit_integers():
    S = binary_latents(2)
    for bad in (None, -1, 0.5):
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            M.ccgp(S, S, noise=0.1, seed=bad)
        with pytest.raises((TypeError, ValueError), match="seed must be"):
            M.shattering_dimensionality(S, noise=0.1, seed=bad)


# ----------------------------------------------------------------------------- real coordinates


def test_nonaffine_share_is_interaction_share_for_binary_latents():
    S = binary_latents(3)
    H = np.random.default_rng(0).standard_normal((8, 5))
    assert M.nonaffine_share(H, S) == pytest.approx(M.interaction_share(H, S), abs=1e-12)
    assert M.kernel_nonaffine_share(H @ H.T, S) == pytest.approx(M.interaction_share(H, S), abs=1e-12)


def test_nonaffine_share_circle():
    theta = 2 * np.pi * np.arange(12) / 12
    Z = np.column_stack([np.cos(theta), np.sin(theta)])
    B = np.random.default_rng(1).standard_normal((2, 6))
    flat = 3.0 + Z @ B                      # an ellipse: affine in the coordinates
    assert M.nonaffine_share(flat, Z) < 1e-12
    second = np.column_stack([np.cos(2 * theta), np.sin(2 * theta)])
    assert M.nonaffine_share(second, Z) == pytest.approx(1.0, abs=1e-12)
    mixed = np.hstack([Z, second])          # equal energy in harmonics 1 and 2
    assert M.nonaffine_share(mixed, Z) == pytest.approx(0.5, abs=1e-12)
    assert M.kernel_nonaffine_share(mixed @ mixed.T, Z) == pytest.approx(0.5, abs=1e-12)
    # one coordinate of a multi-valued latent (a 1-D array)
    levels = np.array([0.0, 1.0, 2.0, 3.0])
    assert M.nonaffine_share(np.column_stack([levels, levels ** 2]), levels) > 0.0
    assert M.nonaffine_share(5 * levels, levels) < 1e-12


def test_nonaffine_share_errors():
    Z = np.arange(4.0)
    with pytest.raises(ValueError, match="span all"):
        M.nonaffine_share(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="rows"):
        M.nonaffine_share(np.eye(4), Z[:3])
    with pytest.raises(ValueError, match="no variance"):
        M.nonaffine_share(np.ones((4, 2)), Z)
    with pytest.raises(ValueError, match="symmetric"):
        M.kernel_nonaffine_share(np.triu(np.ones((4, 4))), Z)
    with pytest.raises(ValueError, match="no variance"):
        M.kernel_nonaffine_share(np.ones((4, 4)), Z)


# ----------------------------------------------------------------------------- several values


def grid_values(L=3, D=2):
    from itertools import product
    return np.array(list(product(*[np.arange(L, dtype=float) - (L - 1) / 2] * D)))


def test_levels_reduce_to_binary_measures():
    S = binary_latents(3)
    H = np.random.default_rng(2).standard_normal((8, 6))
    np.testing.assert_allclose(M.parallelism_score_levels(H, S), M.parallelism_score(H, S),
                               atol=1e-12)
    np.testing.assert_allclose(M.ccgp_levels(H, S, noise=0.5, seed=3),
                               M.ccgp(H, S, noise=0.5, seed=3), atol=1e-12)
    # row order does not matter for the parallelism score
    perm = np.random.default_rng(0).permutation(8)
    np.testing.assert_allclose(M.parallelism_score_levels(H[perm], S[perm]),
                               M.parallelism_score(H, S), atol=1e-12)


def test_levels_additive_and_nonadditive_codes():
    Z = grid_values(3)
    rng = np.random.default_rng(4)
    g1, g2 = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    idx = (Z + 1).astype(int)
    additive = g1[idx[:, 0]] + g2[idx[:, 1]]          # steps differ, but not by context
    np.testing.assert_allclose(M.parallelism_score_levels(additive, Z), 1.0, atol=1e-12)
    assert M.nonaffine_share(additive, Z) > 0.01       # additive, yet not affine
    conj = np.eye(9)                                   # one unit per condition
    assert np.all(np.abs(M.parallelism_score_levels(conj, Z)) < 0.3)
    flat = 2.0 + Z @ np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]])
    np.testing.assert_allclose(M.ccgp_levels(flat, Z, noise=0.05, seed=0), 1.0)
    assert M.ccgp_levels(conj, Z, noise=0.05, seed=0).max() < 0.9


def test_levels_errors():
    Z = grid_values(3)
    with pytest.raises(ValueError, match="full factorial"):
        M.parallelism_score_levels(np.eye(8), Z[:8])
    with pytest.raises(ValueError, match="at least two latents"):
        M.ccgp_levels(np.eye(3), np.arange(3.0), noise=0.1)
    with pytest.raises(ValueError, match="one value"):
        M.parallelism_score_levels(np.eye(3), np.column_stack([np.arange(3.0), np.ones(3)]))
    with pytest.raises(ValueError, match="rows"):
        M.ccgp_levels(np.eye(4), Z, noise=0.1)
    with pytest.raises(ValueError):
        M.ccgp_levels(np.eye(9), Z, noise=0.0)
