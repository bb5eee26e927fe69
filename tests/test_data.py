"""Tests of abstractnb.data on the digits bundled with scikit-learn (no network)."""
import numpy as np
import pytest

from abstractnb import data, metrics, tasks


@pytest.fixture(scope="module")
def dg():
    return data.digits()


def test_shapes_and_labels(dg):
    assert dg.X.shape == (1797, 64) and dg.S.shape == (1797, 2) and dg.pixels.shape == (1797, 64)
    assert dg.images.shape == (1797, 8, 8)
    assert dg.latents == ("parity", "magnitude") and dg.D == 2 and dg.n == 1797
    assert set(np.unique(dg.S)) == {-1.0, 1.0}
    assert set(np.unique(dg.digit)) == set(range(10))
    odd, large = dg.digit % 2 == 1, dg.digit >= 5
    np.testing.assert_array_equal(dg.S[:, 0], np.where(odd, 1.0, -1.0))
    np.testing.assert_array_equal(dg.S[:, 1], np.where(large, 1.0, -1.0))


def test_conditions_follow_binary_latents_order(dg):
    np.testing.assert_array_equal(dg.conditions, tasks.binary_latents(2))
    np.testing.assert_array_equal(dg.conditions[dg.condition], dg.S)
    assert dg.digits_of == {0: (0, 2, 4), 1: (6, 8), 2: (1, 3), 3: (5, 7, 9)}
    assert dg.missing == ()


def test_scaling(dg):
    np.testing.assert_allclose(dg.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.mean(np.sum(dg.X ** 2, axis=1)), 1.0, rtol=1e-12)
    raw = data.digits(center=False)
    assert raw.X.min() == 0.0 and raw.X.max() == 1.0
    np.testing.assert_array_equal(raw.X * data.MAX_PIXEL, raw.pixels)


def test_frozen(dg):
    with pytest.raises(Exception):
        dg.X = np.zeros(3)


def test_condition_means_match_a_loop(dg):
    M = dg.condition_means()
    for c in range(4):
        np.testing.assert_allclose(M[c], dg.X[dg.condition == c].mean(axis=0))
    H = np.arange(dg.n, dtype=float)[:, None]
    assert dg.condition_means(H).shape == (4, 1)
    with pytest.raises(ValueError, match="rows"):
        dg.condition_means(np.zeros((5, 3)))
    # The metrics read the condition means in this order.
    assert metrics.interaction_share(M, dg.conditions) >= 0


def test_per_digit_and_balanced(dg):
    small = data.digits(per_digit=10, seed=3)
    assert small.n == 100 and np.all(np.bincount(small.digit) == 10)
    again = data.digits(per_digit=10, seed=3)
    np.testing.assert_array_equal(small.pixels, again.pixels)
    idx = dg.balanced(seed=0)
    counts = np.bincount(dg.condition[idx], minlength=4)
    assert np.all(counts == counts[0]) and counts[0] == np.bincount(dg.condition).min()
    assert np.all(np.bincount(dg.condition[dg.balanced(seed=1, per_condition=7)]) == 7)
    with pytest.raises(ValueError, match="smallest"):
        dg.balanced(seed=0, per_condition=10_000)


def test_subset(dg):
    sub = dg.subset(dg.digit < 5)
    assert set(sub.digit) == set(range(5)) and sub.n == int(np.sum(dg.digit < 5))
    np.testing.assert_array_equal(sub.X, dg.X[dg.digit < 5])
    assert sub.missing == (1, 3)   # no large digit
    with pytest.raises(ValueError, match="no image"):
        sub.condition_means()
    with pytest.raises(ValueError):
        dg.subset(np.array([], dtype=int))
    with pytest.raises(ValueError, match="outside"):
        dg.subset(np.array([dg.n]))


def test_third_latent_and_missing_condition():
    three = data.digits(("parity", "magnitude", "loop"))
    assert three.S.shape == (1797, 3)
    # even, large, no loop (6 and 8 have loops) and odd, small, loop (1, 3 have none)
    assert three.missing == (2, 5)
    assert three.digits_of[2] == () and three.digits_of[5] == ()
    pair = data.digits(("parity", "loop"))
    assert pair.missing == ()
    assert data.digits("loop").S.shape == (1797, 1)


@pytest.mark.parametrize("bad, err, match", [
    (("parity", "size"), ValueError, "unknown latent 'size'"),
    ((), ValueError, "at least one"),
    (("parity", "parity"), ValueError, "distinct"),
    (3, TypeError, "sequence"),
])
def test_bad_latents(bad, err, match):
    with pytest.raises(err, match=match):
        data.digits(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="rarest"):
        data.digits(per_digit=500)
    with pytest.raises(ValueError):
        data.digits(per_digit=0)
    with pytest.raises(TypeError):
        data.digits(center="no")
    with pytest.raises(TypeError):
        data.digits(per_digit=5, seed=None)
