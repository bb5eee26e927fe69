r"""Geometry of a representation of binary latent variables.

Every function reads a representation :math:`H \in \mathbb{R}^{P\times N}` whose row
:math:`h_\mu` is the (mean) response of :math:`N` units to condition :math:`\mu`, and,
where needed, the latents :math:`S \in \{-1,+1\}^{P\times D}` of the conditions.

* Parallelism score (PS) and cross-condition generalisation performance (CCGP):
  Bernardi et al. (2020, *Cell* 183:954); CCGP with the "train on one half of latent
  space, test on the other" split of Johnston & Fusi (2023, *Nat. Commun.* 14:1040).
* Shattering dimensionality (SD): mean linear decodability of the balanced dichotomies
  of the conditions (Rigotti et al. 2013; Bernardi et al. 2020).
* Walsh spectrum and interaction share: how much of the variance across conditions is
  not an affine function of the latents. Zero exactly when the code is *factorised*
  (:math:`H = \mathbf 1 c^\top + S B`), the ideal abstract code; it is a ratio of two
  linear functionals of the kernel :math:`\Sigma = HH^\top`, so its range over a convex
  set of kernels is a linear-fractional programme.
* Participation ratio (PR): a continuous count of the dimensions the code occupies.

Decoders are linear classifiers fitted on noisy samples :math:`h_\mu + \sigma\xi`,
:math:`\xi\sim\mathcal N(0, I_N)`: by default a soft-margin linear support vector
machine (scikit-learn ``SVC(kernel="linear")``, as in Bernardi et al.; deterministic,
intercept not penalised), or an L2-regularised logistic regression
(``decoder="logistic"``, ``lbfgs``). Before fitting, samples are divided by the
root-mean-square distance of the rows of ``H`` to their mean, so a decoding result
depends on ``H`` and ``noise`` only through their ratio (and ``C`` is relative to that
scale).
"""
from __future__ import annotations

import math
from itertools import combinations, permutations

import numpy as np
from scipy.linalg import orth

from ._validate import as_latents, as_matrix, positive, positive_int

# Largest side of a dichotomy for which ``pairing="max"`` enumerates all m! pairings.
MAX_PAIRING_SIDE = 8
# Largest P * 2^D Walsh matrix we form explicitly (the full cube never needs one).
MAX_WALSH_ENTRIES = 2 ** 24


# ----------------------------------------------------------------------------- helpers


def _representation(H, S=None):
    """Validated (H, S): S as +-1 latents, H with one row per condition."""
    if S is None:
        return as_matrix(H, "H (representation)"), None
    S = as_latents(S)
    H = as_matrix(H, "H (representation)", rows=S.shape[0])
    return H, S


def _condition_codes(S: np.ndarray) -> np.ndarray:
    """Integer code of each row of S: bit D-1-k is 1 when s_k = +1 (so the codes of
    :func:`abstractnb.tasks.binary_latents` are 0, 1, ..., 2^D - 1)."""
    D = S.shape[1]
    bits = (S > 0).astype(np.int64)
    return bits @ (1 << np.arange(D - 1, -1, -1, dtype=np.int64))


def _distinct_conditions(S: np.ndarray, what: str) -> np.ndarray:
    codes = _condition_codes(S)
    if np.unique(codes).size != codes.size:
        raise ValueError(f"{what} needs distinct conditions (rows of S); S has repeated rows "
                         "- average the repeats into condition means first")
    return codes


def _centred(H: np.ndarray) -> np.ndarray:
    return H - H.mean(axis=0, keepdims=True)


def _centred_energy(H: np.ndarray) -> tuple[np.ndarray, float]:
    """Centred H and its energy :math:`\\|H - \\mathbf 1\\bar h^\\top\\|_F^2`; raises if it is
    zero up to round-off (every condition has the same response)."""
    Hc = _centred(H)
    total = float(np.sum(Hc ** 2))
    if total <= 1e-24 * float(np.sum(H ** 2)) or total == 0.0:
        raise ValueError("H has no variance across conditions (all rows are equal); "
                         "the quantity is undefined")
    return Hc, total


def _affine_basis(S: np.ndarray) -> np.ndarray:
    """Orthonormal basis (P x r) of span(1, s_1, ..., s_D), the affine functions of the latents."""
    return orth(np.column_stack([np.ones(S.shape[0]), S]))


def _mean_pairwise_cosine(C: np.ndarray, zero_tol: float) -> float:
    r"""Mean of :math:`\cos(c_i, c_j)` over pairs :math:`i<j` of the rows of C, with the
    cosine of a zero row taken as 0. Uses :math:`\sum_{i\ne j}u_i\cdot u_j =
    \|\sum_i u_i\|^2 - \sum_i\|u_i\|^2` for the unit rows :math:`u_i`."""
    m = C.shape[0]
    norms = np.linalg.norm(C, axis=1)
    U = np.zeros_like(C)
    nz = norms > zero_tol
    U[nz] = C[nz] / norms[nz, None]
    s = U.sum(axis=0)
    return float((s @ s - np.sum(U ** 2)) / (m * (m - 1)))


# ----------------------------------------------------------------------------- parallelism


def parallelism_score(H, S, pairing: str = "natural") -> np.ndarray:
    r"""Parallelism score of each latent (Bernardi et al. 2020).

    For latent :math:`k`, a *context* :math:`j` is a value of the other latents
    :math:`s_{-k}`, and its *coding vector* is

    .. math:: c^{(k)}_j = h(s_k{=}+1,\, s_{-k}{=}j) - h(s_k{=}-1,\, s_{-k}{=}j).

    The score is the mean cosine between the coding vectors of different contexts,

    .. math:: \mathrm{PS}_k = \binom{m}{2}^{-1}\sum_{i<j}\cos\big(c^{(k)}_i, c^{(k)}_j\big),

    :math:`m` the number of contexts (:math:`2^{D-1}` on the full cube). It is 1 when
    :math:`s_k` is coded by the same vector in every context (a factorised code) and
    :math:`\approx 0` for unrelated coding vectors. The cosine with a zero coding vector
    (norm below :math:`10^{-12}\max_\mu\|h_\mu\|`) is taken to be 0: a latent that is
    not coded in some context is not coded in parallel there.

    Bernardi et al. define PS for a dichotomy of conditions with no latent labels, so
    they pair the conditions of its two sides in every possible way and keep the
    largest score. Here the contexts are defined by the latents, and the *natural*
    pairing (partners differ in :math:`s_k` only) is the one whose parallelism means
    "the code of :math:`s_k` does not depend on the other latents";
    ``pairing="max"`` gives Bernardi et al.'s score, which is never smaller.

    Parameters
    ----------
    H : (P, N) array
        Representation, one row per condition.
    S : (P, D) array of +-1
        Latents of the conditions; rows must be distinct, D >= 2.
    pairing : {"natural", "max"}
        ``"natural"`` needs every condition's partner (the condition with :math:`s_k`
        flipped) to be present. ``"max"`` maximises over the :math:`m!` bijections
        between the two sides :math:`s_k=\pm1` (equal sizes, at most
        ``MAX_PAIRING_SIDE`` = 8 conditions a side).

    Returns
    -------
    (D,) array of scores in [-1, 1].
    """
    H, S = _representation(H, S)
    if pairing not in ("natural", "max"):
        raise ValueError(f"unknown pairing {pairing!r}; choose 'natural' or 'max'")
    P, D = S.shape
    if D < 2:
        raise ValueError(f"the parallelism score needs at least two latents (two contexts); got D={D}")
    codes = _distinct_conditions(S, "the parallelism score")
    zero_tol = 1e-12 * float(np.max(np.linalg.norm(H, axis=1)))
    row_of = {int(c): i for i, c in enumerate(codes)}
    scores = np.empty(D)
    for k in range(D):
        plus = np.flatnonzero(S[:, k] > 0)
        minus = np.flatnonzero(S[:, k] < 0)
        if pairing == "natural":
            flip = 1 << (D - 1 - k)
            partners = []
            for i in plus:
                j = row_of.get(int(codes[i]) ^ flip)
                if j is None:
                    raise ValueError(f"condition {i} (row of S) has no partner with latent {k} flipped; "
                                     "the natural pairing needs every partner (use pairing='max' "
                                     "or the full factorial design)")
                partners.append(j)
            if len(plus) != len(minus):
                raise ValueError(f"condition(s) with latent {k} = -1 have no partner with latent {k} = +1")
            scores[k] = _mean_pairwise_cosine(H[plus] - H[partners], zero_tol)
        else:
            scores[k] = _max_pairing_score(H[plus], H[minus], zero_tol, k)
    return scores


def _max_pairing_score(Hp: np.ndarray, Hm: np.ndarray, zero_tol: float, k: int) -> float:
    m = Hp.shape[0]
    if Hm.shape[0] != m:
        raise ValueError(f"pairing='max' needs as many conditions with latent {k} = +1 as = -1; "
                         f"got {m} and {Hm.shape[0]}")
    if m > MAX_PAIRING_SIDE:
        raise ValueError(f"pairing='max' enumerates {m}! pairings; at most {MAX_PAIRING_SIDE} "
                         f"conditions a side are allowed, got {m}")
    if m < 2:
        raise ValueError("the parallelism score needs at least two pairs of conditions")
    # Cosines between all m*m candidate coding vectors, then sum them along each pairing.
    C = (Hp[:, None, :] - Hm[None, :, :]).reshape(m * m, -1)
    norms = np.linalg.norm(C, axis=1)
    U = np.zeros_like(C)
    nz = norms > zero_tol
    U[nz] = C[nz] / norms[nz, None]
    G = U @ U.T
    perms = np.array(list(permutations(range(m))))
    idx = np.arange(m) * m + perms
    off_diagonal = G[idx[:, :, None], idx[:, None, :]].sum(axis=(1, 2)) - G[idx, idx].sum(axis=1)
    return float(off_diagonal.max() / (m * (m - 1)))


# ----------------------------------------------------------------------------- decoding


def _decoding_scale(H: np.ndarray, noise: float) -> float:
    rms = float(np.sqrt(np.mean(np.sum(_centred(H) ** 2, axis=1))))
    return rms if rms > 0 else noise


DECODERS = ("svm", "logistic")


def _check_decoder(decoder: str) -> str:
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    return decoder


def _fit_and_score(H, labels, train, test, noise, n_samples, rng, C, scale, decoder) -> float:
    """Accuracy of a linear decoder of ``labels`` trained on noisy samples of the
    conditions ``train`` and tested on fresh samples of the conditions ``test``."""
    N = H.shape[1]

    def samples(rows):
        X = np.repeat(H[rows], n_samples, axis=0) + noise * rng.standard_normal((rows.size * n_samples, N))
        return X / scale, np.repeat(labels[rows], n_samples)

    Xtr, ytr = samples(train)
    Xte, yte = samples(test)
    if decoder == "svm":
        from sklearn.svm import SVC

        clf = SVC(kernel="linear", C=C)
    else:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=C, max_iter=2000)
    return float(clf.fit(Xtr, ytr).score(Xte, yte))


def _rows(mask_or_index, P: int, name: str) -> np.ndarray:
    idx = np.asarray(mask_or_index)
    if idx.dtype == bool:
        if idx.shape != (P,):
            raise ValueError(f"{name} as a mask must have shape ({P},); got {idx.shape}")
        idx = np.flatnonzero(idx)
    idx = idx.astype(int).ravel()
    if idx.size == 0:
        raise ValueError(f"{name} must select at least one condition")
    if np.any((idx < 0) | (idx >= P)):
        raise ValueError(f"{name} has condition indices outside 0..{P - 1}")
    return idx


def decoding_accuracy(H, labels, *, noise: float, n_samples: int = 20, seed: int = 0,
                      train=None, test=None, C: float = 1.0, decoder: str = "svm") -> float:
    r"""Test accuracy of a linear decoder of ``labels`` read from noisy samples of ``H``.

    ``n_samples`` samples :math:`h_\mu + \sigma\xi` (:math:`\sigma` = ``noise``) of each
    training condition train a linear classifier (``decoder``: ``"svm"`` or
    ``"logistic"``, inverse regularisation ``C``, on samples divided by the RMS spread
    of ``H``); it is scored on
    ``n_samples`` fresh samples of each test condition. This is the primitive of
    :func:`ccgp` and :func:`shattering_dimensionality`.

    Parameters
    ----------
    H : (P, N) array
    labels : (P,) array with two distinct values
    noise : float > 0
    n_samples : int >= 1
    seed : int
    train, test : boolean masks (P,) or index arrays of conditions; default all of them.
    C : float > 0
    decoder : {"svm", "logistic"}

    Returns
    -------
    float in [0, 1].
    """
    H = as_matrix(H, "H (representation)")
    decoder = _check_decoder(decoder)
    P = H.shape[0]
    y = as_matrix(labels, "labels", rows=P, cols=1)[:, 0]
    noise = positive(noise, "noise")
    n_samples = positive_int(n_samples, "n_samples")
    C = positive(C, "C")
    train = np.arange(P) if train is None else _rows(train, P, "train")
    test = np.arange(P) if test is None else _rows(test, P, "test")
    if np.unique(y).size != 2:
        raise ValueError(f"labels must take exactly two values; got {np.unique(y).size}")
    if np.unique(y[train]).size != 2:
        raise ValueError("the training conditions must contain both label values")
    rng = np.random.default_rng(seed)
    return _fit_and_score(H, y, train, test, noise, n_samples, rng, C, _decoding_scale(H, noise), decoder)


def ccgp(H, S, noise: float, n_samples: int = 20, seed: int = 0, C: float = 1.0,
         decoder: str = "svm") -> np.ndarray:
    r"""Cross-condition generalisation performance of each latent.

    For latent :math:`k`, every other latent :math:`j\ne k` and value :math:`v=\pm1`, a
    linear decoder of :math:`s_k` is trained on noisy samples of the conditions with
    :math:`s_j = v` and tested on fresh noisy samples of the conditions with
    :math:`s_j = -v`, which it has never seen (Bernardi et al. 2020; the half-space
    split of Johnston & Fusi 2023):

    .. math:: \mathrm{CCGP}_k = \frac{1}{2(D-1)}\sum_{j\ne k}\sum_{v=\pm1}
              \mathrm{acc}\big(s_k \,\big|\, \text{train } s_j{=}v,\ \text{test } s_j{=}{-v}\big).

    A factorised code :math:`h(s) = c + B^\top s` has CCGP = 1 at small noise when its
    coding directions are not too oblique (for D = 2: :math:`2|b_1\cdot b_2| <
    \min(\|b_1\|^2,\|b_2\|^2)`): a decoder trained in one context reads :math:`s_k`
    along :math:`b_k`, and moving to the other context shifts the samples by
    :math:`2 b_j`. Parallelism (PS = 1) alone does not guarantee CCGP = 1.

    Parameters
    ----------
    H : (P, N) array
    S : (P, D) array of +-1, D >= 2
    noise : float > 0
        Standard deviation of the isotropic Gaussian noise added to every unit.
    n_samples : int >= 1
        Noisy samples per condition, for training and again for testing.
    seed : int
    C : float > 0
        Inverse regularisation strength of the decoder.
    decoder : {"svm", "logistic"}
        Linear SVM (default) or logistic regression.

    Returns
    -------
    (D,) array of accuracies in [0, 1] (0.5 = chance).
    """
    H, S = _representation(H, S)
    noise = positive(noise, "noise")
    n_samples = positive_int(n_samples, "n_samples")
    C = positive(C, "C")
    decoder = _check_decoder(decoder)
    D = S.shape[1]
    if D < 2:
        raise ValueError(f"CCGP needs at least two latents (one to decode, one to split on); got D={D}")
    rng = np.random.default_rng(seed)
    scale = _decoding_scale(H, noise)
    out = np.empty(D)
    for k in range(D):
        accs = []
        for j in range(D):
            if j == k:
                continue
            for v in (1.0, -1.0):
                train = np.flatnonzero(S[:, j] == v)
                test = np.flatnonzero(S[:, j] == -v)
                for rows, what in ((train, "training"), (test, "test")):
                    if np.unique(S[rows, k]).size < 2:
                        side = -v if what == "test" else v
                        raise ValueError(f"latent {k} takes one value on the {what} conditions "
                                         f"(latent {j} = {side:+.0f}); CCGP is undefined")
                accs.append(_fit_and_score(H, S[:, k], train, test, noise, n_samples, rng, C, scale, decoder))
        out[k] = np.mean(accs)
    return out


def balanced_dichotomies(n_conditions: int, max_dichotomies: int | None = None, seed: int = 0) -> np.ndarray:
    r"""Balanced dichotomies of ``n_conditions`` = P conditions, as +-1 labels.

    A dichotomy and its complement are the same split, so condition 0 is always
    labelled +1; there are :math:`\frac12\binom{P}{P/2}` of them. All are returned when
    that is at most ``max_dichotomies`` (or it is None), otherwise ``max_dichotomies``
    distinct ones drawn at random with ``seed``.

    Returns
    -------
    (n, P) array of +-1, each row with P/2 entries +1.
    """
    P = positive_int(n_conditions, "n_conditions", minimum=2)
    if P % 2:
        raise ValueError(f"balanced dichotomies need an even number of conditions; got {P}")
    total = math.comb(P, P // 2) // 2
    if max_dichotomies is not None:
        max_dichotomies = positive_int(max_dichotomies, "max_dichotomies")
    if max_dichotomies is None or total <= max_dichotomies:
        sides = [(0,) + rest for rest in combinations(range(1, P), P // 2 - 1)]
    else:
        rng = np.random.default_rng(seed)
        seen: set[tuple[int, ...]] = set()
        sides = []
        while len(sides) < max_dichotomies:
            perm = rng.permutation(P)
            side = np.sort(perm[: P // 2]) if 0 in perm[: P // 2] else np.sort(perm[P // 2:])
            key = tuple(int(i) for i in side)
            if key not in seen:
                seen.add(key)
                sides.append(key)
    labels = -np.ones((len(sides), P))
    for r, side in enumerate(sides):
        labels[r, list(side)] = 1.0
    return labels


def shattering_dimensionality(H, noise: float, n_samples: int = 20, seed: int = 0,
                              max_dichotomies: int = 100, C: float = 1.0, decoder: str = "svm") -> float:
    r"""Shattering dimensionality: mean linear decodability of the balanced dichotomies.

    .. math:: \mathrm{SD} = \frac{1}{|\mathcal T|}\sum_{T\in\mathcal T}
              \mathrm{acc}\big(\mathbb 1[\mu\in T]\big),

    where :math:`\mathcal T` is the set of balanced dichotomies of the :math:`P`
    conditions (all of them, :math:`\frac12\binom{P}{P/2}`, when at most
    ``max_dichotomies``; else that many drawn at random with ``seed``), and each
    accuracy is that of a decoder trained on ``n_samples`` noisy samples of every
    condition and tested on fresh ones (Rigotti et al. 2013; Bernardi et al. 2020).
    SD = 1 at small noise when every dichotomy is linearly separable (e.g. a one-hot
    code); a factorised code of :math:`D\ge2` latents cannot separate the XOR-like
    dichotomies and has SD < 1.

    Parameters
    ----------
    H : (P, N) array, P even
    noise : float > 0
    n_samples : int >= 1
    seed : int
    max_dichotomies : int >= 1
    C : float > 0
    decoder : {"svm", "logistic"}

    Returns
    -------
    float in [0, 1].
    """
    H = as_matrix(H, "H (representation)")
    decoder = _check_decoder(decoder)
    noise = positive(noise, "noise")
    n_samples = positive_int(n_samples, "n_samples")
    max_dichotomies = positive_int(max_dichotomies, "max_dichotomies")
    C = positive(C, "C")
    P = H.shape[0]
    if P < 2 or P % 2:
        raise ValueError(f"shattering dimensionality needs an even number (>= 2) of conditions; got P={P}")
    ss = np.random.SeedSequence(seed)
    pick_seed, noise_seed = ss.spawn(2)
    dich = balanced_dichotomies(P, max_dichotomies, seed=int(pick_seed.generate_state(1)[0]))
    rng = np.random.default_rng(noise_seed)
    scale = _decoding_scale(H, noise)
    everything = np.arange(P)
    accs = [_fit_and_score(H, y, everything, everything, noise, n_samples, rng, C, scale, decoder)
            for y in dich]
    return float(np.mean(accs))


# ----------------------------------------------------------------------------- Walsh / interactions


def walsh_subsets(n_latents: int) -> list[tuple[int, ...]]:
    """The subsets T of {0, ..., D-1} in the column order of :func:`walsh_basis`: by size,
    then in :func:`itertools.combinations` order."""
    D = positive_int(n_latents, "n_latents")
    return [T for r in range(D + 1) for T in combinations(range(D), r)]


def walsh_basis(S) -> tuple[np.ndarray, np.ndarray]:
    r"""The :math:`2^D` Walsh functions of the latents evaluated on the conditions.

    .. math:: \chi_T(s) = \prod_{k\in T} s_k,\qquad T\subseteq\{0,\dots,D-1\},

    of *order* :math:`|T|` (:math:`\chi_\emptyset = 1`). On the full hypercube they are
    orthogonal, :math:`\chi_T^\top\chi_{T'} = P\,\delta_{TT'}`, and form a basis of all
    functions of the conditions: order 1 is the linear part, orders :math:`\ge2` the
    interactions (XOR-like conjunctions) of the latents.

    Returns
    -------
    Phi : (P, 2^D) array of +-1, columns in the order of :func:`walsh_subsets`
    orders : (2^D,) int array, :math:`|T|` of each column
    """
    S = as_latents(S)
    P, D = S.shape
    if P * 2 ** D > MAX_WALSH_ENTRIES:
        raise ValueError(f"the Walsh matrix would have {P} x 2^{D} entries (> {MAX_WALSH_ENTRIES}); "
                         "use fewer latents")
    subsets = walsh_subsets(D)
    Phi = np.ones((P, len(subsets)))
    for c, T in enumerate(subsets):
        if T:
            Phi[:, c] = np.prod(S[:, list(T)], axis=1)
    return Phi, np.array([len(T) for T in subsets])


def _is_full_cube(S: np.ndarray) -> bool:
    P, D = S.shape
    return P == 2 ** D and np.unique(_condition_codes(S)).size == P


def walsh_spectrum(H, S) -> np.ndarray:
    r"""Energy of the centred representation in each Walsh order 1..D.

    With :math:`\Pi_{\le r}` the orthogonal projector onto the span of the Walsh
    functions of order :math:`\le r` and :math:`H_c = (I - \tfrac1P\mathbf 1\mathbf
    1^\top)H`,

    .. math:: E_r = \|\Pi_{\le r}H_c\|_F^2 - \|\Pi_{\le r-1}H_c\|_F^2 .

    On the full hypercube the Walsh functions are orthogonal and this is
    :math:`E_r = \frac1P\sum_{|T|=r}\|\chi_T^\top H\|^2` (computed by a fast
    Walsh–Hadamard transform, any D). When the rows of S are distinct,
    :math:`\sum_r E_r = \|H_c\|_F^2 = \operatorname{tr}(C\,HH^\top)`. A factorised code
    has energy in order 1 only; a one-hot code has :math:`E_r = \binom{D}{r}`.

    Returns
    -------
    (D,) array, entry r-1 for order r (zeros if H has no variance).
    """
    H, S = _representation(H, S)
    P, D = S.shape
    Hc = _centred(H)
    if _is_full_cube(S):
        N = H.shape[1]
        T = np.empty((P, N))
        T[_condition_codes(S)] = Hc
        T = T.reshape((2,) * D + (N,))
        # Along each latent's axis, replace (x(-1), x(+1)) by (x(-1)+x(+1), x(+1)-x(-1)):
        # after all D axes, entry t holds chi_T^T Hc with T = {k : t_k = 1}.
        for k in range(D):
            a, b = np.take(T, 0, axis=k), np.take(T, 1, axis=k)
            T = np.stack([a + b, b - a], axis=k)
        energy = np.sum(T.reshape(P, N) ** 2, axis=1) / P
        order = np.array([bin(t).count("1") for t in range(P)])
        return np.array([energy[order == r].sum() for r in range(1, D + 1)])
    Phi, orders = walsh_basis(S)
    cumulative = [0.0]
    for r in range(1, D + 1):
        U = orth(Phi[:, orders <= r])
        cumulative.append(float(np.sum((U.T @ Hc) ** 2)))
    return np.diff(cumulative)


def centering_projector(n_conditions: int) -> np.ndarray:
    r""":math:`C = I_P - \tfrac1P\mathbf 1\mathbf 1^\top`, shape (P, P): removes the mean over
    conditions. :math:`\operatorname{tr}(C\Sigma)` is the variance (energy) of the code."""
    P = positive_int(n_conditions, "n_conditions")
    return np.eye(P) - np.full((P, P), 1.0 / P)


def interaction_projector(S) -> np.ndarray:
    r"""Projector onto the functions of the conditions that are not affine in the latents.

    .. math:: M = I_P - \Pi_{\operatorname{span}(\mathbf 1, s_1,\dots,s_D)},

    shape (P, P), symmetric and idempotent. :math:`MH` is the interaction part of a
    representation, and :math:`\operatorname{tr}(M\Sigma)` its energy, linear in the
    kernel :math:`\Sigma = HH^\top`. On the full cube :math:`M` projects onto the Walsh
    functions of order :math:`\ge 2`.
    """
    S = as_latents(S)
    U = _affine_basis(S)
    return np.eye(S.shape[0]) - U @ U.T


def interaction_share(H, S) -> float:
    r"""Fraction of the variance across conditions that is not linear in the latents.

    .. math:: \iota(H) = \frac{\|M H\|_F^2}{\|C H\|_F^2}
              = \frac{\operatorname{tr}(M\Sigma)}{\operatorname{tr}(C\Sigma)},
              \qquad \Sigma = HH^\top,

    with :math:`M` from :func:`interaction_projector` and :math:`C` from
    :func:`centering_projector`. On the full cube it is the energy in Walsh orders
    :math:`\ge2` over the energy in orders :math:`\ge1` (:func:`walsh_spectrum`). It is
    0 exactly for a factorised code :math:`H = \mathbf 1c^\top + SB` (any rotation,
    scaling and constant units), :math:`(2^D-1-D)/(2^D-1)` for a one-hot code on the
    D-cube, and 1 for a pure XOR code. Raises if H has no variance across conditions.
    """
    H, S = _representation(H, S)
    Hc, total = _centred_energy(H)
    U = _affine_basis(S)
    # The residual itself, not total minus explained, keeps a factorised code at ~0 exactly.
    R = Hc - U @ (U.T @ Hc)
    return float(np.sum(R ** 2) / total)


def kernel_interaction_share(K, S) -> float:
    r"""Interaction share of a kernel :math:`K = HH^\top` (or any :math:`\Sigma\succeq0`),
    :math:`\operatorname{tr}(MK)/\operatorname{tr}(CK)`; equals :func:`interaction_share`
    of any H with :math:`HH^\top = K`.

    Parameters
    ----------
    K : (P, P) symmetric array
    S : (P, D) array of +-1
    """
    S = as_latents(S)
    P = S.shape[0]
    K = as_matrix(K, "K (kernel)", rows=P, cols=P)
    scale = float(np.max(np.abs(K)))
    if not np.allclose(K, K.T, rtol=1e-8, atol=1e-10 * scale):
        raise ValueError("K (kernel) must be symmetric")
    U = _affine_basis(S)
    trace = float(np.trace(K))
    den = trace - float(K.sum()) / P
    if not den > 1e-12 * max(abs(trace), scale):
        raise ValueError("K has no variance across conditions (tr(CK) <= 0); the share is undefined")
    num = trace - float(np.trace(U.T @ K @ U))
    return num / den


# ----------------------------------------------------------------------------- dimension


def participation_ratio(H) -> float:
    r"""Participation ratio of the centred representation,

    .. math:: \mathrm{PR} = \frac{(\sum_i\lambda_i)^2}{\sum_i\lambda_i^2},

    :math:`\lambda_i` the eigenvalues of the covariance across conditions
    :math:`\frac1P H_c^\top H_c` (the same, up to zeros, as those of :math:`\frac1P
    H_cH_c^\top`). Between 1 (one direction) and :math:`\min(P-1, N)`; an isotropic
    factorised code of D latents on the full cube has PR = D, a one-hot code P - 1.
    """
    H = as_matrix(H, "H (representation)")
    Hc, total = _centred_energy(H)
    G = Hc @ Hc.T if Hc.shape[0] <= Hc.shape[1] else Hc.T @ Hc
    return float(total ** 2 / np.sum(G ** 2))


# ----------------------------------------------------------------------------- summary


def abstraction_report(H, S, *, noise: float, n_samples: int = 20, seed: int = 0,
                       max_dichotomies: int = 100, decoder: str = "svm") -> dict:
    """All the metrics of this module for one representation.

    Returns
    -------
    dict with keys ``parallelism`` (D,), ``ccgp`` (D,), ``shattering_dimensionality``,
    ``interaction_share``, ``walsh_spectrum`` (D,), ``participation_ratio``.
    Decoding uses ``noise``, ``n_samples``, ``seed`` and ``decoder`` as in :func:`ccgp` and
    :func:`shattering_dimensionality`.
    """
    H, S = _representation(H, S)
    return {
        "parallelism": parallelism_score(H, S),
        "ccgp": ccgp(H, S, noise, n_samples=n_samples, seed=seed, decoder=decoder),
        "shattering_dimensionality": shattering_dimensionality(
            H, noise, n_samples=n_samples, seed=seed, max_dichotomies=max_dichotomies, decoder=decoder),
        "interaction_share": interaction_share(H, S),
        "walsh_spectrum": walsh_spectrum(H, S),
        "participation_ratio": participation_ratio(H),
    }
