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
* For latents that are not binary (several values, positions, angles), given by real
  coordinates :math:`Z`: :func:`nonaffine_share`, the variance not affine in :math:`Z`;
  on a full factorial design of several values per latent, :func:`parallelism_score_levels`
  and :func:`ccgp_levels` (held-out ranges).

Decoders are linear classifiers fitted on noisy samples :math:`h_\mu + \sigma\xi`,
:math:`\xi\sim\mathcal N(0, I_N)`: by default a soft-margin linear support vector
machine (scikit-learn ``SVC(kernel="linear")``, as in Bernardi et al.; deterministic,
intercept not penalised), or an L2-regularised logistic regression
(``decoder="logistic"``, ``lbfgs``). Before fitting, samples are divided by the
root-mean-square distance of the rows of ``H`` to their mean, so a decoding result
depends on ``H`` and ``noise`` only through their ratio (and ``C`` is relative to that
scale). :func:`condition_report` collects all of them for one ``H``.

Recorded trials (one row per trial, the latents of each trial) go to
:func:`abstraction_report`, which computes the same PS, CCGP and shattering
dimensionality on the trials (one definition of each, shared with the functions
above), with a null distribution and a p-value for each (Bernardi et al. 2020's
shuffle and geometric nulls), decoding with :class:`LeastSquaresSVM` or any
scikit-learn classifier.
"""
from __future__ import annotations

import math
from itertools import combinations, permutations

import numpy as np
from scipy.linalg import orth
from sklearn.base import BaseEstimator, ClassifierMixin

from ._validate import MAX_LATENTS, as_latents, as_matrix, as_seed, positive, positive_int

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
    D = S.shape[1]
    if D < 2:
        raise ValueError(f"the parallelism score needs at least two latents (two contexts); got D={D}")
    codes = _distinct_conditions(S, "the parallelism score")
    return _parallelism(H, S, codes, pairing)


def _parallelism(H: np.ndarray, S: np.ndarray, codes: np.ndarray, pairing: str) -> np.ndarray:
    """The parallelism score of :func:`parallelism_score` on validated input (its one
    definition, shared with :func:`abstraction_report`)."""
    D = S.shape[1]
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
    rng = np.random.default_rng(as_seed(seed))
    return _fit_and_score(H, y, train, test, noise, n_samples, rng, C, _decoding_scale(H, noise), decoder)


def _decoder_settings(H, noise, n_samples, C, decoder, seed):
    """The validated settings of a cross-condition decoder and its noise generator and scale."""
    noise = positive(noise, "noise")
    return (noise, positive_int(n_samples, "n_samples"), positive(C, "C"), _check_decoder(decoder),
            np.random.default_rng(as_seed(seed)), _decoding_scale(H, noise))


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
    noise, n_samples, C, decoder, rng, scale = _decoder_settings(H, noise, n_samples, C, decoder, seed)
    splits = _ccgp_splits(S)
    accs = [_fit_and_score(H, S[:, k], train, test, noise, n_samples, rng, C, scale, decoder)
            for k, train, test in splits]
    return _ccgp_average(splits, accs, S.shape[1])


def _ccgp_splits(S: np.ndarray, names=None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    r"""The train/test splits of the definition of CCGP, in a fixed order: for each latent
    :math:`k`, each other latent :math:`j` and :math:`v = +1, -1`, the tuple
    ``(k, train, test)`` of the condition rows with :math:`s_j = v` and with
    :math:`s_j = -v`. Raises when CCGP is undefined (D < 2, or :math:`s_k` constant on
    one side of a split). ``names`` label the latents in messages (default their index).
    """
    D = S.shape[1]
    name = (lambda k: f"latent {k}") if names is None else (lambda k: f"latent {names[k]}")
    if D < 2:
        raise ValueError(f"CCGP needs at least two latents (one to decode, one to split on); got D={D}")
    splits = []
    for k in range(D):
        for j in range(D):
            if j == k:
                continue
            for v in (1.0, -1.0):
                train = np.flatnonzero(S[:, j] == v)
                test = np.flatnonzero(S[:, j] == -v)
                for rows, what in ((train, "training"), (test, "test")):
                    if np.unique(S[rows, k]).size < 2:
                        side = -v if what == "test" else v
                        raise ValueError(f"{name(k)} takes one value on the {what} conditions "
                                         f"({name(j)} = {side:+.0f}); CCGP is undefined")
                splits.append((k, train, test))
    return splits


def _ccgp_average(splits, accs, D: int) -> np.ndarray:
    r""":math:`\mathrm{CCGP}_k`: the mean accuracy over the splits of latent :math:`k`."""
    accs = np.asarray(accs, dtype=float)
    ks = np.array([k for k, _, _ in splits])
    return np.array([accs[ks == k].mean() for k in range(D)])


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
        rng = np.random.default_rng(as_seed(seed))
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
    pick_seed, noise_seed = np.random.SeedSequence(as_seed(seed)).spawn(2)
    dich = _sd_dichotomies(P, max_dichotomies, pick_seed)
    rng = np.random.default_rng(noise_seed)
    scale = _decoding_scale(H, noise)
    everything = np.arange(P)
    accs = [_fit_and_score(H, y, everything, everything, noise, n_samples, rng, C, scale, decoder)
            for y in dich]
    return float(np.mean(accs))


def _sd_dichotomies(P: int, max_dichotomies: int, pick_seed: np.random.SeedSequence) -> np.ndarray:
    """The dichotomies whose mean accuracy is the shattering dimensionality (the one
    choice shared by :func:`shattering_dimensionality` and :func:`abstraction_report`)."""
    return balanced_dichotomies(P, max_dichotomies, seed=int(pick_seed.generate_state(1)[0]))


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


def _coordinate_basis(Z, P: int) -> np.ndarray:
    """Orthonormal basis of span(1, z_1, ..., z_m) for real latent coordinates Z (P x m);
    raises when it is all of R^P (then every function of the conditions is affine)."""
    Z = as_matrix(Z, "Z (latent coordinates)", rows=P)
    U = orth(np.column_stack([np.ones(P), Z]))
    if U.shape[1] >= P:
        raise ValueError(f"the affine functions of Z span all of R^{P} (rank {U.shape[1]}): every "
                         "representation of these conditions is affine in Z and the share is 0 "
                         "trivially; use more conditions or fewer coordinates")
    return U


def nonaffine_share(H, Z) -> float:
    r"""Fraction of the variance across conditions that is not affine in real latent coordinates.

    The interaction share for latents that are not binary. With :math:`Z \in
    \mathbb{R}^{P\times m}` the coordinates of the conditions (a multi-valued latent by its
    values, a position on a grid by its two coordinates, an angle by :math:`(\cos\theta,
    \sin\theta)`) and :math:`R = I_P - \Pi_{\operatorname{span}(\mathbf 1, Z)}`,

    .. math:: \iota_Z(H) = \frac{\|R H\|_F^2}{\|C H\|_F^2}
              = \frac{\operatorname{tr}(R\Sigma)}{\operatorname{tr}(C\Sigma)} .

    It is 0 exactly when :math:`H = \mathbf 1 c^\top + Z B`, an affine image of the
    coordinates (a flat embedding: a circle of angles mapped to an ellipse), and equals
    :func:`interaction_share` when ``Z`` is a full set of :math:`\pm1` latents. What counts
    as abstract depends on the coordinates chosen: the share is relative to ``Z``.

    Parameters
    ----------
    H : (P, N) array, one row per condition
    Z : (P, m) array of real coordinates (a 1-D array is one coordinate); the affine
        functions of ``Z`` must not span all of :math:`\mathbb{R}^P`.
    """
    H = as_matrix(H, "H (representation)")
    U = _coordinate_basis(Z, H.shape[0])
    Hc, total = _centred_energy(H)
    R = Hc - U @ (U.T @ Hc)
    return float(np.sum(R ** 2) / total)


def kernel_nonaffine_share(K, Z) -> float:
    r""":func:`nonaffine_share` of a kernel :math:`K = HH^\top`:
    :math:`\operatorname{tr}(RK)/\operatorname{tr}(CK)` (see there).

    Parameters
    ----------
    K : (P, P) symmetric array
    Z : (P, m) array of real coordinates
    """
    K = as_matrix(K, "K (kernel)")
    P = K.shape[0]
    K = as_matrix(K, "K (kernel)", rows=P, cols=P)
    scale = float(np.max(np.abs(K)))
    if not np.allclose(K, K.T, rtol=1e-8, atol=1e-10 * scale):
        raise ValueError("K (kernel) must be symmetric")
    U = _coordinate_basis(Z, P)
    trace = float(np.trace(K))
    den = trace - float(K.sum()) / P
    if not den > 1e-12 * max(abs(trace), scale):
        raise ValueError("K has no variance across conditions (tr(CK) <= 0); the share is undefined")
    return (trace - float(np.trace(U.T @ K @ U))) / den


def _factorial_levels(H, Z, what: str):
    """Validated (H, Z, levels): Z (P, D) real values of D >= 2 latents on a full
    factorial design (every combination of their values exactly once); levels[k] the
    sorted distinct values of latent k."""
    Z = as_matrix(Z, "Z (latent values)")
    P, D = Z.shape
    H = as_matrix(H, "H (representation)", rows=P)
    if D < 2:
        raise ValueError(f"{what} needs at least two latents (contexts come from the others); got D={D}")
    levels = [np.unique(Z[:, k]) for k in range(D)]
    for k, lv in enumerate(levels):
        if lv.size < 2:
            raise ValueError(f"latent {k} takes one value; every latent needs at least two")
    n_comb = int(np.prod([lv.size for lv in levels]))
    if n_comb != P or np.unique(Z, axis=0).shape[0] != P:
        raise ValueError(f"{what} needs a full factorial design: every combination of the latents' "
                         f"values exactly once ({n_comb} conditions); got {P} rows with "
                         f"{np.unique(Z, axis=0).shape[0]} distinct")
    return H, Z, levels


def parallelism_score_levels(H, Z) -> np.ndarray:
    r"""Parallelism score of latents that take several values (a generalisation).

    For latent :math:`k` with values :math:`v_1 < \dots < v_L`, a context :math:`j` is a
    combination of the values of the other latents, and the coding vector of the step
    :math:`a` (from :math:`v_a` to :math:`v_{a+1}`) in context :math:`j` is

    .. math:: c^{(k,a)}_j = h(z_k{=}v_{a+1},\, z_{-k}{=}j) - h(z_k{=}v_a,\, z_{-k}{=}j).

    The score is the mean over the :math:`L-1` steps of the mean cosine between the coding
    vectors of that step in different contexts (zero vectors count as cosine 0, as in
    :func:`parallelism_score`, which this equals for :math:`\pm1` latents). It is 1 when
    each step of every latent moves the representation by the same vector in every context,
    e.g. for any code that is additive over the latents, :math:`h(z) = c + \sum_k
    g_k(z_k)`; unlike :func:`nonaffine_share` it does not require the steps of one latent
    to be collinear or equal.

    Parameters
    ----------
    H : (P, N) array, one row per condition
    Z : (P, D) array of real latent values, D >= 2, a full factorial design (every
        combination of the latents' values exactly once, in any row order)

    Returns
    -------
    (D,) array of scores in [-1, 1].
    """
    H, Z, levels = _factorial_levels(H, Z, "the parallelism score")
    P, D = Z.shape
    zero_tol = 1e-12 * float(np.max(np.linalg.norm(H, axis=1)))
    index = {tuple(row): i for i, row in enumerate(Z)}
    scores = np.empty(D)
    for k in range(D):
        others = [j for j in range(D) if j != k]
        contexts = np.unique(Z[:, others], axis=0)
        per_step = []
        for a in range(levels[k].size - 1):
            C = []
            for ctx in contexts:
                lo, hi = np.empty(D), np.empty(D)
                lo[others] = hi[others] = ctx
                lo[k], hi[k] = levels[k][a], levels[k][a + 1]
                C.append(H[index[tuple(hi)]] - H[index[tuple(lo)]])
            per_step.append(_mean_pairwise_cosine(np.array(C), zero_tol))
        scores[k] = float(np.mean(per_step))
    return scores


def _halves(values: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose value is among the lowest / highest floor(L/2) of the L sorted values
    (the middle value excluded when L is odd)."""
    h = values.size // 2
    return np.flatnonzero(np.isin(z, values[:h])), np.flatnonzero(np.isin(z, values[-h:]))


def ccgp_levels(H, Z, noise: float, n_samples: int = 20, seed: int = 0, C: float = 1.0,
                decoder: str = "svm") -> np.ndarray:
    r"""CCGP of latents that take several values: decoders tested on held-out ranges.

    For latent :math:`k` the decoded label is "high or low": its highest
    :math:`\lfloor L_k/2\rfloor` values against its lowest (the middle value left out
    when :math:`L_k` is odd). For every other latent :math:`j`, a linear decoder is trained
    on noisy samples of the conditions in which :math:`z_j` is in its upper half of values
    and tested on fresh samples of those in which it is in its lower half, never seen, and
    the other way round; :math:`\mathrm{CCGP}_k` is the mean accuracy over these
    :math:`2(D-1)` splits. For :math:`\pm1` latents this is :func:`ccgp`, split for split
    (same seed, same numbers). Noise, decoders and scaling as in :func:`ccgp`.

    Parameters
    ----------
    H : (P, N) array
    Z : (P, D) array of real latent values, D >= 2, a full factorial design
    noise, n_samples, seed, C, decoder : as in :func:`ccgp`

    Returns
    -------
    (D,) array of accuracies in [0, 1] (0.5 = chance).
    """
    H, Z, levels = _factorial_levels(H, Z, "CCGP")
    noise, n_samples, C, decoder, rng, scale = _decoder_settings(H, noise, n_samples, C, decoder, seed)
    D = Z.shape[1]
    out = np.empty(D)
    for k in range(D):
        low_k, high_k = _halves(levels[k], Z[:, k])
        labels = np.zeros(Z.shape[0])
        labels[low_k], labels[high_k] = -1.0, 1.0
        accs = []
        for j in range(D):
            if j == k:
                continue
            low_j, high_j = _halves(levels[j], Z[:, j])
            for train, test in ((high_j, low_j), (low_j, high_j)):
                train, test = train[labels[train] != 0], test[labels[test] != 0]
                accs.append(_fit_and_score(H, labels, train, test, noise, n_samples, rng, C, scale,
                                           decoder))
        out[k] = float(np.mean(accs))
    return out


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


def condition_report(H, S, *, noise: float, n_samples: int = 20, seed: int = 0,
                     max_dichotomies: int = 100, decoder: str = "svm") -> dict:
    """All the metrics of this module for one representation given by condition means.

    (Called ``abstraction_report`` before the trial-based :func:`abstraction_report`
    took that name.) No null distributions: for recorded trials and significance use
    :func:`abstraction_report`.

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


# ----------------------------------------------------------------------------- recordings


NULLS = ("geometric", "shuffle")
MEASURES = ("parallelism", "ccgp", "shattering")
# The null's upper quantile reported next to each statistic (a one-sided 5% level).
NULL_QUANTILE = 0.95


class LeastSquaresSVM(ClassifierMixin, BaseEstimator):
    r"""Linear least-squares support-vector machine: the default decoder of
    :func:`abstraction_report`.

    The least-squares SVM (Suykens & Vandewalle 1999) replaces the hinge loss of the SVM
    by a squared loss on the margins; for a linear kernel it is ridge regression on
    :math:`\pm1` labels with an unpenalised bias,

    .. math:: (w, b) = \arg\min_{w,b}\ \sum_i \big(t_i - w^\top x_i - b\big)^2
              + \lambda\|w\|^2, \qquad
              \lambda = \mathtt{reg}\cdot\frac{\|X - \mathbf 1\bar x^\top\|_F^2}{N},

    :math:`t_i = \pm1` (the larger class label is +1), and predicts :math:`+1` where
    :math:`w^\top x + b \ge 0`. Scaling :math:`\lambda` with the mean eigenvalue of the
    training scatter makes the decoder invariant to the units of :math:`x` (``reg`` = 1:
    moderate shrinkage). Its closed form fits many labellings of the same trials with one
    factorisation, which is what makes null distributions of hundreds of decoders
    affordable; :func:`abstraction_report` uses that batched form, which gives the same
    decoders as ``fit``. A scikit-learn classifier (``clone``, ``GridSearchCV``, ...).
    """

    def __init__(self, reg: float = 1.0):
        self.reg = reg

    def fit(self, X, y) -> "LeastSquaresSVM":
        X = as_matrix(X, "X")
        y = np.asarray(y).ravel()
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have {X.shape[0]} entries (one per row of X); got {y.shape[0]}")
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(f"y must take exactly two values; got {self.classes_.size}")
        t = np.where(y == self.classes_[1], 1.0, -1.0)[:, None]
        W, b = _lssvm_weights(X, t, positive(self.reg, "reg"))
        self.coef_, self.intercept_ = W[:, 0], float(b[0])
        return self

    def decision_function(self, X) -> np.ndarray:
        return as_matrix(X, "X", cols=self.coef_.size) @ self.coef_ + self.intercept_

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]


def _lssvm_weights(X: np.ndarray, T: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (N, m) and biases (m,) of :class:`LeastSquaresSVM` for the m label columns
    of T (n, m), all at once (primal solve when n >= N, dual solve otherwise)."""
    from scipy.linalg import solve

    xbar, tbar = X.mean(axis=0), T.mean(axis=0)
    Xc, Tc = X - xbar, T - tbar
    n, N = Xc.shape
    lam = reg * float(np.sum(Xc ** 2)) / N
    if lam == 0.0:  # every training trial is the same point: w = 0 whatever lam is
        lam = 1.0
    if n >= N:
        W = solve(Xc.T @ Xc + lam * np.eye(N), Xc.T @ Tc, assume_a="pos")
    else:
        W = Xc.T @ solve(Xc @ Xc.T + lam * np.eye(n), Tc, assume_a="pos")
    return W, tbar - xbar @ W


def _accuracies(Xtr, Ttr, Xte, Tte, classifier) -> np.ndarray:
    """Test accuracy of a decoder of each label column (+-1) of Ttr/Tte: (m,) array."""
    if type(classifier) is LeastSquaresSVM:
        W, b = _lssvm_weights(Xtr, Ttr, float(classifier.reg))
        pred = np.where(Xte @ W + b >= 0, 1.0, -1.0)
        return np.mean(pred == Tte, axis=0)
    from sklearn.base import clone

    return np.array([clone(classifier).fit(Xtr, Ttr[:, c]).score(Xte, Tte[:, c])
                     for c in range(Ttr.shape[1])])


def _latent_design(latents, n: int):
    """Latents of each trial as +-1 (n, D), with names and the two values of each."""
    import pandas as pd

    frame = latents if isinstance(latents, pd.DataFrame) else pd.DataFrame(np.asarray(latents))
    if frame.ndim != 2 or frame.shape[0] != n:
        raise ValueError(f"latents must have one row per trial ({n} rows); got shape "
                         f"{getattr(latents, 'shape', frame.shape)}")
    D = frame.shape[1]
    names = ([str(c) for c in frame.columns] if isinstance(latents, pd.DataFrame)
             else [f"s{k + 1}" for k in range(D)])
    if D < 2:
        raise ValueError(f"latents must have at least two columns (PS and CCGP need two latents); got {D}")
    if D > MAX_LATENTS:
        raise ValueError(f"latents has {D} columns: 2^{D} conditions are too many (max {MAX_LATENTS} latents)")
    S = np.empty((n, D))
    levels = {}
    for k, name in enumerate(names):
        col = frame.iloc[:, k]
        if col.isna().any():
            raise ValueError(f"latents contains NaN (latent {name})")
        values = np.asarray(col)
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            raise ValueError(f"latents contains inf (latent {name})")
        uniq = pd.unique(col)
        if uniq.size != 2:
            raise ValueError(f"latent {name} takes {uniq.size} distinct values; every latent needs "
                             f"exactly two (got {list(uniq[:5])}{' ...' if uniq.size > 5 else ''})")
        uniq = [v.item() if isinstance(v, np.generic) else v for v in uniq]
        try:
            low, high = sorted(uniq)
        except TypeError:  # values that do not compare: first seen is -1
            low, high = uniq
        levels[name] = (low, high)
        S[:, k] = np.where(values == high, 1.0, -1.0)
    return S, names, levels


def _condition_name(code: int, names, levels) -> str:
    D = len(names)
    bits = [(code >> (D - 1 - k)) & 1 for k in range(D)]
    return "(" + ", ".join(f"{nm}={levels[nm][b]!r}" for nm, b in zip(names, bits)) + ")"


def _trial_tensor(trials, latents, cv: int | None):
    """Trials grouped by condition: T (P, r, N), the condition latents S (P, D) in
    :func:`abstractnb.tasks.binary_latents` order, names and levels of the latents.
    ``cv``: the folds that each condition's trials must fill (None: no cross-validation)."""
    X = as_matrix(trials, "trials (trials x units)")
    n = X.shape[0]
    S_trial, names, levels = _latent_design(latents, n)
    D = S_trial.shape[1]
    P = 2 ** D
    codes = _condition_codes(S_trial)
    counts = np.bincount(codes, minlength=P)

    def listing(which):
        shown = [_condition_name(int(c), names, levels) for c in which[:4]]
        return ", ".join(shown) + (f" and {which.size - 4} more" if which.size > 4 else "")

    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise ValueError(f"every combination of the latents needs trials; missing condition(s) "
                         f"{listing(missing)}")
    single = np.flatnonzero(counts < 2)
    if single.size:
        raise ValueError(f"every condition needs at least two trials; condition(s) {listing(single)} "
                         "have one")
    if np.unique(counts).size > 1:
        few = np.flatnonzero(counts == counts.min())
        raise ValueError(f"unbalanced conditions: every condition needs the same number of trials "
                         f"(classes are balanced by design); {listing(few)} have {counts.min()}, "
                         f"others up to {counts.max()}. Subsample each condition to {counts.min()} trials")
    r = int(counts[0])
    if cv is not None and cv > r:
        raise ValueError(f"cv={cv} folds need at least {cv} trials per condition; got {r}")
    order = np.argsort(codes, kind="stable")
    S = np.array([[1.0 if (c >> (D - 1 - k)) & 1 else -1.0 for k in range(D)] for c in range(P)])
    return X[order].reshape(P, r, X.shape[1]), S, names, levels


def _null_trials(T: np.ndarray, null: str, rng: np.random.Generator) -> np.ndarray:
    """One draw of the null model (see :func:`abstraction_report`)."""
    P, r, N = T.shape
    if null == "shuffle":
        return T.reshape(P * r, N)[rng.permutation(P * r)].reshape(P, r, N)
    means = T.mean(axis=1)
    centre = means.mean(axis=0)
    radii = np.linalg.norm(means - centre, axis=1)
    U = rng.standard_normal((P, N))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    moved = radii[:, None] * U
    moved -= moved.mean(axis=0)
    size = float(np.sum(moved ** 2))
    if size > 0:
        moved *= np.sqrt(float(np.sum(radii ** 2)) / size)
    return T + (centre + moved - means)[:, None, :]


def _trial_statistics(T, S, codes, plan, classifier, cv, rng) -> np.ndarray:
    """The statistics of :func:`abstraction_report` (in ``plan``'s row order) on trials
    T (P, r, N) of the conditions S (P, D)."""
    P, r, N = T.shape
    spread = float(np.sqrt(np.mean(np.sum((T - T.mean(axis=(0, 1))) ** 2, axis=2))))
    T = T / spread if spread > 0 else T
    out = []
    if "parallelism" in plan["measures"]:
        means = T.mean(axis=1)
        out.append(_parallelism(means, S, codes, "natural"))
        if plan["ps_max"]:
            out.append(_parallelism(means, S, codes, "max"))
    if "ccgp" in plan["measures"]:
        splits = plan["splits"]
        accs = np.empty(len(splits))
        for train, test, idx in plan["split_groups"]:
            ks = [splits[i][0] for i in idx]
            Xtr, Xte = T[train].reshape(-1, N), T[test].reshape(-1, N)
            accs[idx] = _accuracies(Xtr, np.repeat(S[train][:, ks], r, axis=0),
                                    Xte, np.repeat(S[test][:, ks], r, axis=0), classifier)
        out.append(_ccgp_average(splits, accs, S.shape[1]))
    if "shattering" in plan["measures"]:
        labels = plan["sd_labels"]  # (P, D + n_dichotomies), +-1
        fold = np.stack([rng.permutation(r) % cv for _ in range(P)])  # stratified by condition
        correct = np.zeros(labels.shape[1])
        for f in range(cv):
            te = fold == f
            cond_tr, cond_te = np.nonzero(~te)[0], np.nonzero(te)[0]
            acc = _accuracies(T[~te], labels[cond_tr], T[te], labels[cond_te], classifier)
            correct += acc * cond_te.size
        acc = correct / (P * r)
        D = S.shape[1]
        out.append(acc[:D])
        out.append([acc[D:].mean()])
    return np.concatenate(out)


def _null_chunk(T, S, codes, plan, classifier, cv, null, seeds) -> np.ndarray:
    rows = []
    for ss in seeds:
        null_seed, fold_seed = ss.spawn(2)
        Tn = _null_trials(T, null, np.random.default_rng(null_seed))
        rows.append(_trial_statistics(Tn, S, codes, plan, classifier, cv, np.random.default_rng(fold_seed)))
    return np.array(rows)


def abstraction_report(trials, latents, *, null: str = "geometric", n_null: int = 200,
                       classifier=None, cv: int = 5, seed: int = 0, n_jobs: int = 1,
                       progress: bool = True, measures=MEASURES, max_dichotomies: int = 100):
    r"""Abstraction of recorded trials, with null distributions and p-values.

    Takes trial data, one row per trial, and the latents of each trial: the format of a
    recording, or of a network's responses to many stimuli per condition. Every
    combination of the latents is a condition; all :math:`P = 2^D` must be present with
    the same number :math:`r \ge \max(2, \mathtt{cv})` of trials (so that every decoder
    below is trained on balanced classes).

    **Statistics.** With :math:`\bar x_\mu` the mean of the trials of condition
    :math:`\mu` (trials first divided by their RMS distance to the grand mean, which
    changes no statistic of the default decoder):

    * ``parallelism (natural)`` and ``parallelism (max)``: :func:`parallelism_score` of
      the condition means :math:`\bar x_\mu`, both pairings (``max`` only when
      :math:`2^{D-1} \le` ``MAX_PAIRING_SIDE``).
    * ``ccgp``: :func:`ccgp`'s definition, the mean over its :math:`2(D-1)` splits of the
      accuracy of a decoder of :math:`s_k` trained on all trials of the conditions with
      :math:`s_j = v` and tested on all trials of those with :math:`s_j = -v` (never seen,
      so no cross-validation is needed).
    * ``shattering``: the ``cv``-fold cross-validated accuracy (folds stratified by
      condition) of decoding each latent (rows named by the latent), and its mean over the
      balanced dichotomies of the conditions (row ``all dichotomies``; all of them when at
      most ``max_dichotomies``, else that many drawn with ``seed``), as in
      :func:`shattering_dimensionality`.

    **Nulls.** Each statistic :math:`T` is recomputed on ``n_null`` draws of a null model,
    and the one-sided p-value is

    .. math:: p = \frac{1 + \#\{d : T_d \ge T_{\rm obs}\}}{1 + n_{\rm null}}

    (never 0; its smallest value is :math:`1/(1 + n_{\rm null})`, e.g. 0.005 for 200 draws;
    Phipson & Smyth 2010).

    * ``"shuffle"``: the condition labels are permuted across trials,
      :math:`x_i \mapsto` condition :math:`\mu_{\pi(i)}` with :math:`\pi` a uniformly random
      permutation of the :math:`n = Pr` trials. It tests whether the responses depend on
      the condition at all; when they do not (trials exchangeable across conditions), the
      p-value is exact: :math:`\Pr(p \le \alpha) \le \alpha`.
    * ``"geometric"`` (after Bernardi et al. 2020): each condition keeps its cloud of
      trials but its mean is moved to a random direction about the centre of the means,

      .. math:: x_i \mapsto x_i - \bar x_\mu + \bar x + m_\mu, \qquad
                m_\mu = c\,\Big(\tilde m_\mu - \tfrac1P\textstyle\sum_\nu\tilde m_\nu\Big),
                \qquad \tilde m_\mu = Q_\mu(\bar x_\mu - \bar x),

      :math:`\bar x = \tfrac1P\sum_\mu \bar x_\mu`, with independent Haar-random
      rotations :math:`Q_\mu` of :math:`\mathbb R^N` (so :math:`\tilde m_\mu =
      \|\bar x_\mu - \bar x\|\,u_\mu`, :math:`u_\mu` uniform on the sphere) and
      :math:`c > 0` such that :math:`\sum_\mu\|m_\mu\|^2 = \sum_\mu\|\bar x_\mu - \bar
      x\|^2`. Re-centring keeps the centre of the means where it was (the rotated means
      alone would not average to :math:`\bar x`, and their pairwise distances would be
      biased low, since centred points have negative mean inner product
      :math:`-\frac1{P-1}` of their squared radius, random directions zero); the scale
      :math:`c` keeps the variance of the means. So the null keeps the noise, the number of
      trials, the centre and spread of the conditions and, up to the re-centring, the
      distance of each from the centre, and randomises their arrangement: it asks whether
      the *geometry* is more structured than that of randomly placed conditions with the
      same spread. It leaves the clouds as they are, so noise that is aligned with the
      coding directions in the data is no longer aligned with them in the null.

    Parameters
    ----------
    trials : (n, N) array
        Responses of N units (neurons) on n trials; finite.
    latents : (n, D) array or DataFrame
        The latents of each trial, D >= 2, each taking exactly two values (any two: the
        smaller is read as -1, the larger as +1; a DataFrame names the latents).
    null : {"geometric", "shuffle"}
    n_null : int >= 1
        Null draws.
    classifier : scikit-learn classifier, optional
        Decoder, cloned for every fit. Default :class:`LeastSquaresSVM` ``(reg=1)``, a
        linear SVM with a squared loss, fitted in closed form for many labellings at
        once. Any other classifier (e.g. ``sklearn.svm.LinearSVC()`` or
        ``SVC(kernel="linear")``, the hinge-loss SVM of :func:`ccgp`) is fitted once per
        labelling, fold and draw: :math:`(1 + n_{\rm null})(2D(D-1) + \mathtt{cv}(D + n_T))`
        fits for :math:`n_T` dichotomies, much slower. To choose the decoder's
        regularisation by cross-validation within each training set (within the training
        half, for CCGP), pass e.g. ``GridSearchCV(LeastSquaresSVM(), {"reg": [0.1, 1,
        10]})``.
    cv : int >= 2
        Folds of the cross-validation of the ``shattering`` rows.
    seed : int >= 0
        Seeds everything (folds, dichotomies, null draws); each draw has its own stream,
        so the result does not depend on ``n_jobs``.
    n_jobs : int
        joblib workers over the null draws (-1 = all cores).
    progress : bool
        tqdm bar over the null draws.
    measures : subset of ("parallelism", "ccgp", "shattering")
        Which statistics to compute (parallelism alone needs no decoder and is fast).
    max_dichotomies : int >= 1

    Returns
    -------
    pandas.DataFrame, one row per statistic, columns ``measure``, ``latent``, ``value``,
    ``null_mean``, ``null_q95`` (the null's 95th percentile) and ``p_value``.
    ``report.attrs`` holds ``null``, ``n_null``, ``seed``, ``cv``, ``classifier`` (its
    repr), ``levels`` (the two values of each latent, read as -1 and +1) and
    ``null_draws``, the (n_null, n_rows) array of the null statistics, column i for row i.
    """
    import pandas as pd

    if null not in NULLS:
        raise ValueError(f"unknown null {null!r}; choose one of {NULLS}")
    n_null = positive_int(n_null, "n_null")
    cv = positive_int(cv, "cv", minimum=2)
    seed = as_seed(seed)
    if isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or int(n_jobs) == 0:
        raise ValueError(f"n_jobs must be a nonzero integer (-1 = all cores); got {n_jobs!r}")
    measures = tuple(measures) if not isinstance(measures, str) else (measures,)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise ValueError(f"measures must be a non-empty subset of {MEASURES}; got {measures}")
    max_dichotomies = positive_int(max_dichotomies, "max_dichotomies")
    if classifier is None:
        classifier = LeastSquaresSVM()
    elif not (hasattr(classifier, "fit") and hasattr(classifier, "score")):
        raise ValueError(f"classifier must be a scikit-learn classifier (with fit and score); "
                         f"got {classifier!r}")
    T, S, names, levels = _trial_tensor(trials, latents, cv if "shattering" in measures else None)
    P, D = S.shape
    codes = _condition_codes(S)
    ss = np.random.SeedSequence(seed)
    pick_seed, obs_seed, *draw_seeds = ss.spawn(2 + n_null)

    plan: dict = {"measures": measures, "ps_max": 2 ** (D - 1) <= MAX_PAIRING_SIDE}
    rows: list[tuple[str, str]] = []
    if "parallelism" in measures:
        rows += [("parallelism (natural)", nm) for nm in names]
        if plan["ps_max"]:
            rows += [("parallelism (max)", nm) for nm in names]
    if "ccgp" in measures:
        splits = _ccgp_splits(S, names)
        groups: dict = {}
        for i, (_, train, test) in enumerate(splits):
            groups.setdefault(tuple(train), (train, test, []))[2].append(i)
        plan["splits"] = splits
        plan["split_groups"] = [(tr, te, np.array(idx)) for tr, te, idx in groups.values()]
        rows += [("ccgp", nm) for nm in names]
    if "shattering" in measures:
        dich = _sd_dichotomies(P, max_dichotomies, pick_seed)
        plan["sd_labels"] = np.column_stack([S, dich.T])
        rows += [("shattering", nm) for nm in names] + [("shattering", "all dichotomies")]

    observed = _trial_statistics(T, S, codes, plan, classifier, cv, np.random.default_rng(obs_seed))
    draws = _run_null_draws(T, S, codes, plan, classifier, cv, null, draw_seeds, n_jobs, progress)
    p_values = (1 + np.sum(draws >= observed, axis=0)) / (1 + n_null)
    report = pd.DataFrame({
        "measure": [m for m, _ in rows],
        "latent": [nm for _, nm in rows],
        "value": observed,
        "null_mean": draws.mean(axis=0),
        "null_q95": np.quantile(draws, NULL_QUANTILE, axis=0),
        "p_value": p_values,
    })
    report.attrs.update(null=null, n_null=n_null, seed=seed, cv=cv, classifier=repr(classifier),
                        levels=levels, null_draws=draws)
    return report


def _run_null_draws(T, S, codes, plan, classifier, cv, null, seeds, n_jobs, progress) -> np.ndarray:
    import joblib
    from tqdm.auto import tqdm

    workers = joblib.effective_n_jobs(n_jobs)
    bar = tqdm(total=len(seeds), desc=f"{null} null", disable=not progress, leave=False)
    try:
        if workers == 1:
            out = []
            for s in seeds:
                out.append(_null_chunk(T, S, codes, plan, classifier, cv, null, [s]))
                bar.update(1)
            return np.vstack(out)
        # A few chunks per worker: little pickling, and a progress bar that moves.
        chunks = [list(c) for c in np.array_split(np.array(seeds, dtype=object), 4 * workers) if len(c)]
        parallel = joblib.Parallel(n_jobs=workers, return_as="generator")
        out = []
        for block in parallel(joblib.delayed(_null_chunk)(T, S, codes, plan, classifier, cv, null, c)
                              for c in chunks):
            out.append(block)
            bar.update(block.shape[0])
        return np.vstack(out)
    finally:
        bar.close()
