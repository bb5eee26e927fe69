"""Tests of abstractnb.symmetry: the group of a latent-cube problem, the group average of a dual
point, and exact pricing on a Weyl chamber against pricing over every face."""
import warnings

import numpy as np
import pytest

from abstractnb import arrangement, inputs, meanfield as mf, tasks, theory, training
from abstractnb.preactivations import reduce_inputs
from abstractnb.symmetry import chamber_rays, latent_symmetry, orbit_representatives, symmetric_faces

REG = 0.01
# Both prices are exact up to TIE_SLACK (a tied face may be counted a little high), plus
# rounding of O(1) numbers.
PRICE_TOL = 2 * arrangement.TIE_SLACK + 1e-12


def reduced(D, geometry="aligned"):
    S = tasks.binary_latents(D)
    X = inputs.aligned(S) if geometry == "aligned" else inputs.whitened(S)
    return S, reduce_inputs(X).L, tasks.latent_targets(S)


@pytest.mark.parametrize("D,geometry", [(2, "aligned"), (3, "aligned"), (2, "whitened"), (3, "whitened")])
def test_latent_targets_have_the_whole_hyperoctahedral_group(D, geometry):
    S, L, Y = reduced(D, geometry)
    sym = latent_symmetry(L, Y)
    order = 2 ** D * int(np.prod(np.arange(1, D + 1)))
    assert sym.order == order
    # The defining relations, for every element.
    for pi, R, O in zip(sym.perms, sym.outputs, sym.actions):
        assert np.allclose(Y[pi], Y @ R, atol=1e-12) and np.allclose(L[pi], L @ O, atol=1e-12)
        assert np.allclose(O.T @ O, np.eye(O.shape[0]), atol=1e-12)
    assert np.unique(sym.perms, axis=0).shape[0] == order


def test_aligned_chamber_is_the_sorted_cone():
    """For aligned inputs the reflections are the latents' own: D walls (simple roots)."""
    S, L, Y = reduced(4)
    sym = latent_symmetry(L, Y)
    assert sym.walls.shape == (4, L.shape[1])
    # Whitened inputs of D = 3: a latent flip moves four pairs of conditions, not a reflection.
    assert latent_symmetry(*reduced(3, "whitened")[1:]).walls.shape[0] == 0


def test_problems_without_the_symmetry_are_refused():
    S = tasks.binary_latents(3)
    L = reduce_inputs(inputs.aligned(S)).L
    assert latent_symmetry(L, tasks.linear_tasks(S, 2, seed=0)) is None  # targets not on a cube
    Le = reduce_inputs(inputs.random_embedding(S, 6, seed=0)).L
    assert latent_symmetry(Le, tasks.latent_targets(S)) is None  # inputs break every symmetry
    # Unequal output scales: only the sign flips survive (the permutations would mix outputs).
    sym = latent_symmetry(L, tasks.latent_targets(S) * np.array([1.0, 2.0, 3.0]))
    assert sym.order == 8


def test_group_average_is_equivariant_and_a_projection():
    S, L, Y = reduced(3)
    sym = latent_symmetry(L, Y)
    Z = np.random.default_rng(1).standard_normal(Y.shape)
    Zb = sym.average(Z)
    for pi, R in zip(sym.perms, sym.outputs):
        assert np.allclose(Zb[pi], Zb @ R, atol=1e-13)
    assert np.allclose(sym.average(Zb), Zb, atol=1e-13)
    # The dual objective only sees tr(Z^T Y) and |Z|^2: the average is never worse.
    assert np.sum(Zb * Y) == pytest.approx(np.sum(Z * Y), rel=1e-12)
    assert np.sum(Zb * Zb) <= np.sum(Z * Z) * (1 + 1e-12)


@pytest.mark.parametrize("D,geometry", [(2, "aligned"), (3, "aligned"), (4, "aligned"), (2, "whitened"),
                                        (3, "whitened")])
def test_symmetric_pricing_equals_pricing_over_every_face(D, geometry):
    S, L, Y = reduced(D, geometry)
    ch = symmetric_faces(L, Y)
    full = arrangement.enumerate_faces(L)
    assert ch.n_faces < full.n_faces
    rng = np.random.default_rng(D)
    for _ in range(5):
        Z = rng.standard_normal(Y.shape)  # not equivariant: price() prices its average
        Zb = ch.symmetrize(Z)
        a, b = full.price(Zb).value, ch.price(Z).value
        assert abs(a - b) <= PRICE_TOL * a
        # The witness is a maximiser: its value is c.
        w = ch.price(Z).witness
        assert np.linalg.norm(np.maximum(L @ w, 0) @ Zb) == pytest.approx(b, rel=PRICE_TOL)


def test_orbit_representatives_cover_every_sign_vector_once():
    """Whitened D = 3: one sign vector per orbit, and the orbits partition {-,0,+}^8 minus 0."""
    S, L, Y = reduced(3, "whitened")
    sym = latent_symmetry(L, Y)
    sg, support, sizes = orbit_representatives(sym.perms)
    P = S.shape[0]
    assert sizes.sum() == 3 ** P - 1
    images = {tuple(s[pi]) for s in sg for pi in sym.perms}
    assert len(images) == 3 ** P - 1
    # Each orbit is listed once: its images are exactly as many as its size says.
    for s, n in zip(sg[:50], sizes[:50]):
        assert len({tuple(s[pi]) for pi in sym.perms}) == n
    assert orbit_representatives(sym.perms, max_faces=10) is None


@pytest.mark.parametrize("D", [3, 4, 5])
def test_chamber_rays_are_the_rays_of_the_cut_arrangement_inside_the_chamber(D):
    """Found through the group (flats split along hyperplane orbits, lines moved into the
    chamber by reflections) = found by brute force over every row subset of [L; walls]."""
    S, L, Y = reduced(D)
    sym = latent_symmetry(L, Y)
    Lw = np.vstack([L, sym.walls])
    fast = np.unique(arrangement._sign_vectors(chamber_rays(L, sym) @ Lw.T, Lw), axis=0)
    brute = np.unique(arrangement.cocircuits(Lw, sym.walls.shape[0]), axis=0)
    assert np.array_equal(fast, brute)


def test_listed_directions_come_in_whole_orbits():
    """At the modular dual point Z* (c = 1) the active units are the 2D modular units: one
    orbit, listed whole, each with its value."""
    S, L, Y = reduced(3)
    ch = symmetric_faces(L, Y)
    Z = theory.modular_optimum(inputs.aligned(S), S, REG).dual
    pr = ch.price(Z, threshold=1 - 1e-6)
    assert pr.exact and pr.value == pytest.approx(1.0, rel=PRICE_TOL)
    orbit, _ = ch.symmetry.orbit(pr.directions)
    assert orbit.shape[0] == pr.directions.shape[0] >= 2 * 3  # closed under the group
    vals = np.linalg.norm(np.maximum(pr.directions @ L.T, 0) @ Z, axis=1)
    assert np.allclose(vals, pr.values, rtol=1e-9)


def test_solve_through_the_chamber_matches_the_full_enumeration():
    """max_faces below the full arrangement: the symmetric path takes over, certified."""
    S = tasks.binary_latents(4)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    full = mf.solve(X, Y, reg=REG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sym = mf.solve(X, Y, reg=REG, max_faces=1000)
    assert full.certified and sym.certified and sym.exact
    assert sym.n_faces < 1000 < full.n_faces
    assert "group average" in sym.note
    # Both are certified: each objective is within GAP_TOL of J*, so of each other.
    assert abs(sym.objective - full.objective) <= mf.GAP_TOL * full.objective
    assert sym.lower_bound <= full.objective * (1 + 1e-12)
    assert full.lower_bound <= sym.objective * (1 + 1e-12)


def test_whitened_four_latents_are_certified_and_both_exact_pricings_agree():
    """r = P = 16: 43 million faces. solve prices on the 65,535 faces of the cone {Lv >= 0}
    (arrangement.single_cone); the 132,101 orbits under the 384 signed permutations give the
    same c for an equivariant dual point."""
    S = tasks.binary_latents(4)
    X, Y = inputs.whitened(S), tasks.latent_targets(S)
    sol = mf.solve(X, Y, reg=REG)
    assert sol.certified and sol.exact and "cone" in sol.note
    closed = theory.modular_optimum(X, S, REG).objective
    assert abs(sol.objective - closed) <= mf.GAP_TOL * closed
    L = reduce_inputs(X).L
    orbits = symmetric_faces(L, Y)
    assert orbits is not None and orbits.n_faces == 132_101
    Z = orbits.symmetrize(np.random.default_rng(0).standard_normal(Y.shape))
    a, b = orbits.price(Z).value, arrangement.cone_faces(L).price(Z).value
    assert abs(a - b) <= arrangement.TIE_SLACK * a


def test_certify_prices_a_trained_network_through_the_symmetry():
    """Whitened D = 4 with a leaky ReLU (negative preactivations now reach the readout, so the
    cone is not enough): the network's dual point is averaged over the group and priced on
    one face per orbit, so the bound is a proof."""
    S = tasks.binary_latents(4)
    X, Y = inputs.whitened(S), tasks.latent_targets(S)
    res = training.train(X, Y, width=32, reg=REG, steps=500, seed=0, progress=False,
                         activation="leaky_relu")
    cert = mf.certify(res, X, Y, reg=REG, activation="leaky_relu")
    assert cert.exact and "group average" in cert.note
    assert cert.lower_bound <= res.objective * (1 + 2e-12)
    # The refinement stops with its bracket below GAP_TOL / 10 (its stopping rule).
    assert cert.refine_reason in ("converged", "stalled")
    # (Both ends are J* up to rounding when the refinement converges: the bracket may be -1 ulp.)
    bracket = cert.upper_bound - cert.lower_bound
    assert -1e-12 * cert.upper_bound <= bracket <= mf.GAP_TOL / 10 * cert.upper_bound


@pytest.mark.parametrize("D", [5, 6])
def test_aligned_five_and_six_latents_are_certified(D):
    """P = 32: 1.3 million faces, 2,567 in the chamber; P = 64: 35,187 in the chamber (the
    rays of 64 hyperplanes in R^7 found through the group, sign vectors of 70 entries)."""
    S = tasks.binary_latents(D)
    X, Y = inputs.aligned(S), tasks.latent_targets(S)
    sol = mf.solve(X, Y, reg=REG)
    assert sol.certified and sol.exact
    closed = theory.modular_optimum(X, S, REG).objective
    assert abs(sol.objective - closed) <= mf.GAP_TOL * closed
