"""Benchmark of abstractnb.training.train (a script, not a test).

Problem: D = 2, 3, 4 binary latents, aligned inputs with a bias, targets Y = latents,
ReLU, width 64, weight decay reg = 1e-2 (P = 4, 8, 16 conditions).

Prints, per D:
  * Adam steps/s and L-BFGS iterations/s;
  * for a range of Adam budgets (each followed by the L-BFGS polish), the relative gap
    (J - J_ref)/J_ref after Adam and after the polish, worst over seeds, and the wall time;
  * the smallest budget whose worst seed reaches 1e-4 and 1e-6, and its time.

J_ref is the smaller of the best J found over all runs and the modular closed form
J* = K (2 sqrt(2) reg - 2 reg^2) of abstractnb.theory, whose global optimality is
certified by abstractnb.meanfield.certify (the printed gap).

Usage:  .venv/bin/python benchmarks/bench_training.py [--seeds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from abstractnb import inputs, meanfield, tasks, theory
from abstractnb.training import train

BUDGETS = (250, 500, 1000, 2000, 3000, 5000, 10000)


def modular_net(X, Y, reg):
    m = theory.modular_optimum(X, Y, reg)
    return (m.weights, m.readout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: train's)")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--reg", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--budgets", type=int, nargs="*", default=list(BUDGETS))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    extra = {} if args.lr is None else {"lr": args.lr}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"width {args.width}, reg {args.reg}, seeds {args.seeds}, budgets {args.budgets}, {extra or 'default lr'}")

    for D in (2, 3, 4):
        S = tasks.binary_latents(D)
        X, Y = inputs.aligned(S), tasks.latent_targets(S)
        P, K = Y.shape
        common = dict(width=args.width, reg=args.reg, progress=False, **extra)

        # Throughput: Adam alone, then the polish of a short Adam run (many L-BFGS iterations).
        train(X, Y, steps=50, seed=0, lbfgs_steps=0, **common)  # warm-up
        n = 2000
        t = train(X, Y, steps=n, seed=0, lbfgs_steps=0, **common)
        adam_rate = n / t.wall_time
        short = train(X, Y, steps=200, seed=0, **common)
        lbfgs_rate = short.n_lbfgs / max(short.wall_time - 200 / adam_rate, 1e-9)

        runs = {}
        for steps in args.budgets:
            for seed in range(args.seeds):
                r = train(X, Y, steps=steps, seed=seed, **common)
                runs[steps, seed] = (r.history[r.n_adam - 1], r.objective, r.n_lbfgs, r.wall_time)
        J_star = theory.modular_optimum(X, Y, args.reg).objective
        J_best = min(v[1] for v in runs.values())
        J_ref = min(J_best, J_star)
        print(f"\nD={D}  P={P}  Adam {adam_rate:,.0f} steps/s   L-BFGS {lbfgs_rate:,.0f} it/s   "
              f"J*={J_star:.12f}  best found={J_best:.12f} ((best-J*)/J*={(J_best - J_star) / J_star:.1e})  "
              f"certified gap of the closed form={meanfield.certify(modular_net(X, Y, args.reg), X, Y, reg=args.reg).gap:.1e}")
        print(f"  {'Adam steps':>10} {'gap after Adam':>15} {'gap after polish':>17} {'L-BFGS its':>11} {'time [s]':>9}"
              "   (worst seed; time = mean)")
        rows = []
        for steps in args.budgets:
            vals = [runs[steps, s] for s in range(args.seeds)]
            g_adam = max((v[0] - J_ref) / J_ref for v in vals)
            g_pol = max((v[1] - J_ref) / J_ref for v in vals)
            its = max(v[2] for v in vals)
            wall = float(np.mean([v[3] for v in vals]))
            rows.append((steps, g_pol, its, wall))
            print(f"  {steps:>10} {g_adam:>15.1e} {g_pol:>17.1e} {its:>11} {wall:>9.2f}")
        for tol in (1e-4, 1e-6):
            # the smallest budget from which every larger budget also reaches tol on all seeds
            ok = [g <= tol for _, g, _, _ in rows]
            first = next((i for i in range(len(rows)) if all(ok[i:])), None)
            if first is None:
                print(f"  does not reach {tol:.0e} within the budgets")
            else:
                steps, _, its, wall = rows[first]
                print(f"  reaches {tol:.0e} (all seeds, all larger budgets): {steps} Adam steps "
                      f"+ <= {its} L-BFGS its, {wall:.2f} s")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
