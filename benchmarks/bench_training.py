"""Benchmark of abstractnb.training.train with its default settings (a script, not a test).

Problems: D = 2, 3, 4 binary latents, aligned or whitened inputs with a bias, targets
Y = latents, ReLU, one hidden layer of width 64 or 256, weight decay reg = 1e-2.

For each problem and width, over seeds 0, 1, 2, prints the relative gap (J - J*)/J* (worst
seed) and the wall time (mean) of

  * the default run: ``train(X, Y, width=..., reg=..., seed=...)`` = 1000 Adam steps, the
    L-BFGS polish and the kink polish;
  * the same run with ``polish=False`` (Adam + L-BFGS only, what train did before the kink
    polish).

J* is the modular closed form of abstractnb.theory; abstractnb.meanfield.solve certifies it
as the global minimum for all of these (D = 4 whitened through the symmetry of the cube,
abstractnb.symmetry: its arrangement has 43 M faces).

Measured (2 cores shared with another developer's benchmark, torch 1 thread; the last rows
ran beside the book's notebooks, so times are upper bounds):

     D inputs   width   default: gap time [s]              stop   polish=False: gap time [s]
     2 aligned     64        1.3e-13     1.72 converged/stalled             1.0e-04     0.56
     2 aligned    256        5.1e-14     1.19         converged             8.7e-05     0.64
     2 whitened    64        2.1e-10     2.26           stalled             2.3e-03     1.33
     2 whitened   256        2.8e-10     6.11           stalled             8.9e-04     6.78
     3 aligned     64        5.1e-10     2.84           stalled             1.2e-04     0.83
     3 aligned    256        3.7e-09     2.96           stalled             3.5e-05     1.68
     3 whitened    64        3.0e-10     3.30 converged/stalled             3.4e-03     3.28
     3 whitened   256        5.2e-09    10.58           stalled             1.7e-03     7.34
     4 aligned     64        2.4e-09     5.63           stalled             2.5e-05     2.80
     4 aligned    256        2.0e-09     7.34           stalled             1.5e-05     4.15
     4 whitened    64        3.6e-09    10.96           stalled             1.0e-03     7.92
     4 whitened   256        6.9e-10    13.56           stalled             1.3e-03     9.21

"stalled" here means the kink polish ended (a round gained < 1e-9 relative) with a gradient
on the final piece above sqrt(eps): small units still decaying slowly, far below 1e-6.
Before the kink polish, 2000 Adam steps + L-BFGS (the budget of bench_solver.py) ended
between 4e-7 and 7.5e-4 on this grid (worst 7.5e-4: D = 2 whitened, width 256).

Usage:  .venv/bin/python benchmarks/bench_training.py [--seeds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from abstractnb import inputs, tasks, theory
from abstractnb.training import train

REG = 1e-2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--widths", type=int, nargs="*", default=[64, 256])
    ap.add_argument("--latents", type=int, nargs="*", default=[2, 3, 4])
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the polish=False runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}")
    print(f"reg {REG}, seeds 0..{args.seeds - 1}; gap = worst seed, time = mean over seeds")
    print(f"{'D':>2} {'inputs':8} {'width':>5}   {'default: gap':>12} {'time [s]':>8} {'stop':>17}   "
          f"{'polish=False: gap':>17} {'time [s]':>8}")
    for D in args.latents:
        S = tasks.binary_latents(D)
        Y = tasks.latent_targets(S)
        for name in ("aligned", "whitened"):
            X = getattr(inputs, name)(S)
            J_star = theory.modular_optimum(X, Y, REG).objective
            for width in args.widths:
                cols = []
                for polish in (True, False):
                    if not polish and args.no_baseline:
                        cols.append((np.nan, np.nan, ""))
                        continue
                    runs = [train(X, Y, width=width, reg=REG, seed=seed, progress=False, polish=polish)
                            for seed in range(args.seeds)]
                    gap = max((r.objective - J_star) / J_star for r in runs)
                    wall = float(np.mean([r.wall_time for r in runs]))
                    stops = sorted({r.stop_reason for r in runs})
                    cols.append((gap, wall, "/".join(stops)))
                (g1, t1, s1), (g0, t0, _) = cols
                print(f"{D:>2} {name:8} {width:>5}   {g1:>12.1e} {t1:>8.2f} {s1:>17}   "
                      f"{g0:>17.1e} {t0:>8.2f}", flush=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
