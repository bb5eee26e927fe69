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
   :math:`Z` (:func:`Symmetry.average`); it is equivariant,
   :math:`\bar Z_{\pi_g} = \bar Z R_g`.
2. For an equivariant :math:`\bar Z`, :math:`\|\bar Z^\top\phi(L O_g v)\| =
   \|\bar Z^\top\phi(Lv)\|`, so the maximum over the sphere is the maximum over any set
   that meets every orbit. The elements of :math:`G` whose :math:`O_g` is a reflection
   generate a finite reflection group :math:`W`, and a closed Weyl chamber
   :math:`C = \{v : n_i^\top v \ge 0\}` of :math:`W` (:math:`n_i` its simple roots) meets
   every :math:`W`-orbit. Pricing only the faces of the arrangement inside :math:`C`, cut
   along its walls (:func:`abstractnb.arrangement.enumerate_faces` with ``walls``), is exact.

For aligned inputs :math:`O_g` acts on the latent part of a unit's weight as :math:`g`
itself, :math:`W = G` and :math:`C` is :math:`\{w_1 \ge \dots \ge w_D \ge 0\}` (bias free):
:math:`1/(2^D D!)` of the sphere (1/3840 for :math:`D = 5`). Where no element acts as a
reflection (whitened inputs: a signed permutation of the latents moves many conditions at
once) :math:`C` is the whole space and nothing is gained.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import numpy as np
from scipy.optimize import nnls

from .arrangement import Arrangement, Pricing, enumerate_faces, faces_from_signs

#: Relative tolerance of the invariance checks: a symmetry must hold to rounding level, because
#: pricing on the fundamental domain is exact only for an exactly invariant problem.
SYMMETRY_TOL = 1e-10
#: Largest number of latents whose signed permutations are tried (2^D D! elements).
MAX_LATENTS = 6
#: Maximisers in the chamber whose whole orbits join column generation per round (an orbit
#: has up to 2^D D! directions).
ORBIT_REPS = 8


@dataclass(frozen=True, eq=False)
class Symmetry:
    r"""A group of signed permutations of the latents that leaves a problem invariant.

    Attributes
    ----------
    perms : (|G|, P) int, :math:`\pi_g`: row ``g`` lists, for each condition, its image
    outputs : (|G|, K, K) orthogonal :math:`R_g` with :math:`Y_{\pi_g} = Y R_g`
    actions : (|G|, r, r) orthogonal :math:`O_g` with :math:`L_{\pi_g} = L O_g`
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
        _, first = np.unique(np.round(U / tol).astype(np.int64), axis=0, return_index=True)
        first = np.sort(first)
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

    Wraps the faces inside the Weyl chamber (:attr:`faces`, an :class:`Arrangement` with
    walls) and the :class:`Symmetry`. :meth:`price` averages the dual point over the group
    (never worse, see the module docstring) and prices the average exactly; listed directions
    come back as whole orbits, so that column generation keeps a symmetric dictionary.
    """

    faces: Arrangement
    symmetry: Symmetry
    linear: bool = False

    @property
    def n_faces(self) -> int:
        """Faces priced (inside the chamber), not the faces of the whole arrangement."""
        return self.faces.n_faces

    def rays(self) -> np.ndarray:
        """The rays inside the chamber and their orbits (every ray of the arrangement, and
        some rays of the cuts along the walls: harmless extra candidates)."""
        return self.symmetry.orbit(self.faces.rays())[0]

    def symmetrize(self, Z: np.ndarray) -> np.ndarray:
        """The dual point that :meth:`price` prices: the group average of ``Z``."""
        return self.symmetry.average(Z)

    def price(self, Z: np.ndarray, *, threshold: float | None = None,
              max_directions: int = 200) -> Pricing:
        """Exact c of the group average of ``Z``. The listed directions are the orbits of the
        best :data:`ORBIT_REPS` (at most ``max_directions``) maximisers in the chamber (each with its representative's
        value), so that column generation keeps a symmetric dictionary."""
        pr = self.faces.price(self.symmetrize(Z), threshold=threshold, max_directions=max_directions)
        if pr.directions.shape[0] == 0:
            return pr
        dirs, owner = self.symmetry.orbit(pr.directions[:min(ORBIT_REPS, max_directions)])
        vals = pr.values[owner]
        order = np.argsort(-vals, kind="stable")
        return Pricing(pr.value, pr.witness, dirs[order], vals[order], pr.exact, pr.degenerate)


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
    permutations ``perms`` (|G|, P), with its orbit size; or None above ``max_faces``.

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
    bits = np.uint64(1) << np.arange(P, dtype=np.uint64)
    sg = ((pos[:, None] & bits) != 0).astype(np.int8) - ((neg[:, None] & bits) != 0).astype(np.int8)
    return sg, pos | neg, np.concatenate(sizes)


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
        arr = enumerate_faces(L, max_faces=max_faces, slopes=slopes, deadline=deadline, walls=sym.walls)
    elif r == P and 3 ** P // sym.order <= 2 * max_faces:
        reps = orbit_representatives(sym.perms, max_faces)
        arr = None if reps is None else faces_from_signs(L, reps[0], reps[1], slopes=slopes,
                                                         orbit_sizes=reps[2])
    else:
        arr = None
    return None if arr is None else SymmetricArrangement(arr, sym)
