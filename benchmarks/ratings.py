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
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from arena.ratings import bt_leaderboard, compute_elo, fit_bt

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-rounds", type=int, default=3, help="reference bootstrap rounds")
    parser.add_argument("--rounds", type=int, default=100, help="our bootstrap rounds")
    args = parser.parse_args()

    df = simulate()
    print(f"{len(df):,} battles among {N_MODELS} models")

    fit_bt(df.iloc[:1000])  # warm imports
    t0 = time.perf_counter()
    ours_point = fit_bt(df).as_series()
    t_ours_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    board = bt_leaderboard(df, n_bootstrap=args.rounds, seed=0)
    t_ours = time.perf_counter() - t0

    ref, t_ref_fit, t_ref_round = reference(df, args.ref_rounds)
    t_ref_total = t_ref_fit + args.rounds * t_ref_round
    diff = float((ours_point - ref.reindex(ours_point.index)).abs().max())

    t0 = time.perf_counter()
    compute_elo(df)
    t_elo = time.perf_counter() - t0

    ok = lambda cond: "OK" if cond else "FAIL"  # noqa: E731
    print(
        f"BT point fit             ours {t_ours_fit:7.3f} s   reference {t_ref_fit:7.3f} s"
        f"   ratio {t_ref_fit / t_ours_fit:6.1f}x"
    )
    print(f"BT fit + {args.rounds} bootstrap   ours {t_ours:7.3f} s   [{ok(t_ours < 2)} < 2 s]")
    print(
        f"  reference: {t_ref_round:.3f} s/round measured over {args.ref_rounds} rounds, "
        f"fit + {args.rounds} rounds extrapolated {t_ref_total:7.1f} s"
        f"   ratio {t_ref_total / t_ours:6.1f}x [{ok(t_ref_total / t_ours >= 10)} >= 10x]"
    )
    print(f"max |rating ours - reference| = {diff:.2e} Elo points [{ok(diff < 0.05)} < 0.05]")
    print(f"online Elo over 1M battles {t_elo:7.3f} s [{ok(t_elo < 1)} < 1 s]")
    print(f"widest 95% CI: {float((board['upper'] - board['lower']).max()):.2f} Elo points")


if __name__ == "__main__":
    main()
