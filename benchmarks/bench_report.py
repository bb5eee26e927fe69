"""Benchmark of abstractnb.metrics.abstraction_report (a script, not a test).

Problem: the issue's size, 8 conditions (D = 3) x 100 trials x 200 units, a factorized
code with isotropic noise, 200 null draws, every measure (PS with both pairings, CCGP,
decoding of each latent and the mean over the 35 balanced dichotomies, 5-fold CV).

Prints the wall time of one report per null and per number of joblib workers; the
target is under 30 s with 2 workers. Also prints the time per fit of scikit-learn's
hinge-loss linear SVMs on one training set of this size, to show why the default decoder
is the closed-form least-squares SVM: a report makes (1 + 200) x (12 + 5 x 38) = 40602
fits.

Usage:  .venv/bin/python benchmarks/bench_report.py [--jobs 1 2] [--n-null 200]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

from abstractnb import metrics
from abstractnb.tasks import binary_latents


def data(n_trials=100, n_units=200, noise=1.0, seed=0):
    S = binary_latents(3)
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.standard_normal((n_units, 3)))[0].T
    X = np.repeat(S @ B, n_trials, axis=0)
    return X + noise * rng.standard_normal(X.shape), np.repeat(S, n_trials, axis=0)


def sklearn_fit_ms(X, L):
    from sklearn.svm import SVC, LinearSVC

    train = np.arange(len(X)) % 5 != 0
    out = {}
    for name, clf in (("LinearSVC()", LinearSVC()), ('SVC(kernel="linear")', SVC(kernel="linear"))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            for _ in range(3):
                clf.fit(X[train], L[train, 0])
        out[name] = (time.perf_counter() - t) / 3 * 1e3
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n-null", type=int, default=200)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    X, L = data()
    print(f"trials {X.shape[0]} x units {X.shape[1]}, 8 conditions, {args.n_null} null draws")
    for null in metrics.NULLS:
        for jobs in args.jobs:
            t = time.perf_counter()
            rep = metrics.abstraction_report(X, L, null=null, n_null=args.n_null, n_jobs=jobs,
                                             progress=False)
            wall = time.perf_counter() - t
            print(f"  null={null:9s} n_jobs={jobs}: {wall:6.1f} s   "
                  f"(CCGP {rep[rep.measure == 'ccgp'].value.mean():.3f}, "
                  f"max p {rep.p_value.max():.3f})")
    for name, ms in sklearn_fit_ms(X, L).items():
        print(f"  one fit of {name} on 640 trials: {ms:.0f} ms")


if __name__ == "__main__":
    main()
