r"""Symmetries of a convex problem over the latent cube, and pricing on a fundamental domain.

Let the conditions be the vertices :math:`s_\mu \in \{\pm1\}^D` of the latent cube and let
:math:`g` be a signed permutation of the latents. It permutes the conditions,
:math:`\mu \mapsto \pi_g(\mu)` with :math:`s_{\pi_g(\mu)} = g s_\mu`. The problem
:math:`(X, Y)` is *invariant* under :math:`g` when the kernel of the inputs (with the bias)
is, :math:`\tilde K_{\pi_g\pi_g} = \tilde K`, and the targets are *equivariant*,
:math:`Y_{\pi_g} = Y R_g` with :math:`R_g` orthogonal (:math:`K \times K`). Aligned and
whitened inputs with latent targets are invariant under all :math:`2^D D!` of them.

Then, in reduced coordinates (:math:`\tilde X = LV^\top`), :math:`L_{\pi_g} = L O_g` with
:math:`O_g` orthogonal (:math:`r \times r`), and two facts make the dual constraint cheap:

1. The dual objective is concave and invariant, and :math:`c(Z) = \max_{|v|=1}
   \|Z^\top\phi(Lv)\|` is convex and invariant, so the *group average*
   :math:`\bar Z = \frac1{|G|}\sum_g Z_{\pi_g} R_g^\top` is a dual point at least as good as
   :math:`Z` (:meth:`Symmetry.average`); it is equivariant,
   :math:`\bar Z_{\pi_g} = \bar Z R_g`.
2. For an equivariant :math:`\bar Z`, :math:`\|\bar Z^\top\phi(L O_g v)\| =
   \|\bar Z^\top\phi(Lv)\|`, so the maximum over the sphere is the maximum over any set
   that meets every orbit. The elements of :math:`G` whose :math:`O_g` is a reflection
   generate a finite reflection group :math:`W`, and a closed Weyl chamber
   :math:`C = \{v : n_i^\top v \ge 0\}` of :math:`W` (:math:`n_i` its simple roots) meets
   every :math:`W`-orbit. Pricing only the faces of the arrangement inside :math:`C`, cut
   along its walls (:func:`abstractnb.arrangement.enumerate_faces` with ``walls``), is exact.
   Their rays come from :func:`chamber_rays`, which lists lines of the arrangement up to
   the group instead of trying every subset of hyperplanes (for aligned :math:`D = 6`,
   :math:`\binom{70}{6} \approx 1.3\times 10^8` subsets, 179 rays).

For aligned inputs :math:`O_g` acts on the latent part of a unit's weight as :math:`g`
itself, :math:`W = G` and :math:`C` is :math:`\{w_1 \ge \dots \ge w_D \ge 0\}` (bias free):
:math:`1/(2^D D!)` of the sphere (1/3840 for :math:`D = 5`). Where no element acts as a
reflection (whitened inputs: a signed permutation of the latents moves many conditions at
once) there is no chamber; when the reduced inputs are square every sign vector is a face,
and one face per orbit is priced instead (:func:`orbit_representatives`).

Measured (``benchmarks/bench_solver.py``): aligned inputs with latent targets, :math:`D = 5`
(1.3 M faces, 2,567 in the chamber) and :math:`D = 6` (35,187 in the chamber), and whitened
:math:`D = 4` (43 M faces, 132,101 orbits) are certified, where enumerating every face is out
of reach.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations, permutations, product
from math import comb

import numpy as np
from scipy.optimize import nnls

from .arrangement import (AMBIGUOUS_RANK, AMBIGUOUS_VALUE, SIGN_TOL, ZERO_TOL, Arrangement, Pricing,
                          _ambiguous, _dedupe, _sign_vectors, _signs, enumerate_faces, faces_from_signs)

#: Relative tolerance of the invariance checks: a symmetry must hold to rounding level, because
#: pricing on the fundamental domain is exact only for an exactly invariant problem.
SYMMETRY_TOL = 1e-10
#: Largest number of latents whose signed permutations are tried (2^D D! elements).
MAX_LATENTS = 6
#: Row subsets solved at once when listing the rays of a flat directly; above it the flat is
#: split along the orbits of its hyperplanes (:func:`chamber_rays`).
FLAT_SUBSETS = 300_000
#: Most starting candidates of column generation (orbits of rays; pricing adds the rest).
START_COLUMNS = 20_000
#: Maximisers in the chamber whose whole orbits join column generation per round (an orbit
#: has up to 2^D D! directions).
ORBIT_REPS = 8


@dataclass(frozen=True, eq=False)
class Symmetry:
    r"""A group of signed permutations of the latents that leaves a problem invariant.

    Attributes
    ----------
    perms : (order, P) int, :math:`\pi_g`: row ``g`` lists, for each condition, its image
    outputs : (order, K, K) orthogonal :math:`R_g` with :math:`Y_{\pi_g} = Y R_g`
    actions : (order, r, r) orthogonal :math:`O_g` with :math:`L_{\pi_g} = L O_g`
    walls : (m, r) unit inner normals of a Weyl chamber of the reflections in the group
        (m = 0 when no element acts as a reflection)
    """

    perms: np.ndarray
    outputs: np.ndarray
    actions: np.ndarray
    walls: np.ndarray

    @property
    def order(self) -> int:
        return int(self.perms.shape[0])

    def average(self, Z: np.ndarray) -> np.ndarray:
        r"""The group average :math:`\bar Z = \frac1{|G|}\sum_g Z_{\pi_g}R_g^\top` (P, K)."""
        return np.einsum("gpk,gjk->pj", Z[self.perms], self.outputs) / self.order

    def orbit(self, V: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        r"""All distinct :math:`O_g v` over the rows ``v`` of ``V`` (n, r): (m, r) rows, and for
        each the index of the row of ``V`` it came from."""
        n = V.shape[0]
        U = np.einsum("grs,ns->gnr", self.actions, V).reshape(-1, V.shape[1])
        first = _dedupe(U, np.arange(U.shape[0]), tol)
        return U[first], first % max(n, 1)


def _cube_signs(Y: np.ndarray) -> np.ndarray | None:
    """The latent values S (P, D) read off targets whose columns are +-alpha_k and whose rows
    run over the whole cube, or None."""
    P = Y.shape[0]
    mag = np.abs(Y)
    cols = [k for k in range(Y.shape[1])
            if mag[0, k] > 0 and np.all(np.abs(mag[:, k] - mag[0, k]) <= SYMMETRY_TOL * mag[0, k])]
    D = len(cols)
    if D == 0 or D > MAX_LATENTS or P != 2 ** D:
        return None
    S = np.sign(Y[:, cols]).astype(int)
    if np.unique(S, axis=0).shape[0] != P:
        return None
    return S


def _orthogonal_map(A: np.ndarray, B: np.ndarray) -> np.ndarray | None:
    """The orthogonal R with A R = B (A of full column rank), or None."""
    R, *_ = np.linalg.lstsq(A, B, rcond=None)
    scale = max(np.abs(B).max(), 1e-300)
    if np.abs(A @ R - B).max() > SYMMETRY_TOL * scale * max(1, A.shape[0]):
        return None
    if np.abs(R.T @ R - np.eye(R.shape[1])).max() > 1e3 * SYMMETRY_TOL:
        return None
    return R


def latent_symmetry(L: np.ndarray, Y: np.ndarray) -> Symmetry | None:
    r"""The signed permutations of the latents that leave the problem :math:`(L, Y)` invariant.

    ``L`` (P, r) reduced inputs of full column rank, ``Y`` (P, K) targets. The latents are
    read off ``Y``: its columns with entries :math:`\pm\alpha_k`, whose sign rows run over
    all :math:`2^D` vertices of the cube (latent targets, scaled or not). Returns None when
    the targets are not of that form, or when only the identity leaves the problem invariant.
    """
    S = _cube_signs(Y)
    if S is None:
        return None
    P, D = S.shape
    index = {tuple(s): i for i, s in enumerate(S)}
    Kt = L @ L.T
    tol = SYMMETRY_TOL * np.abs(Kt).max()
    pinv = np.linalg.pinv(L)
    perms, outputs, actions = [], [], []
    for order in permutations(range(D)):
        for signs in product((1, -1), repeat=D):
            image = S[:, order] * np.array(signs)
            pi = np.array([index[tuple(s)] for s in image])
            if np.abs(Kt[np.ix_(pi, pi)] - Kt).max() > tol:
                continue
            R = _orthogonal_map(Y, Y[pi])
            if R is None:
                continue
            perms.append(pi)
            outputs.append(R)
            actions.append(pinv @ L[pi])
    if len(perms) <= 1:
        return None
    actions = np.array(actions)
    return Symmetry(np.array(perms), np.array(outputs), actions, _weyl_chamber(actions))


def _weyl_chamber(actions: np.ndarray) -> np.ndarray:
    r"""Simple roots of the reflections among ``actions``: inner normals of a Weyl chamber.

    A reflection :math:`O = I - 2nn^\top` is symmetric with one eigenvalue -1. Its roots
    :math:`\pm n` are oriented positive on a generic direction :math:`v_0`; the chamber of
    :math:`v_0` is :math:`\{v : n^\top v \ge 0\}` over the positive roots, and its facets are
    the simple roots: those that are not nonnegative combinations of the other positive roots.
    """
    r = actions.shape[1]
    roots = []
    for O in actions:
        if np.abs(O - O.T).max() > 1e-9:
            continue
        ev, vec = np.linalg.eigh(O)
        if np.sum(ev < 0) == 1 and np.all(np.abs(np.abs(ev) - 1) <= 1e-9):
            roots.append(vec[:, 0])
    if not roots:
        return np.zeros((0, r))
    roots = np.array(roots)
    # A direction off every reflecting hyperplane (irrational weights), fixed for determinism.
    v0 = np.cos(np.sqrt(2.0) * np.arange(1, r + 1) + 0.5)
    roots *= np.sign(roots @ v0)[:, None]
    simple = []
    for i in range(roots.shape[0]):
        others = np.delete(roots, i, axis=0)
        _, resid = nnls(others.T, roots[i])
        if resid > 1e-8:
            simple.append(roots[i])
    return np.array(simple).reshape(-1, r)


@dataclass(frozen=True, eq=False)
class SymmetricArrangement:
    r"""Exact pricing of equivariant dual points on the fundamental domain of a symmetry.

    Wraps the faces to price (``faces``: those inside a Weyl chamber, an
    :class:`~abstractnb.arrangement.Arrangement` with walls, or one face per orbit) and the
    :class:`Symmetry`. :meth:`price` averages the dual point over the group (never worse, see
    the module docstring) and prices the average exactly; listed directions come back as
    whole orbits, so that column generation keeps a symmetric dictionary.
    """

    faces: Arrangement
    symmetry: Symmetry

    @property
    def linear(self) -> bool:
        return self.faces.linear

    @property
    def n_faces(self) -> int:
        """Faces priced (inside the chamber, or one per orbit), not all of the arrangement's."""
        return self.faces.n_faces

    def rays(self) -> np.ndarray:
        """Candidate directions to start column generation: the orbits of the rays among the
        faces, the smallest orbits first (the most symmetric units), about
        :data:`START_COLUMNS` of them at most (pricing adds whatever else is needed)."""
        reps = self.faces.rays()
        orbits = [self.symmetry.orbit(v[None])[0] for v in reps]
        out, n = [], 0
        for k in np.argsort([o.shape[0] for o in orbits], kind="stable"):
            if out and n + orbits[k].shape[0] > START_COLUMNS:
                break
            out.append(orbits[k])
            n += orbits[k].shape[0]
        return np.vstack(out) if out else reps

    def symmetrize(self, Z: np.ndarray) -> np.ndarray:
        """The dual point that :meth:`price` prices: the group average of ``Z``."""
        return self.symmetry.average(Z)

    def price(self, Z: np.ndarray, *, threshold: float | None = None,
              max_directions: int = 200) -> Pricing:
        """Exact c of the group average of ``Z``. The listed directions are the orbits of the
        best :data:`ORBIT_REPS` (at most ``max_directions``) maximisers among the faces, each
        with its representative's value, so that column generation keeps a symmetric
        dictionary."""
        pr = self.faces.price(self.symmetrize(Z), threshold=threshold, max_directions=max_directions)
        if pr.directions.shape[0] == 0:
            return pr
        dirs, owner = self.symmetry.orbit(pr.directions[:min(ORBIT_REPS, max_directions)])
        vals = pr.values[owner]
        order = np.argsort(-vals, kind="stable")
        return Pricing(pr.value, pr.witness, dirs[order], vals[order], pr.exact, pr.degenerate)


def _unit_rows(N: np.ndarray) -> np.ndarray:
    return N / np.linalg.norm(N, axis=1, keepdims=True)


def _distinct_lines(N: np.ndarray) -> np.ndarray:
    """The rows of N (nonzero) up to scale and sign: one unit row per line."""
    U = _unit_rows(N)
    lead = np.argmax(np.abs(U) > 1e-9, axis=1)
    U = U * np.sign(U[np.arange(U.shape[0]), lead])[:, None]
    return U[_dedupe(U, np.arange(U.shape[0]), 1e-9)]


def _null_lines(N: np.ndarray) -> np.ndarray | None:
    r"""The lines cut out by (d-1)-subsets of the hyperplanes with unit normals N (m, d): the
    generalised cross products (signed (d-1)-minors) of independent subsets, as unit rows,
    or None when some subset is too close to dependent to decide. For unit rows the cross
    product's length is the product of the subset's singular values."""
    m, d = N.shape
    if d == 1:
        return np.ones((1, 1))
    cols = [np.delete(np.arange(d), j) for j in range(d)]
    out = []
    it = combinations(range(m), d - 1)
    while True:
        idx = np.fromiter((i for c in _take(it, 200_000) for i in c), dtype=np.intp).reshape(-1, d - 1)
        if idx.size == 0:
            break
        A = N[idx]
        x = np.stack([(-1) ** j * np.linalg.det(A[:, :, cols[j]]) for j in range(d)], axis=1)
        size = np.linalg.norm(x, axis=1)
        if _ambiguous(size, 1.0, AMBIGUOUS_RANK):
            return None
        x = x[size > SIGN_TOL]
        out.append(_distinct_lines(x) if x.size else x)
    U = np.vstack(out) if out else np.zeros((0, d))
    return _distinct_lines(U) if U.size else U


def _take(it, n: int):
    for _, c in zip(range(n), it):
        yield c


def _canonical(V: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Each row moved into the chamber {v : walls v >= 0} by reflections in the walls (each step
    flips the most violated simple root; the dominant point of an orbit is reached in at
    most as many steps as there are positive roots)."""
    V = V.copy()
    for _ in range(10_000):
        g = V @ walls.T
        bad = np.flatnonzero(np.any(g < -ZERO_TOL, axis=1))
        if bad.size == 0:
            return V
        n = walls[np.argmin(g[bad], axis=1)]
        V[bad] -= 2 * np.sum(V[bad] * n, axis=1)[:, None] * n
    raise RuntimeError("reflections did not reach the chamber (the walls are not simple roots)")


def _flat_rays(L, B, group, perms, deadline) -> np.ndarray | None:
    r"""Lines of the arrangement of the rows of L inside the flat spanned by B (r, d), up to
    the elements ``group`` (indices into ``perms``), which map the flat to itself.

    Each such line lies on some hyperplane that does not contain the flat; an element of the
    group maps it onto a line on the orbit representative of that hyperplane, so the flat is
    split along one hyperplane per orbit (whose stabiliser then acts) until a direct listing
    of the (d-1)-subsets is small enough."""
    if deadline is not None and time.perf_counter() > deadline:
        return None
    d = B.shape[1]
    N = L @ B
    cut = np.linalg.norm(N, axis=1) > SIGN_TOL * np.abs(L).max()
    if d == 1:
        return B.T.copy()
    Nd = _distinct_lines(N[cut])
    if comb(Nd.shape[0], d - 1) <= FLAT_SUBSETS or group.size <= 1:
        x = _null_lines(Nd)
        return None if x is None else x @ B.T
    out, covered = [], np.zeros(L.shape[0], bool)
    for nu in np.flatnonzero(cut):
        if covered[nu]:
            continue
        covered[perms[group, nu]] = True
        sub = np.linalg.svd((L[nu] @ B)[None])[2][1:].T  # the hyperplane nu inside the flat
        rays = _flat_rays(L, B @ sub, group[perms[group, nu] == nu], perms, deadline)
        if rays is None:
            return None
        out.append(rays)
    return np.vstack(out)


def chamber_rays(L: np.ndarray, sym: Symmetry, deadline: float | None = None) -> np.ndarray | None:
    r"""Unit directions of the rays of the arrangement of L cut along the walls of the Weyl
    chamber :math:`C` of ``sym``, inside :math:`C`; None past the deadline or when a sign
    cannot be decided.

    A ray inside :math:`C` lies on the walls :math:`T` it touches and spans a line of the
    hyperplanes restricted to the flat :math:`W_T`. For :math:`T = \emptyset` these are the
    lines of the arrangement itself: listed up to the reflection group (``_flat_rays``)
    and each moved into :math:`C` (``_canonical``), where every orbit has exactly one
    point. For :math:`T \neq \emptyset` the same with the hyperplanes restricted to
    :math:`W_T` (repeated ones merged) and the elements of the group that map :math:`W_T`
    onto itself; every line found is moved into :math:`C`, and those on its boundary kept.
    """
    W = sym.walls
    r = L.shape[1]
    refl = _reflection_group(sym)
    found = []
    for k in range(0, min(W.shape[0], r - 1) + 1):
        for T in combinations(range(W.shape[0]), k):
            B = np.linalg.svd(W[list(T)])[2][k:].T if k else np.eye(r)
            # The elements of W that map the flat W_T onto itself permute its lines.
            moved = np.einsum("grs,sk->grk", sym.actions[refl], B)
            keep = np.abs(moved - np.einsum("rk,gkj->grj", B, np.einsum("rk,grj->gkj", B, moved)))
            group = refl[keep.reshape(refl.size, -1).max(axis=1) <= 1e-9]
            x = _flat_rays(L, B, group, sym.perms, deadline)
            if x is None:
                return None
            x = _distinct_lines(x)
            found.append(np.vstack([x, -x]))
    R = _unit_rows(_canonical(np.vstack(found), W))
    R = R[np.all(R @ W.T >= -SIGN_TOL, axis=1)]
    return R[_dedupe(R, np.arange(R.shape[0]), 1e-9)]


def _reflection_group(sym: Symmetry) -> np.ndarray:
    """Indices of the elements of the group generated by the reflections in the walls (the
    Weyl group W, whose chamber is a fundamental domain), found by composing the permutations
    of the conditions (exact integers)."""
    dist = lambda R: np.abs(sym.actions - R).reshape(sym.order, -1).max(axis=1)
    gens = [sym.perms[np.argmin(dist(np.eye(n.size) - 2 * np.outer(n, n)))] for n in sym.walls]
    index = {pi.tobytes(): g for g, pi in enumerate(sym.perms)}
    ident = np.arange(sym.perms.shape[1])
    seen, frontier = {ident.tobytes()}, [ident]
    while frontier:
        nxt = []
        for pi in frontier:
            for h in gens:
                k = pi[h]
                if k.tobytes() not in seen:
                    seen.add(k.tobytes())
                    nxt.append(k)
        frontier = nxt
    return np.array(sorted(index[k] for k in seen))


def _mask_tables(perms: np.ndarray) -> np.ndarray:
    """Byte lookup tables that apply each permutation to bit masks of the conditions:
    ``T[g, b, x]`` is the image of the bits ``x`` of byte ``b`` (bit mu moves to pi_g(mu))."""
    G, P = perms.shape
    T = np.zeros((G, (P + 7) // 8, 256), np.uint64)
    x = np.arange(256, dtype=np.uint64)
    for mu in range(P):
        has = ((x >> np.uint64(mu % 8)) & np.uint64(1)).astype(bool)
        T[:, mu // 8, has] |= (np.uint64(1) << perms[:, mu].astype(np.uint64))[:, None]
    return T


def _permute(T: np.ndarray, g: int, m: np.ndarray) -> np.ndarray:
    out = np.zeros_like(m)
    for b in range(T.shape[1]):
        out |= T[g, b][((m >> np.uint64(8 * b)) & np.uint64(255)).astype(np.intp)]
    return out


def _minimal(m: np.ndarray, T: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The masks in ``m`` that are the smallest of their orbit under ``group`` (indices into T);
    most masks meet a smaller image after a few elements, so the survivors shrink fast."""
    idx = np.arange(m.size)
    for g in group:
        ok = m[idx] <= _permute(T, g, m[idx])
        idx = idx[ok]
    return m[idx]


def orbit_representatives(perms: np.ndarray, max_faces: int = 300_000):
    r"""One sign vector from each orbit of :math:`\{-,0,+\}^P \setminus \{0\}` under the
    permutations ``perms`` (order, P), with its orbit size; or None above ``max_faces``.

    When the reduced inputs are square and invertible (:math:`r = P`, e.g. whitened inputs
    with a bias), every sign vector is a face, so these are the faces to price. The
    representative is the orbit's smallest key (positive mask, then negative mask): its
    positive mask is the smallest of its own orbit, and its negative mask the smallest under
    the stabiliser of the positive one. Returns (sg (n, P) int8, support (n,) uint64 masks,
    orbit sizes (n,)).
    """
    G, P = perms.shape
    T = _mask_tables(perms)
    every = np.arange(2 ** P, dtype=np.uint64)
    out_pos, out_neg, sizes, count = [], [], [], 0
    for pos in _minimal(every, T, np.arange(G)):
        stab = np.flatnonzero([_permute(T, g, pos[None])[0] == pos for g in range(G)])
        neg = _minimal(every[(every & pos) == 0], T, stab)
        if pos == 0:
            neg = neg[neg != 0]
        fixed = sum((_permute(T, g, neg) == neg).astype(np.int64) for g in stab)
        count += neg.size
        if count > max_faces:
            return None
        out_pos.append(np.full(neg.size, pos, np.uint64))
        out_neg.append(neg)
        sizes.append(G // fixed)
    pos, neg = np.concatenate(out_pos), np.concatenate(out_neg)
    return _signs(pos[:, None], neg[:, None], P), pos | neg, np.concatenate(sizes)


def symmetric_faces(L: np.ndarray, Y: np.ndarray, *, slopes: tuple[float, float] = (0.0, 1.0),
                    max_faces: int = 300_000, deadline: float | None = None) -> SymmetricArrangement | None:
    """The faces that exact pricing of an equivariant dual point needs, or None.

    With reflections in the problem's symmetry group: the faces inside a Weyl chamber, cut
    along its walls. Without (whitened inputs), when the reduced inputs are square: one face
    per orbit (:func:`orbit_representatives`). None when the problem has no symmetry, or when
    even these are more than ``max_faces``.
    """
    sym = latent_symmetry(L, Y)
    if sym is None:
        return None
    P, r = L.shape
    if sym.walls.shape[0]:
        rays = chamber_rays(L, sym, deadline)
        if rays is None:
            return None
        Lw = np.vstack([L, sym.walls])
        values = rays @ Lw.T
        if _ambiguous(values, np.abs(Lw).max(), AMBIGUOUS_VALUE):
            return None
        arr = enumerate_faces(L, max_faces=max_faces, slopes=slopes, deadline=deadline, walls=sym.walls,
                              rays=_sign_vectors(values, Lw))
    elif r == P and 3 ** P // sym.order <= 2 * max_faces:
        reps = orbit_representatives(sym.perms, max_faces)
        arr = None if reps is None else faces_from_signs(L, reps[0], reps[1], slopes=slopes,
                                                         orbit_sizes=reps[2])
    else:
        arr = None
    return None if arr is None else SymmetricArrangement(arr, sym)
