"""Benchmark: ratings on 1,000,000 battles among 50 models.

Measures (wall clock, this machine):

1. Our Bradley-Terry: fit + 100 multinomial bootstrap rounds, from the battles DataFrame
   (encoding and deduplication included). Target: < 2 s.
2. A straightforward reference: one row per battle, ``scipy.optimize.minimize`` (L-BFGS with
   an analytic gradient) on the per-row log-loss, no deduplication; its bootstrap resamples
   rows (``rng.integers``) and refits. Its full 100-round bootstrap would take minutes, so it is
   run for ``--ref-rounds`` rounds and extrapolated linearly (printed as such).
   Targets: ours >= 10x faster, max |rating difference| < 0.05 Elo points.
3. Online Elo over the 1M battles. Target: < 1 s.

Run: ``.venv/bin/python benchmarks/ratings.py [--ref-rounds 3]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from arena.ratings import bt_leaderboard, compute_elo, elo_ratings, encode_battles, fit_bt

N_BATTLES = 1_000_000
N_MODELS = 50
C = 400 / math.log(10)


def simulate(n: int = N_BATTLES, m: int = N_MODELS, seed: int = 0) -> pd.DataFrame:
    """Battles from a BT model with 10% ties."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    win = rng.random(n) < 1 / (1 + np.exp(strength[b] - strength[a]))
    tie = rng.random(n) < 0.1
    names = np.array([f"model-{i:02d}" for i in range(m)])
    winner = np.where(tie, "tie", np.where(win, "model_a", "model_b"))
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def _row_loss(theta, a, b, s):
    d = theta[a] - theta[b]
    loss = np.sum(s * np.logaddexp(0, -d) + (1 - s) * np.logaddexp(0, d)) / len(s)
    g = (1 / (1 + np.exp(-d)) - s) / len(s)
    m = len(theta)
    return loss, np.bincount(a, g, m) - np.bincount(b, g, m)


def reference_fit(a: np.ndarray, b: np.ndarray, s: np.ndarray, m: int) -> np.ndarray:
    """Plain per-row BT MLE, mean-anchored at 1000."""
    res = minimize(
        _row_loss,
        np.zeros(m),
        args=(a, b, s),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
    )
    r = res.x * C
    return r - r.mean() + 1000


def reference(df: pd.DataFrame, rounds: int, seed: int = 0) -> tuple[pd.Series, float, float]:
    """Per-row reference: (ratings, seconds for the point fit, seconds per bootstrap round)."""
    t0 = time.perf_counter()
    models = sorted(set(df["model_a"]) | set(df["model_b"]))
    index = {name: i for i, name in enumerate(models)}
    a = df["model_a"].map(index).to_numpy()
    b = df["model_b"].map(index).to_numpy()
    s = df["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5}).to_numpy()
    ratings = reference_fit(a, b, s, len(models))
    t_fit = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(rounds):
        idx = rng.integers(0, len(s), len(s))
        reference_fit(a[idx], b[idx], s[idx], len(models))
    per_round = (time.perf_counter() - t0) / max(rounds, 1)
    return pd.Series(ratings, index=models), t_fit, per_round


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-rounds", type=int, default=3, help="reference bootstrap rounds")
    parser.add_argument("--rounds", type=int, default=100, help="our bootstrap rounds")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of our functions")
    args = parser.parse_args()

    df = simulate()
    print(
        f"{len(df):,} battles among {N_MODELS} models; load average {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} cores; times of {args.repeats} runs, ratios use the median"
    )
    fit_bt(df.iloc[:1000])  # warm imports
    t_fit, point = _timed(lambda: fit_bt(df).as_series(), args.repeats)
    t_lb, board = _timed(lambda: bt_leaderboard(df, n_bootstrap=args.rounds), args.repeats)
    enc = encode_battles(df)
    t_elo, _ = _timed(lambda: compute_elo(df), args.repeats)
    t_loop, _ = _timed(lambda: elo_ratings(enc.a, enc.b, enc.score, len(enc.models)), args.repeats)

    ref, t_ref_fit, t_ref_round = reference(df, args.ref_rounds)
    t_ref_total = t_ref_fit + args.rounds * t_ref_round
    diff = float((point - ref.reindex(point.index)).abs().max())

    def show(ts: list[float]) -> str:
        return " ".join(f"{t:.3f}" for t in ts) + " s"

    def ok(cond: bool) -> str:
        return "OK" if cond else "FAIL"

    med = statistics.median
    print(
        f"BT point fit (incl. encoding)  ours {show(t_fit)}; reference {t_ref_fit:.3f} s;"
        f" ratio {t_ref_fit / med(t_fit):.1f}x"
    )
    print(f"BT fit + {args.rounds} bootstrap rounds  ours {show(t_lb)} [{ok(med(t_lb) < 2)} < 2 s]")
    print(
        f"  reference {t_ref_round:.3f} s/round over {args.ref_rounds} measured rounds;"
        f" fit + {args.rounds} rounds extrapolated {t_ref_total:.1f} s;"
        f" ratio {t_ref_total / med(t_lb):.0f}x [{ok(t_ref_total / med(t_lb) >= 10)} >= 10x]"
    )
    print(f"max |rating ours - reference| = {diff:.1e} Elo points [{ok(diff < 0.05)} < 0.05]")
    print(f"online Elo, DataFrame in       {show(t_elo)} [{ok(med(t_elo) < 1)} < 1 s]")
    print(f"online Elo, update loop only   {show(t_loop)}")
    print(f"widest 95% CI: {float((board['upper'] - board['lower']).max()):.2f} Elo points")


if __name__ == "__main__":
    main()
