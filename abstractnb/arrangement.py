r"""The hyperplane arrangement of the conditions, and exact pricing for piecewise-linear units.

A hidden unit with input weight :math:`w` has preactivations :math:`z = \tilde X w`. Write
:math:`\tilde X = L V^\top` (thin SVD, :func:`abstractnb.preactivations.reduce_inputs`, :math:`L = U_r S_r` of shape (P, r), :math:`V` with
orthonormal columns) and :math:`w = V v`: then :math:`z = Lv` and the weight norm is
:math:`\|w\| = |v|`. The :math:`P` hyperplanes :math:`\{v : L_\mu v = 0\}` cut
:math:`\mathbb{R}^r` into *faces*: sets of :math:`v` with the same sign vector
:math:`\sigma = \operatorname{sign}(Lv) \in \{-,0,+\}^P`. On the closure of a face,

.. math:: \operatorname{relu}(Lv) = D_\sigma L v,\qquad D_\sigma = \operatorname{diag}(\sigma_\mu = +),

so the ReLU is linear there; so is every piecewise-linear :math:`\phi` through 0 with slopes
:math:`(a_-, a_+)` (leaky ReLU, :math:`|z|`, linear), with :math:`D_\sigma =
\operatorname{diag}(a_{\operatorname{sign}\sigma_\mu})`. This module enumerates all faces (the covectors of the oriented
matroid of the rows of :math:`L`: compositions of the cocircuits, i.e. of the rays) and uses
them to compute the dual constraint of the convex problem *exactly*:

.. math:: c(Z) = \max_{|v| = 1} \|Z^\top \operatorname{relu}(Lv)\|.

A maximiser lies in the relative interior of some face :math:`F`, where it is a local
maximum of the quadratic form :math:`\|M_F e\|^2`, :math:`M_F = Z^\top D_\sigma L B_F`
(:math:`B_F` an orthonormal basis of the span of :math:`F`), on the unit sphere; a local
maximum of a quadratic form on a sphere is a global one, so it is a top right-singular
vector of :math:`M_F`. Hence :math:`c(Z)` is the largest :math:`\sigma_{\max}(M_F)` over
the faces whose top right-singular space meets the closure of :math:`F` outside 0, and
each such face contributes a value that is attained (a lower bound on :math:`c`) — the
maximum over them is :math:`c` itself, with a witness :math:`v`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb
import time

import numpy as np
from scipy.optimize import linprog

# Relative size below which a preactivation L_mu v (|v| = 1) counts as exactly 0.
SIGN_TOL = 1e-9
# Two singular values within this relative distance are treated as one (a tie).
TIE_TOL = 1e-9
# A tied face whose top value is within this relative distance of the best attained value is
# counted as attained without solving its LP (an overestimate of c, so the bound stays valid).
TIE_SLACK = 1e-9
# Do not try more (r-1)-row subsets than this when searching for the rays.
MAX_SUBSETS = 3_000_000
# The signs of the rays decide the whole face list, and one wrong zero can drop whole chambers
# (an underestimate of c, i.e. a bound that is not valid). Exact zeros of degenerate inputs come
# out at rounding level (<= ZERO_TOL relative) and genuine nonzeros far above it; a preactivation
# of a ray in (ZERO_TOL, AMBIGUOUS_VALUE], or a row subset or flat with smallest singular value in
# (ZERO_TOL, AMBIGUOUS_RANK] (relative to max|L|), cannot be told apart from rounding reliably, so
# such inputs are not enumerated (callers fall back to a search and certify nothing).
ZERO_TOL = 1e-12
AMBIGUOUS_VALUE = 1e-8
AMBIGUOUS_RANK = 1e-6


@dataclass(frozen=True, eq=False)
class FaceBlock:
    """The faces of one dimension k.

    Attributes
    ----------
    index : (n_k,) rows of :attr:`Arrangement.signs` that these faces are
    basis : (n_k, r, k) orthonormal bases :math:`B_F` of the spans of the faces
    features : (n_k, P, k) :math:`D_\\sigma L B_F`: for :math:`v = B_F e` in the closure of
        the face, :math:`\\phi(Lv) = ` ``features @ e``
    """

    index: np.ndarray
    basis: np.ndarray
    features: np.ndarray


@dataclass(frozen=True, eq=False)
class Arrangement:
    r"""All faces (of dimension >= 1) of the arrangement :math:`\{v: L_\mu v = 0\}`.

    Attributes
    ----------
    L : (P, r) reduced inputs
    signs : (n_faces, P) int8 sign vectors (covectors) in {-1, 0, +1}
    dims : (n_faces,) dimension of each face
    blocks : one :class:`FaceBlock` per dimension
    linear : True for a linear activation (equal slopes): a single "face" (all of
        :math:`\mathbb{R}^r`, no sign constraints, :math:`D = aI`)
    slopes : :math:`(a_-, a_+)`, the slopes of the activation the features were built for
    n_walls : the last ``n_walls`` rows of ``L`` are not conditions but the walls of a cone
        :math:`C = \{v : L_{\text{wall}} v \ge 0\}` (a fundamental domain of a symmetry,
        :mod:`abstractnb.symmetry`): only the faces inside :math:`C` are listed, and the
        walls carry no feature (dual points are padded with zero rows for them)
    cone : only the faces of the cone :math:`\{v : Lv \ge 0\}` are listed: enough for exact
        pricing when negative preactivations can never raise :math:`c(Z)`
        (:func:`single_cone`)
    """

    L: np.ndarray
    signs: np.ndarray
    dims: np.ndarray
    blocks: tuple[FaceBlock, ...]
    linear: bool = False
    slopes: tuple[float, float] = (0.0, 1.0)
    n_walls: int = 0
    cone: bool = False

    @property
    def n_faces(self) -> int:
        return int(self.signs.shape[0])

    def scaled(self, a: float) -> "Arrangement":
        """The arrangement of ``a * L`` (a > 0): the same faces, features scaled by ``a``."""
        blocks = tuple(FaceBlock(b.index, b.basis, a * b.features) for b in self.blocks)
        return Arrangement(a * self.L, self.signs, self.dims, blocks, self.linear, self.slopes,
                           self.n_walls, self.cone)

    def symmetrize(self, Z: np.ndarray) -> np.ndarray:
        """The dual point that :meth:`price` prices: ``Z`` itself (see
        :class:`abstractnb.symmetry.SymmetricArrangement`, which averages it over a group)."""
        return Z

    def price(self, Z: np.ndarray, *, threshold: float | None = None,
              max_directions: int = 200, faces: np.ndarray | None = None) -> "Pricing":
        """:func:`price` over these faces (dual point ``Z`` of shape (P, K), one row per condition)."""
        if self.n_walls:
            Z = np.vstack([Z, np.zeros((self.n_walls, Z.shape[1]))])
        return price(self, Z, threshold=threshold, max_directions=max_directions, faces=faces)

    def rays(self) -> np.ndarray:
        """Unit directions of the 1-dimensional faces, (n_rays, r), oriented inside their face."""
        for blk in self.blocks:
            if blk.basis.shape[2] == 1:
                u = blk.basis[:, :, 0]
                y = u @ self.L.T
                s = self.signs[blk.index]
                flip = np.sum(s * y, axis=1) < 0
                u = np.where(flip[:, None], -u, u)
                return u
        return np.zeros((0, self.L.shape[1]))


def _sign_vectors(Y: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Signs of preactivations ``Y`` = (n, P) of unit directions, with a zero band."""
    tol = SIGN_TOL * max(np.abs(L).max(), 1e-300)
    return np.where(np.abs(Y) <= tol, 0, np.sign(Y)).astype(np.int8)


def _ambiguous(x: np.ndarray, scale: float, upper: float) -> bool:
    """Whether some entry of ``x`` is too small to be nonzero for sure, too large to be rounding."""
    a = np.abs(x)
    return bool(np.any((a > ZERO_TOL * scale) & (a <= upper * scale)))


def _null_lines(L: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Unit null vectors of every (r-1)-row subset of L (rows of U) with the smallest singular
    value of each subset (0 up to rounding where the subset is dependent and the vector is
    meaningless), or None when there are more than ``MAX_SUBSETS`` subsets."""
    P, r = L.shape
    if r == 1:
        return np.ones((1, 1)), np.full(1, np.inf)
    if comb(P, r - 1) > MAX_SUBSETS:
        return None
    subsets = np.array(list(combinations(range(P), r - 1)), dtype=np.intp)
    _, s, Vt = np.linalg.svd(L[subsets])
    return Vt[:, -1, :], s[:, -1]


def ray_directions(L: np.ndarray) -> np.ndarray | None:
    """Unit directions of the rays of the arrangement, both orientations, without the checks
    that an exact enumeration needs (:func:`cocircuits`): starts for a search. None when there
    are more than ``MAX_SUBSETS`` row subsets."""
    lines = _null_lines(L)
    if lines is None:
        return None
    U = lines[0][lines[1] > SIGN_TOL * np.abs(L).max()]
    return np.vstack([U, -U])


def cocircuits(L: np.ndarray, n_walls: int = 0) -> np.ndarray | None:
    """Sign vectors of the rays (1-dimensional faces) of the arrangement, both orientations.

    A ray spans the null space of r-1 independent rows of L. Returns (n, P) int8, or None
    when there are more than ``MAX_SUBSETS`` row subsets to try, or when L is so close to a
    degenerate configuration that the signs cannot be decided reliably (see ``ZERO_TOL``).
    With ``n_walls``, only the rays on the nonnegative side of the last ``n_walls`` rows.
    """
    P, r = L.shape
    scale = np.abs(L).max()
    lines = _null_lines(L)
    if lines is None:
        return None
    U, s_min = lines
    if _ambiguous(s_min, scale, AMBIGUOUS_RANK):
        return None
    U = U[s_min > SIGN_TOL * scale]
    if _ambiguous(U @ L.T, scale, AMBIGUOUS_VALUE):
        return None
    sg = _sign_vectors(U @ L.T, L)
    sg = sg[np.any(sg != 0, axis=1)]
    sg = np.unique(np.vstack([sg, -sg]), axis=0)
    if n_walls:
        sg = sg[np.all(sg[:, L.shape[0] - n_walls:] >= 0, axis=1)]
    return sg


def _words(P: int) -> int:
    return (P + 63) // 64


def _row_keys(words: np.ndarray) -> np.ndarray:
    """One sortable key per row of an (n, w) uint64 array (equal keys, equal rows)."""
    if words.shape[1] == 1:
        return words[:, 0]
    words = np.ascontiguousarray(words)
    return words.view(np.dtype((np.void, 8 * words.shape[1]))).ravel()


def _keys(pos: np.ndarray, neg: np.ndarray, P: int) -> np.ndarray:
    """One sortable key per sign vector, from its (n, w) positive and negative bit masks."""
    if P <= 32:
        return (pos[:, 0] << np.uint64(32)) | neg[:, 0]
    return _row_keys(np.concatenate([pos, neg], axis=1))


def _unkey(keys: np.ndarray, P: int) -> tuple[np.ndarray, np.ndarray]:
    if P <= 32:
        return (keys >> np.uint64(32))[:, None], (keys & np.uint64(0xFFFFFFFF))[:, None]
    w = _words(P)
    pn = np.frombuffer(keys.tobytes(), dtype=np.uint64).reshape(-1, 2 * w)
    return pn[:, :w].copy(), pn[:, w:].copy()


def _masks(sg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, w) uint64 bit masks of the + and - entries (bit mu % 64 of word mu // 64)."""
    n, P = sg.shape
    pos = np.zeros((n, _words(P)), np.uint64)
    neg = np.zeros_like(pos)
    for k in range(pos.shape[1]):
        block = sg[:, 64 * k:64 * (k + 1)]
        bits = np.uint64(1) << np.arange(block.shape[1], dtype=np.uint64)
        pos[:, k] = np.bitwise_or.reduce(np.where(block > 0, bits, np.uint64(0)), axis=1)
        neg[:, k] = np.bitwise_or.reduce(np.where(block < 0, bits, np.uint64(0)), axis=1)
    return pos, neg


def _signs(pos: np.ndarray, neg: np.ndarray, P: int) -> np.ndarray:
    """The (n, P) int8 sign vectors of (n, w) bit masks (inverse of :func:`_masks`)."""
    mu = np.arange(P)
    word, bit = mu // 64, np.uint64(1) << (mu % 64).astype(np.uint64)
    return ((pos[:, word] & bit) != 0).astype(np.int8) - ((neg[:, word] & bit) != 0).astype(np.int8)


def covectors(L: np.ndarray, max_faces: int = 300_000, deadline: float | None = None,
              n_walls: int = 0, rays: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """All nonzero covectors (sign vectors of faces) of the rows of L, or None above ``max_faces``
    (or once ``time.perf_counter()`` passes ``deadline``).

    Every covector of an oriented matroid is a composition :math:`C_1\\circ\\cdots\\circ C_k` of
    cocircuits (:math:`(X\\circ C)_\\mu = X_\\mu` if :math:`X_\\mu \\ne 0` else :math:`C_\\mu`),
    so the closure of the cocircuits under composition with a cocircuit is the face set; only
    conformal pairs (no opposite signs) are needed. With ``n_walls``, the faces inside the cone
    where the last ``n_walls`` rows are >= 0: each is a composition of its facet and one of its
    rays, both inside the cone, so the closure of the rays inside the cone gives them all.
    ``rays``: the cocircuits, when the caller found them (:func:`cocircuits` otherwise).
    Sign vectors are handled as bit masks. Returns the (n, P) int8 sign vectors and keys of
    their supports (equal keys, equal supports), or None.
    """
    P = L.shape[0]
    coc = cocircuits(L, n_walls) if rays is None else rays
    if coc is None:
        return None
    cp, cn = _masks(coc)
    full = _masks(np.ones((1, P), np.int8))[0][0]
    seen = np.unique(_keys(cp, cn, P))
    partial = np.any((cp | cn) != full, axis=1)
    fp, fn = cp[partial], cn[partial]
    chunk = max(1, 4_000_000 // max(cp.size, 1))
    while fp.shape[0]:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        new = []
        for i in range(0, fp.shape[0], chunk):
            if deadline is not None and time.perf_counter() > deadline:
                return None
            xp, xn = fp[i:i + chunk, None], fn[i:i + chunk, None]
            # A face Y of dimension k is X∘C for a facet X of Y and a ray C of cl(Y): both conform
            # to Y, so pairs with opposite signs somewhere can be skipped.
            ok = np.all(((xp & cn) | (xn & cp)) == 0, axis=-1)
            ip, jc = np.nonzero(ok)
            xp_, xn_ = xp[ip, 0], xn[ip, 0]
            fr = ~(xp_ | xn_)
            new.append(np.unique(_keys(xp_ | (cp[jc] & fr), xn_ | (cn[jc] & fr), P)))
            if sum(a.size for a in new) > 4 * max_faces:
                return None
        new = np.unique(np.concatenate(new))
        new = new[~np.isin(new, seen, assume_unique=True)]
        if new.size == 0:
            break
        seen = np.union1d(seen, new)
        if seen.size > max_faces:
            return None
        p, n = _unkey(new, P)
        partial = np.any((p | n) != full, axis=1)
        fp, fn = p[partial], n[partial]
    pos, neg = _unkey(seen, P)
    return _signs(pos, neg, P), _row_keys(pos | neg)


def enumerate_faces(L: np.ndarray, *, max_faces: int = 300_000, linear: bool = False,
                    slopes: tuple[float, float] = (0.0, 1.0), deadline: float | None = None,
                    walls: np.ndarray | None = None, rays: np.ndarray | None = None) -> Arrangement | None:
    r"""Enumerate the faces of the arrangement of the rows of ``L`` (see module docstring).

    Returns None when there are more than ``max_faces`` faces, when ``time.perf_counter()``
    passes ``deadline`` before the enumeration ends, or when the inputs are too
    close to a degenerate configuration for the signs to be decided reliably (then exact
    pricing is out of reach and callers fall back to a search). ``slopes = (a_-, a_+)`` of the
    activation set the features (ReLU by default); with equal slopes, or ``linear=True`` (the
    identity), there is a single face, the whole space.

    ``walls`` (m, r): only the faces inside the cone :math:`C = \{v : \text{walls}\,v \ge 0\}`
    (a fundamental domain of a symmetry of the problem, :mod:`abstractnb.symmetry`), cut
    along the walls; the result's ``L`` has the walls as its last rows
    (:attr:`Arrangement.n_walls`). Not for linear activations (one face already). ``rays``:
    the sign vectors of the rays (over the rows of ``L`` and then the walls), when the caller
    found them in a way that scales better than :func:`cocircuits`.
    """
    P, r = L.shape
    lo, hi = (1.0, 1.0) if linear else (float(slopes[0]), float(slopes[1]))
    linear = lo == hi
    if r == 0:
        return Arrangement(L, np.zeros((0, P), np.int8), np.zeros(0, int), (), linear, (lo, hi))
    if linear:
        blk = FaceBlock(np.array([0]), np.eye(r)[None], hi * L[None])
        return Arrangement(L, np.ones((1, P), np.int8), np.array([r]), (blk,), True, (lo, hi))
    n_walls = 0 if walls is None else int(np.shape(walls)[0])
    if n_walls:
        L = np.vstack([L, walls])
        P = L.shape[0]
    out = covectors(L, max_faces, deadline, n_walls, rays)
    if out is None:
        return None
    sg, support = out
    return faces_from_signs(L, sg, support, slopes=(lo, hi), n_walls=n_walls)


def faces_from_signs(L: np.ndarray, sg: np.ndarray, support: np.ndarray, *,
                     slopes: tuple[float, float] = (0.0, 1.0), n_walls: int = 0,
                     orbit_sizes: np.ndarray | None = None, cone: bool = False) -> Arrangement | None:
    r"""The :class:`Arrangement` of given faces: their spans, bases and features.

    ``sg`` (n, P) int8 sign vectors of faces of the rows of ``L`` (P, r), ``support`` (n,)
    their supports as bit masks. The faces must cut the unit sphere into cells (a face of
    dimension k is a (k-1)-cell), which is checked by the Euler characteristic: that of the
    sphere, or 1 inside a cone with interior (``n_walls``, or ``cone``: the faces of
    :math:`\{v : Lv \ge 0\}` alone, see :func:`cone_faces`); with ``orbit_sizes``, each face
    stands for its whole orbit under a symmetry (:mod:`abstractnb.symmetry`) and counts that
    many times. Returns None when the check fails or a span cannot be decided reliably.
    """
    P, r = L.shape
    # Faces with the same zero set share their span (a flat of the arrangement).
    codes, first, flat_of = np.unique(support, return_index=True, return_inverse=True)
    flats = sg[first] == 0
    flat_of = np.asarray(flat_of).ravel()
    scale = np.abs(L).max()
    flat_basis = [None] * len(flats)
    sizes = flats.sum(axis=1)
    # The faces of {Lv >= 0} (square L): where the rows outside T vanish, v spans the columns T
    # of L^-1, and a QR of those is several times cheaper than the SVD of the zero rows.
    Linv = np.linalg.inv(L) if cone else None
    for size in np.unique(sizes):  # one batched SVD per number of zero rows
        idx = np.flatnonzero(sizes == size)
        if size == 0:
            for f in idx:
                flat_basis[f] = np.eye(r)
            continue
        if cone:
            cols = np.nonzero(~flats[idx])[1].reshape(idx.size, r - size)
            Q, _ = np.linalg.qr(np.swapaxes(Linv[:, cols], 0, 1))
            for f, q in zip(idx, Q):
                flat_basis[f] = q
            continue
        rows = np.nonzero(flats[idx])[1].reshape(idx.size, size)
        _, sv, Vt = np.linalg.svd(L[rows], full_matrices=True)
        if _ambiguous(sv, scale, AMBIGUOUS_RANK):
            return None
        ranks = np.sum(sv > SIGN_TOL * scale, axis=1)
        for f, rank, vt in zip(idx, ranks, Vt):
            flat_basis[f] = vt[rank:].T
    dims = np.array([flat_basis[f].shape[1] for f in flat_of])
    # Inconsistent signs show up as a wrong Euler characteristic, or as a face of dimension 0.
    # Inside a cone with interior (walls), the cells cut a contractible piece of the sphere.
    weights = np.ones(dims.size, np.int64) if orbit_sizes is None else np.asarray(orbit_sizes, np.int64)
    f_k = np.bincount(dims, weights=weights, minlength=r + 1).round().astype(np.int64)
    euler = 1 if n_walls or cone else 1 + (-1) ** (r - 1)
    if f_k[0] or int(np.sum(f_k[1:] * (-1) ** np.arange(r))) != euler:
        return None
    blocks = []
    for k in np.unique(dims):
        idx = np.flatnonzero(dims == k)
        basis = np.stack([flat_basis[flat_of[i]] for i in idx])
        d = _slope_of(sg[idx], slopes)
        d[:, P - n_walls:] = 0.0  # walls are not conditions: no feature
        features = d[:, :, None] * (L @ basis)
        blocks.append(FaceBlock(idx, basis, features))
    return Arrangement(L, sg, dims, tuple(blocks), False, tuple(map(float, slopes)), n_walls, cone)


def single_cone(L: np.ndarray, slopes: tuple[float, float] = (0.0, 1.0)) -> bool:
    r"""Whether exact pricing may stay inside the cone :math:`C = \{v : Lv \ge 0\}`.

    True for a ReLU-type activation (:math:`a_- = 0 < a_+`) on square reduced inputs
    (:math:`r = P`, so :math:`h = Lv` ranges over all of :math:`\mathbb{R}^P` and
    :math:`|v|^2 = h^\top Mh`, :math:`M = (LL^\top)^{-1}`) when no off-diagonal entry of
    :math:`M` is positive (:math:`M` is an M-matrix: e.g. whitened inputs, with or without a
    bias). Then negative preactivations never help: write :math:`h = u - w` with
    :math:`u, w \ge 0` of disjoint supports, so :math:`\phi(h) = a_+u` and

    .. math:: h^\top Mh = u^\top Mu - 2u^\top Mw + w^\top Mw \ge u^\top Mu,

    since :math:`u^\top Mw` only meets off-diagonal entries (:math:`\le 0`) and :math:`M \succ 0`;
    so the direction of :math:`u` (which lies in :math:`C`) does at least as well as :math:`v`,
    strictly unless :math:`w = 0`. Hence :math:`c(Z)` is the maximum over :math:`C` alone, every
    maximiser lies in :math:`C`, and pricing needs the :math:`2^P - 1` faces of :math:`C`
    (:func:`cone_faces`) instead of up to :math:`3^P - 1`. Positive off-diagonal entries at
    rounding level (``ZERO_TOL`` relative to the smallest eigenvalue of :math:`M`, over
    :math:`P`) count as zero; they could change :math:`h^\top Mh` by less than that fraction.
    """
    P, r = L.shape
    if r != P or r == 0 or not (slopes[0] == 0 < slopes[1]):
        return False
    K = L @ L.T
    ev = np.linalg.eigvalsh(K)
    if ev[0] <= AMBIGUOUS_RANK * ev[-1]:
        return False
    M = np.linalg.inv(K)
    off = M - np.diag(np.diag(M))
    return bool(off.max() <= ZERO_TOL / (P * ev[-1]))


def cone_faces(L: np.ndarray, *, slopes: tuple[float, float] = (0.0, 1.0),
               max_faces: int = 300_000) -> Arrangement | None:
    r"""The :math:`2^P - 1` faces of the simplicial cone :math:`\{v : Lv \ge 0\}` (square,
    invertible ``L``), as an :class:`Arrangement` with ``cone=True``: exact pricing for the
    problems of :func:`single_cone`. None when they are more than ``max_faces``."""
    P, r = L.shape
    if r != P or P > 62 or 2 ** P - 1 > max_faces:
        return None
    codes = np.arange(1, 2 ** P, dtype=np.uint64)[:, None]  # the positive masks; no - entries
    sg = _signs(codes, np.zeros_like(codes), P)
    return faces_from_signs(L, sg, codes[:, 0], slopes=slopes, cone=True)


def _slope_of(signs: np.ndarray, slopes: tuple[float, float]) -> np.ndarray:
    """The diagonal of :math:`D_\\sigma`: a_+ where a sign is +, a_- where -, 0 where 0."""
    return np.where(signs > 0, slopes[1], np.where(signs < 0, slopes[0], 0.0))


def _phi(z: np.ndarray, slopes: tuple[float, float]) -> np.ndarray:
    return np.where(z > 0, slopes[1] * z, slopes[0] * z)


@dataclass(frozen=True, eq=False)
class Pricing:
    """Result of pricing a dual point Z.

    Attributes
    ----------
    value : :math:`c(Z) = \\max_{|v|=1}\\|Z^\\top\\phi(Lv)\\|` (exact pricing may round it up by at
        most ``TIE_SLACK`` relative, never down)
    witness : (r,) unit direction attaining it (up to that rounding)
    directions : (m, r) unit directions of all faces whose value is >= the requested
        threshold (sorted by decreasing value)
    values : (m,) their values
    exact : whether ``value`` is exact (faces enumerated) or only a search result
    degenerate : some face among ``directions`` has a top singular space of dimension > 1
        (its maximisers form a continuum; only some of them are listed)
    faces : (m,) row of :attr:`Arrangement.signs` of the face each listed direction came from
        (-1 for a tied face counted without its LP; None from a search or from the orbits of a
        symmetry)
    """

    value: float
    witness: np.ndarray
    directions: np.ndarray
    values: np.ndarray
    exact: bool
    degenerate: bool
    faces: np.ndarray | None = None


def _cone_lp(L, sg, Bk, E):
    """A point of (span E) ∩ cl(F), normalised by sum sigma_mu y_mu = 1, or None if only 0.

    The cone is {w : sigma_mu (L B E w)_mu >= 0 for sigma_mu != 0}.
    """
    Y = L @ Bk @ E  # (P, m)
    nz = sg != 0
    S = sg[nz, None] * Y[nz]
    m = E.shape[1]
    if S.shape[0] == 0:
        return E[:, 0] / np.linalg.norm(E[:, 0])
    if comb(S.shape[0], m - 1) <= 5000:
        # The cone is pointed (L has full column rank), so it is nonzero iff it has an extreme ray.
        R = extreme_rays(S, SIGN_TOL * max(np.abs(L).max(), 1e-300))
        if R.shape[0] == 0:
            return None
        e = E @ R[0]
        return e / np.linalg.norm(e)
    res = linprog(np.zeros(m), A_ub=-S, b_ub=np.zeros(S.shape[0]),
                  A_eq=S.sum(0)[None], b_eq=[1.0], bounds=[(None, None)] * m, method="highs")
    if res.status != 0:
        return None
    e = E @ res.x
    return e / np.linalg.norm(e)


def price(arr: Arrangement, Z: np.ndarray, *, threshold: float | None = None,
          max_directions: int = 200, faces: np.ndarray | None = None) -> Pricing:
    r"""Exact :math:`c(Z) = \max_{|v|=1}\|Z^\top \phi(Lv)\|` over all faces (for the slopes of ``arr``).

    Parameters
    ----------
    arr : the enumerated faces
    Z : (P, K) dual point
    threshold : also list every face whose (attained) value is >= threshold, with its
        maximising direction (for column generation and for the set of dual-active atoms)
    max_directions : at most this many listed directions (largest values first)
    faces : price only these rows of ``arr.signs`` (a *partial* pricing: the maximum over them,
        a lower bound on c, with ``exact`` False)
    """
    L = arr.L
    P, r = L.shape
    Z = np.asarray(Z, dtype=float)
    exact = faces is None
    empty = Pricing(0.0, np.eye(max(r, 1))[0][:r], np.zeros((0, r)), np.zeros(0), exact, False,
                    np.zeros(0, int))
    if r == 0 or arr.n_faces == 0 or not np.any(Z):
        return empty
    tol_sign = SIGN_TOL * np.abs(L).max()
    vals, dirs, rows, pending = [], [], [], []
    for blk in arr.blocks:
        if faces is not None:
            pick = np.isin(blk.index, faces)
            if not pick.any():
                continue
            blk = FaceBlock(blk.index[pick], blk.basis[pick], blk.features[pick])
        M = Z.T @ blk.features  # (n, K, k)
        K_out, k = M.shape[1], M.shape[2]
        if K_out < k and not arr.linear:
            # Fewer outputs than face dimensions: the singular values from the smaller Gram
            # matrices M M^T (K x K), the top right vector as M^T u / s.
            lam, U = np.linalg.eigh(M @ np.swapaxes(M, 1, 2))
            lam, U = np.maximum(lam[:, ::-1], 0.0), U[:, :, ::-1]
            s = np.sqrt(lam)
            top = s[:, 0]
            e = np.einsum("nkj,nk->nj", M, U[:, :, 0]) / np.where(top > 0, top, 1.0)[:, None]
            Vt = None
        else:
            # Right singular pairs of M from the eigenpairs of the Gram matrices M^T M (k x k).
            lam, Vec = np.linalg.eigh(np.swapaxes(M, 1, 2) @ M)
            lam, Vt = np.maximum(lam[:, ::-1], 0.0), np.swapaxes(Vec[:, :, ::-1], 1, 2)
            s = np.sqrt(lam)
            top = s[:, 0]
            e = Vt[:, 0, :]
        tied = (s[:, 1] >= top * (1 - TIE_TOL)) & (top > 0) if s.shape[1] > 1 else np.zeros(top.size, bool)
        if arr.linear:
            tied = np.zeros_like(tied)  # no constraints: any top vector is feasible
        u = np.einsum("nrk,nk->nr", blk.basis, e)
        sg = arr.signs[blk.index]
        y = u @ L.T * sg
        if arr.linear:
            up = np.ones(top.size, bool)
            dn = np.zeros(top.size, bool)
        else:
            up = np.all(y >= -tol_sign, axis=1)
            dn = np.all(y <= tol_sign, axis=1)
        meets = (up | dn) & ~tied & (top > 0)
        u = np.where((dn & ~up)[:, None], -u, u)
        vals.append(top[meets])
        dirs.append(u[meets])
        rows.append(blk.index[meets])
        if arr.linear and threshold is not None:
            # One face, no sign constraints: every right-singular vector above the threshold is
            # an improving direction (with tied singular values the optimum needs all of them).
            for j in range(1, s.shape[1]):
                above = s[:, j] >= threshold
                vals.append(s[above, j])
                dirs.append(np.einsum("nrk,nk->nr", blk.basis, Vt[:, j, :])[above])
                rows.append(blk.index[above])
        for i in np.flatnonzero(tied):
            mult = int(np.sum(s[i] >= top[i] * (1 - TIE_TOL)))
            top_space = (Vt[i] if Vt is not None else np.linalg.svd(M[i])[2])[:mult, :].T
            pending.append((top[i], blk, i, mult, top_space))
    vals = np.concatenate(vals) if vals else np.zeros(0)
    dirs = np.concatenate(dirs) if dirs else np.zeros((0, r))
    rows = np.concatenate(rows) if rows else np.zeros(0, int)
    degenerate = False
    best = vals.max() if vals.size else 0.0
    # Faces with a tied top value need an LP to see whether the top space meets the face.
    pending.sort(key=lambda t: -t[0])
    extra_vals, extra_dirs, extra_rows = [], [], []
    for top, blk, i, mult, E in pending:
        if top <= best and (threshold is None or top < threshold):
            break
        if top <= best * (1 + TIE_SLACK) and (threshold is None or top < threshold):
            # Within TIE_SLACK of the best attained value: count it without an LP. This can only
            # overestimate c (by <= TIE_SLACK relative), which keeps the bound valid.
            best = top
            continue
        sg = arr.signs[blk.index[i]]
        Bk = blk.basis[i]
        e = _cone_lp(L, sg, Bk, E)
        if e is None:
            continue
        v = Bk @ e
        extra_vals.append(top)
        extra_dirs.append(v / np.linalg.norm(v))
        extra_rows.append(blk.index[i])
        best = max(best, top)
        if threshold is not None and top >= threshold:
            degenerate = True
    if extra_vals:
        vals = np.concatenate([vals, extra_vals])
        dirs = np.vstack([dirs, extra_dirs])
        rows = np.concatenate([rows, extra_rows])
    if vals.size == 0:
        return empty
    order = np.argsort(-vals, kind="stable")
    vals, dirs, rows = vals[order], dirs[order], rows[order]
    if best > vals[0]:  # a tied face counted without an LP (see above)
        vals = np.concatenate([[best], vals])
        dirs = np.vstack([dirs[:1], dirs])
        rows = np.concatenate([[-1], rows])
    if threshold is None:
        keep = np.zeros(0, int)
    else:
        keep = np.flatnonzero(vals >= threshold)
        keep = _dedupe(dirs, keep)[:max_directions]
    return Pricing(float(vals[0]), dirs[0], dirs[keep], vals[keep], exact, degenerate, rows[keep])


def _dedupe(dirs: np.ndarray, idx: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Drop repeated directions (the same maximiser can be found from a face and its closure)."""
    if idx.size == 0:
        return idx
    keys = np.round(dirs[idx] / tol).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return idx[np.sort(first)]


def _face_ascent(L: np.ndarray, Z: np.ndarray, v: np.ndarray, tol: float, max_steps: int,
                 slopes: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    r"""Monotone local ascent of :math:`\|Z^\top\phi(Lv)\|` on the unit sphere.

    On the closure of the current face the objective is :math:`\|M_F e\|` (:math:`v = B_Fe`),
    whose maximiser on the sphere is the top right-singular vector :math:`u`. Moving from
    :math:`v` towards :math:`u` along the short arc increases the Rayleigh quotient
    monotonically, so go to :math:`u` if it lies in the closure, else to the first face
    boundary met on the way (one more zero preactivation) and repeat. At a face-local maximum,
    try to release each zero preactivation whose unit would help (:math:`(ZZ^\top h)_\mu > 0`)
    by a small step off its hyperplane, and continue if that improves the value.
    """
    def value(v):
        return np.linalg.norm(_phi(L @ v, slopes) @ Z)

    r = L.shape[1]
    f = value(v)
    for _ in range(max_steps):
        z = L @ v
        A = np.abs(z) <= tol
        if A.any():
            _, sv, Vt = np.linalg.svd(L[A])
            rank = int(np.sum(sv > tol))
            B = Vt[rank:].T
        else:
            B = np.eye(r)
        if B.shape[1] == 0:
            break
        d = _slope_of(np.where(np.abs(z) > tol, np.sign(z), 0.0), slopes)
        M = Z.T @ (d[:, None] * (L @ B))
        _, _, Wt = np.linalg.svd(M)
        u = B @ Wt[0]
        if u @ v < 0:
            u = -u
        sg = np.sign(z) * ~A
        lu = L @ u
        bad = (sg * lu < -tol) & ~A
        if not bad.any():
            fu = value(u)
            v, f = (u, fu) if fu >= f else (v, f)
            # Face-local maximum: try to switch on a silent unit that would help.
            w = Z @ (Z.T @ _phi(L @ v, slopes))
            moved = False
            for mu in np.flatnonzero(A & (np.abs(w) > tol)):
                d = L[mu] - (L[mu] @ v) * v
                if np.linalg.norm(d) == 0:
                    continue
                for sgn in (1.0, -1.0):  # either side of the hyperplane may help
                    vt = v + sgn * 1e-4 * d / np.linalg.norm(d)
                    vt /= np.linalg.norm(vt)
                    ft = value(vt)
                    if ft > f * (1 + 1e-12):
                        v, f, moved = vt, ft, True
                        break
                if moved:
                    break
            if not moved:
                break
            continue
        # First boundary on the segment v -> u.
        zs, us = sg * z, sg * lu
        t = np.where(bad, zs / np.where(bad, zs - us, 1), np.inf)
        t_hit = float(np.min(t))
        vn = v + t_hit * (u - v)
        vn /= np.linalg.norm(vn)
        fn = value(vn)
        if fn < f * (1 - 1e-12):
            break
        v, f = vn, fn
    return v


def search_price(L: np.ndarray, Z: np.ndarray, *, n_random: int = 4096, n_refine: int = 48,
                 starts: np.ndarray | None = None, threshold: float | None = None, max_directions: int = 200,
                 seed: int = 0, slopes: tuple[float, float] = (0.0, 1.0),
                 pool: np.ndarray | None = None) -> Pricing:
    r"""Heuristic :math:`\max_{|v|=1}\|Z^\top\phi(Lv)\|` by multistart ascent (NOT exact).

    Used when the faces are too many to enumerate. Candidates: ``n_random`` random unit
    directions with the least-norm directions that switch on a single condition, and the rows
    of ``pool`` (e.g. the rays of the arrangement, :func:`ray_directions`, where optimal units
    often sit); the best ``n_refine`` of each, and all rows of ``starts`` (e.g. the current
    atoms), are improved by a monotone face-by-face ascent (``_face_ascent``). The returned
    value is a lower bound on the true :math:`c(Z)`; ``exact`` is False.
    """
    P, r = L.shape
    rng = np.random.default_rng(seed)
    V = np.vstack([rng.standard_normal((n_random, r)), np.linalg.pinv(L).T])
    S0 = np.asarray(starts, float).reshape(-1, r) if starts is not None else np.zeros((0, r))
    R = np.zeros((0, r)) if pool is None else np.asarray(pool, float).reshape(-1, r)

    def unit(V):
        V = V[np.linalg.norm(V, axis=1) > 0]
        return V / np.linalg.norm(V, axis=1, keepdims=True)

    def value(V):
        return np.linalg.norm(_phi(V @ L.T, slopes) @ Z, axis=1)

    V, R = unit(V), unit(R)
    fV, fR = value(V), value(R)
    # The best of the random candidates and, separately, the best of the pool (rays score
    # low at first: few conditions are on) are refined.
    best = [V[np.argsort(-fV)[:n_refine]], R[np.argsort(-fR)[:n_refine]]]
    picks = np.vstack(best + [S0[np.linalg.norm(S0, axis=1) > 0]])
    picks /= np.linalg.norm(picks, axis=1, keepdims=True)
    tol = SIGN_TOL * max(np.abs(L).max(), 1e-300) * 10
    W = np.array([_face_ascent(L, Z, v, tol, 4 * r + 8, slopes) for v in picks]).reshape(-1, r)
    allV = np.vstack([W, V, R])
    allf = np.concatenate([value(W), fV, fR])
    order = np.argsort(-allf, kind="stable")
    allV, allf = allV[order], allf[order]
    if threshold is None:
        keep = np.zeros(0, int)
    else:
        keep = _dedupe(allV, np.flatnonzero(allf >= threshold))[:max_directions]
    return Pricing(float(allf[0]), allV[0], allV[keep], allf[keep], False, False)


def extreme_rays(G: np.ndarray, tol: float) -> np.ndarray:
    r"""Extreme rays of the pointed cone :math:`\{e \in \mathbb{R}^m : Ge \ge 0\}`, as unit rows.

    Each extreme ray spans the null space of m-1 independent rows of G; those null vectors
    (either sign) that satisfy all constraints up to ``tol`` are kept, deduplicated.
    """
    n, m = G.shape
    lines = _null_lines(G)
    if lines is None:
        raise ValueError(f"too many constraint subsets ({comb(n, m - 1)}) to list the extreme rays")
    U = lines[0][lines[1] > tol]
    U = np.vstack([U, -U])
    U = U[np.all(U @ G.T >= -tol, axis=1)]
    if U.shape[0] == 0:
        return U
    keys = np.round(U / 1e-7).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return U[np.sort(first)]


def active_cones(arr: Arrangement, Z: np.ndarray, level: float, tol: float) -> list[tuple[np.ndarray, str]]:
    r"""The dual-active atoms of Z, face by face, as cones given by their extreme rays.

    A face :math:`F` is active when :math:`\sigma_{\max}(M_F) \ge` ``level - tol``; its active
    directions are :math:`E` = the right-singular vectors with singular value within ``tol`` of
    the top one, and its active atoms are the unit vectors of the cone
    :math:`B_F E\,\{e : B_FEe \in \mathrm{cl}(F)\}`. On that cone the features are linear,
    :math:`\phi(Lv) = D_\sigma L v`, so every measure on it is described by its extreme rays.

    Returns a list of ``(D, kind)``: D is an (n_F, r) array of unit directions; ``kind`` is
    ``"cone"`` (the atoms are the unit vectors of the cone spanned by the rows of D; n_F = 1 for
    an isolated atom) or ``"subspace"`` (linear activation, tied top singular value: every unit
    vector of the span of D is an atom). Duplicates are removed.
    """
    L = arr.L
    tol_sign = SIGN_TOL * max(np.abs(L).max(), 1e-300)
    out, seen = [], set()

    def add(D, kind):
        D = D / np.linalg.norm(D, axis=1, keepdims=True)
        key = (kind, tuple(sorted(map(tuple, np.round(D / 1e-7).astype(np.int64)))))
        if key not in seen:
            seen.add(key)
            out.append((D, kind))

    for blk in arr.blocks:
        M = np.einsum("pk,npj->nkj", Z, blk.features)
        _, s, Vt = np.linalg.svd(M)
        for i in np.flatnonzero(s[:, 0] >= level - tol):
            m = int(np.sum(s[i] >= s[i, 0] - tol))
            E = Vt[i, :m, :].T
            Bk = blk.basis[i]
            if arr.linear:
                D = (Bk @ E).T
                if m == 1:
                    add(D, "cone")
                    add(-D, "cone")
                else:
                    add(D, "subspace")
                continue
            sg = arr.signs[blk.index[i]]
            nz = sg != 0
            G = sg[nz, None] * (L[nz] @ Bk @ E)
            R = extreme_rays(G, tol_sign)
            if R.shape[0]:
                add(R @ E.T @ Bk.T, "cone")
    return out
