"""Convex solver vs gradient training, side by side, over the grid of Issue 9.

For each problem (ReLU with a bias, weight decay 0.01) it prints: the faces of the
arrangement, the wall time of ``meanfield.solve`` (median of ``--repeats``), its
column-generation rounds and why it stopped, its relative gap and whether it is certified;
then training with a budget fixed in advance (2,000 Adam steps + the L-BFGS and kink polishes, widths
64 and 256, ``--seeds`` seeds): how many runs end within 1e-4 (relative) of the certified
J*, their median time, and the ratio training time / solve time.

Usage: ``python benchmarks/bench_solver.py [--seeds 3] [--repeats 3] [--quick] [--time-limit 300]
[--no-train]`` (``--quick``: one seed, one repeat, width 64 only, P <= 8; ``--no-train``: the
solver's columns only). Rows: Issue 9's table, the same families at P = 16 with 1 to 4
outputs, and the large latent problems (whitened D = 4, aligned D = 5 and 6).

Profile of the slowest case before and after the changes of Issue 16 / Issue 7 (aligned
inputs, three random linear tasks, D = 3; measured on the 2-core development machine):
before, 100 column-generation rounds (the round cap) in 152 s, because the stopping rule
asked for an absolute gap of 1e-8 that the interior-point master cannot deliver, and the
bound was taken from the last dual point only; after, the problem is solved in internal
units, every exactly priced dual point is kept and the rule is relative: 13 rounds, about
2 s, relative gap 6e-10. With the active-set master and the K x K pricing path: 11 rounds,
0.1-0.2 s.

Profile of the large latent problems before and after the symmetric pricing
(:mod:`abstractnb.symmetry`; cProfile, lightly loaded machine):

* whitened, Y = S, D = 4 (P = r = 16, 3^16 - 1 = 43 M faces): before, 225 s and NOT
  certified (the enumeration gives up, a search prices). After, 8.4 s, certified in 2
  rounds: the failed full enumeration 1.3 s, the 132,101 orbit representatives 1.7 s and
  their spans and features 1.4 s, three exact pricings 2.9 s. With one BLAS thread: 6.0 s.
* aligned, Y = S, D = 5 (P = 32, 1.3 M faces): before, 46 s, NOT certified. After, 18.6 s,
  certified in 1 round: the failed full enumeration 7 s, the 2,567 faces of the Weyl chamber
  9.6 s (almost all of it the rays of the 32 + 5 hyperplanes, by subsets), pricing 0.2 s.
  With the chamber's rays found through the group (``chamber_rays``, 2.4 s) and one BLAS
  thread: 9.5 s.
* aligned, Y = S, D = 6 (P = 64): before, not certified (no enumeration). After, 31.5 s,
  certified: 179 rays in the chamber (~25 s; by brute force, 1.3e8 row subsets), 35,187
  chamber faces (sign vectors of 64 + 6 entries), one round.

Profile of whitened inputs with linear tasks at D = 4 (P = r = 16, no symmetry), before and
after the pricing on one cone (:func:`abstractnb.arrangement.single_cone`) and partial
pricing (``meanfield.homogeneous.PARTIAL_FACES``); four tasks, cProfile:

* before: NOT certified (43 M faces, no group: a search priced), 10.3 s, 99 rounds.
* cone only: certified, 20 s, 69 rounds; 15.7 s of it in 70 exact pricings of the 65,535
  faces of the cone (9.8 s of batched 4 x 4 eigh, 5.3 s of einsum). From round 8 on, every
  violating direction came from the same 16 faces, whose atoms crawled inside them.
* partial pricing (only those faces, up to 10 rounds between exact pricings), the face
  matrices by matmul instead of einsum, the cone's face bases by QR instead of SVD: 5.1 s,
  17 exact rounds (eigh 3.1 s, polishing the masses 1.8 s).
* whitened, Y = S, D = 4 likewise: 6.0 s on 132,101 orbits -> 1.2 s on the cone's faces.

Measured with ``--no-train --repeats 1 --time-limit 300`` on the 2-core machine, otherwise
idle (solve runs on one BLAS thread: with two, small dense problems ran 5-7x slower):

================================== === ======= ======= ====== ========= ======= =====
problem                              P   faces solve s rounds stop      rel gap cert
================================== === ======= ======= ====== ========= ======= =====
aligned, Y = S, D = 2                4      50    0.03      1 converged 2.1e-15 True
aligned, Y = S, D = 3                8     592    0.02      1 converged 4.6e-15 True
aligned, Y = S, D = 4               16   16482    0.42      1 converged 1.6e-15 True
whitened, Y = S, D = 3               8     255    0.02      2 converged 2.5e-16 True
aligned, 3 linear tasks, D = 3       8     592    0.11     11 converged 3.4e-09 True
aligned, 3 linear tasks, D = 4      16   16482    0.71      9 converged 1.2e-09 True
whitened, 3 linear tasks, D = 3      8     255    0.83     27 converged 8.6e-09 True
embedding dim 16, Y = S, D = 3       8    6560    0.52     28 converged 6.5e-09 True
embedding dim 8, Y = S, D = 3        8    6560    0.94     36 converged 9.8e-09 True
embedding dim 4, Y = S, D = 4       16    6480    1.66     12 converged 4.1e-09 True
aligned, 4 linear tasks, D = 3       8     592    0.01      1 converged 7.9e-16 True
whitened, 4 linear tasks, D = 3      8     255    1.45     30 converged 8.6e-09 True
embedding dim 8, 4 linear tasks, D=3 8    6560    1.70     31 converged 7.0e-09 True
aligned, 1 linear tasks, D = 4      16   16482    0.11      1 converged 1.5e-15 True
aligned, 2 linear tasks, D = 4      16   16482    0.18      4 converged 2.5e-09 True
aligned, 4 linear tasks, D = 4      16   16482    0.69     11 converged 9.0e-09 True
whitened, 1 linear tasks, D = 4     16   65535    1.03      2 converged 1.6e-16 True
whitened, 2 linear tasks, D = 4     16   65535    1.47      3 converged 9.5e-09 True
whitened, 3 linear tasks, D = 4     16   65535    3.58     10 converged 8.2e-09 True
whitened, 4 linear tasks, D = 4     16   65535    7.31     17 converged 8.6e-09 True
embedding dim 8, Y = S, D = 4       16       0    9.30     70 converged 7.8e-09 False
embedding dim 16, Y = S, D = 4      16       0    6.10     59 converged 9.2e-09 False
whitened, Y = S, D = 4              16   65535    1.36      2 converged 9.6e-16 True
aligned, Y = S, D = 5               32    2567   10.13      1 converged 0.0e+00 True
aligned, Y = S, D = 6               64   35187   34.28      1 converged -1.0e-12 True
================================== === ======= ======= ====== ========= ======= =====

(After a warm-up solve, so that no row pays for importing cvxpy; "faces" is the number
priced: all of them, those of one cone, those of a Weyl chamber, or one per orbit; 0 when
none could be listed. Times vary by up to about 1.5x between runs on this shared machine:
whitened D = 4 with four tasks took 5.1 and 7.3 s in two runs of the same code.) NOT
certified: random embeddings of dimension 8 and 16 at D = 4 (r = 9 and 16, no symmetry, no
single cone, 7.7 M and 43 M faces): the pricing is a search, and its "gap" is an estimate,
not a bound. There every search now also refines the best rays of the arrangement, and one
that finds no violator is repeated harder (``HARD_SEARCH``) before the column generation
stops: J fell from 0.34626 to 0.34590 (dimension 8) and from 0.19846 to 0.19833 (dimension
16), below every training run (width 64, seeds 0-2: 0.34596 and 0.19836 at best); before,
training beat the solver on both. (These two rows were measured after that change, the
others just before it; it does not touch problems with exact pricing.)

Two exact routes for these two rows, measured at their final dual points and left out:

* Every face at once. With r = P a face is (positive set S, zero set), its value the top
  eigenvalue of the K x K matrix Z_S^T (M_FF^-1)_SS Z_S (M = (LL^T)^-1, F the
  nonzero set), and its top eigenvector must fall inside it. Batched in numpy over the
  65,536 faces with F = all: 3.4 us per face to build the matrices and 2.8 us per 4 x 4
  eigh; extrapolated, about 4.5 min for one exact pricing of the 43 M faces (one BLAS
  thread). A trace screen prunes nothing (99.8 % of those faces have trace > 1); only the
  sign test does, after the eigh. It would take compiled code to come near 10 s.
* A doubly nonnegative (SDP) relaxation of the pricing, in (u, w) = (relu(h), relu(-h)) with
  u_i w_i = 0, its dual checked by an eigenvalue: a proof, but loose. Dimension 8: c <= 1.195
  (Clarabel, 0.45 s), a proven relative gap of 15 %. Dimension 16 (cond L = 4e3): Clarabel
  fails, SCS stops inaccurate; its primal value, c ~ 1.033, would prove only 3 %. Certifying
  needs c within about 5e-7 of 1, so such bounds could serve only to prune a branch and bound
  whose leaves are faces, at about a second per node.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch

from abstractnb import inputs, meanfield, tasks, training

REG = 0.01
TARGET = 1e-4  # relative distance to J* that counts as "training found the optimum"
ADAM_STEPS = 2000


def grid(quick: bool):
    """(name, X, Y) of the problems in Issue 9's table, then the same families with four
    outputs at P = 8 and with 1 to 4 outputs at P = 16, then the large latent problems
    (P = 16, 32, 64)."""
    S2, S3, S4, S5, S6 = (tasks.binary_latents(D) for D in (2, 3, 4, 5, 6))
    lat = tasks.latent_targets
    out = [(f"aligned, Y = S, D = {D}", inputs.aligned(S), lat(S)) for D, S in ((2, S2), (3, S3), (4, S4))]
    out += [
        ("whitened, Y = S, D = 3", inputs.whitened(S3), lat(S3)),
        ("aligned, 3 linear tasks, D = 3", inputs.aligned(S3), tasks.linear_tasks(S3, 3, seed=0)),
        ("aligned, 3 linear tasks, D = 4", inputs.aligned(S4), tasks.linear_tasks(S4, 3, seed=0)),
        ("whitened, 3 linear tasks, D = 3", inputs.whitened(S3), tasks.linear_tasks(S3, 3, seed=0)),
        ("embedding dim 16, Y = S, D = 3", inputs.random_embedding(S3, 16, seed=0), lat(S3)),
        ("embedding dim 8, Y = S, D = 3", inputs.random_embedding(S3, 8, seed=0), lat(S3)),
        ("embedding dim 4, Y = S, D = 4", inputs.random_embedding(S4, 4, seed=0), lat(S4)),
    ]
    out += [(f"{name}, 4 linear tasks, D = 3", X, tasks.linear_tasks(S3, 4, seed=0))
            for name, X in (("aligned", inputs.aligned(S3)), ("whitened", inputs.whitened(S3)),
                            ("embedding dim 8", inputs.random_embedding(S3, 8, seed=0)))]
    out += [(f"aligned, {k} linear tasks, D = 4", inputs.aligned(S4), tasks.linear_tasks(S4, k, seed=0))
            for k in (1, 2, 4)]
    out += [(f"whitened, {k} linear tasks, D = 4", inputs.whitened(S4), tasks.linear_tasks(S4, k, seed=0))
            for k in (1, 2, 3, 4)]
    out += [(f"embedding dim {d}, Y = S, D = 4", inputs.random_embedding(S4, d, seed=0), lat(S4))
            for d in (8, 16)]
    out += [
        ("whitened, Y = S, D = 4", inputs.whitened(S4), lat(S4)),
        ("aligned, Y = S, D = 5", inputs.aligned(S5), lat(S5)),
        ("aligned, Y = S, D = 6", inputs.aligned(S6), lat(S6)),
    ]
    if quick:
        out = [row for row in out if row[1].shape[0] <= 8]
    return out


def time_solver(X, Y, repeats: int, time_limit: float):
    times, sol = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sol = meanfield.solve(X, Y, reg=REG, progress=False, time_limit=time_limit)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), sol


def time_training(X, Y, J_star: float, seeds: int, widths):
    hits, times = 0, []
    for width in widths:
        for seed in range(seeds):
            t = time.perf_counter()
            res = training.train(X, Y, width=width, reg=REG, steps=ADAM_STEPS, seed=seed, progress=False)
            times.append(time.perf_counter() - t)
            hits += res.objective <= J_star * (1 + TARGET)
    return hits, len(times), float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per solve")
    parser.add_argument("--no-train", action="store_true", help="solver columns only")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.repeats = 1, 1
    widths = (64,) if args.quick else (64, 256)
    torch.set_num_threads(1)
    print(f"threads: torch 1, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"training: {ADAM_STEPS} Adam steps + L-BFGS, widths {widths}, {args.seeds} seeds")
    head = (f"{'problem':34s} {'P':>3s} {'faces':>7s} {'solve s':>8s} {'rounds':>6s} {'stop':>9s} "
            f"{'rel gap':>8s} {'cert':>5s} {'train ok':>8s} {'train s':>8s} {'ratio':>7s}")
    # Import cvxpy and warm the caches once, so that the first row is not charged for them.
    S2 = tasks.binary_latents(2)
    meanfield.solve(inputs.aligned(S2), tasks.latent_targets(S2), reg=REG, progress=False)
    print(head)
    print("-" * len(head))
    for name, X, Y in grid(args.quick):
        t_solve, sol = time_solver(X, Y, args.repeats, args.time_limit)
        if args.no_train:
            hits, n, t_train = 0, 0, float("nan")
        else:
            # Without a certificate J* is unknown: compare with the solver's network instead.
            J_ref = sol.lower_bound if sol.certified else sol.objective
            hits, n, t_train = time_training(X, Y, J_ref, args.seeds, widths)
        print(f"{name:34s} {X.shape[0]:3d} {sol.n_faces:7d} {t_solve:8.2f} {sol.iterations:6d} "
              f"{sol.stop_reason:>9s} "
              f"{sol.relative_gap:8.1e} {str(sol.certified):>5s} {hits:3d}/{n:<4d} {t_train:8.2f} "
              f"{t_train / t_solve:7.1f}", flush=True)


if __name__ == "__main__":
    main()
