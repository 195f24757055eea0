"""``arena ratings arena-hard | mt-bench`` and ``bt --fastchat``: the upstream tools' own numbers.

Registered on the ``arena ratings`` app by :mod:`arena.ratings.cli` (``register_upstream``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from .cli_output import _emit

JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")


def _fastchat_table(battles: pd.DataFrame, bootstrap: int, seed: int) -> pd.DataFrame:
    """FastChat's point ratings; CIs as its leaderboard (2.5/97.5% quantiles of resamples)."""
    from .bradley_terry import fastchat_bt

    try:
        point = fastchat_bt(battles)
    except (ValueError, KeyError) as e:
        raise typer.BadParameter(str(e)) from e
    df = pd.DataFrame({"rating": point})
    df["lower"] = df["upper"] = float("nan")
    if bootstrap:
        rs = np.random.RandomState(seed)
        n = len(battles)
        boot = pd.DataFrame(
            [fastchat_bt(battles.iloc[rs.randint(0, n, n)]) for _ in range(bootstrap)]
        )
        df["lower"], df["upper"] = boot.quantile(0.025), boot.quantile(0.975)
    df["rank"] = df["rating"].rank(ascending=False, method="min")
    counts = pd.concat([battles["model_a"], battles["model_b"]]).value_counts()
    df["n_battles"] = counts.reindex(df.index).fillna(0)
    df.index.name = "model"
    return df


# ------------------------------------------------------------------ upstream leaderboards
def _judgment_dir(path: Path, judge: str | None) -> Path:
    if list(path.glob("*.jsonl")):
        return path
    root = path / "model_judgment" if (path / "model_judgment").is_dir() else path
    dirs = (
        sorted(d for d in root.iterdir() if d.is_dir() and list(d.glob("*.jsonl")))
        if root.is_dir()
        else []
    )
    if judge:
        dirs = [d for d in dirs if d.name == judge]
    if len(dirs) != 1:
        names = ", ".join(d.name for d in dirs) or "none"
        raise typer.BadParameter(f"{path}: pick one judge folder with --judge (found: {names})")
    return dirs[0]


def _read_jsonl_folder(folder: Path) -> pd.DataFrame:
    frames = []
    for f in sorted(folder.glob("*.jsonl")):
        try:
            frames.append(pd.read_json(f, lines=True))
        except ValueError as e:
            raise typer.BadParameter(f"{f}: not JSON lines ({e})") from e
    return pd.concat(frames, ignore_index=True)


def _answer_metadata(bench: Path) -> dict[str, dict[str, dict]]:
    meta: dict[str, dict[str, dict]] = {}
    for f in sorted((bench / "model_answer").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                model = r.get("model", r.get("model_id", f.stem))
                meta.setdefault(model, {})[str(r.get("uid", r.get("question_id")))] = r.get(
                    "metadata"
                ) or r.get("conv_metadata", {})
    return meta


def arena_hard(
    path: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="data/<bench> or its judge folder"
    ),
    version: str = typer.Option(
        "v0.1", "--version", help="v0.1 (BT vs baseline) or v2.0 (mean score)"
    ),
    judge: str | None = typer.Option(None, "--judge", help="judge folder under model_judgment/"),
    baseline: str = typer.Option(
        "gpt-4-0314", "--baseline", help="the baseline (v2.0: of every category)"
    ),
    category_baseline: list[str] = typer.Option(
        None, "--category-baseline", help="v2.0: CATEGORY=MODEL"
    ),
    weight: int = typer.Option(3, "--weight", min=1, help="times a strong verdict (A>>B) counts"),
    rounds: int = typer.Option(100, "--rounds", min=1, help="bootstrap rounds"),
    seed: int = typer.Option(42, "--seed", help="bootstrap seed (v0.1 upstream: 42)"),
    style_control: bool = typer.Option(
        False, "--style-control", help="v2.0: length + markdown density"
    ),
    json_out: bool = JsonOpt,
) -> None:
    """arena-hard-auto's leaderboard from its judgment files (score = win rate vs the baseline)."""
    from .arena_hard import arena_hard_v01, arena_hard_v2, arena_hard_v2_style

    folder = _judgment_dir(path, judge)
    judgments = _read_jsonl_folder(folder)
    if version == "v0.1":
        if style_control:
            raise typer.BadParameter("--style-control is implemented for --version v2.0")
        df = arena_hard_v01(judgments, baseline, weight=weight, n_rounds=rounds, seed=seed)
        _emit(
            df, ("score", "lower", "upper", "rating"), json_out, f"arena-hard v0.1 ({folder.name})"
        )
        return
    if version != "v2.0":
        raise typer.BadParameter("--version is v0.1 or v2.0")
    if "category" not in judgments.columns:
        judgments["category"] = "default"
    pairs = dict(c.split("=", 1) for c in category_baseline or [] if "=" in c)
    baselines = {c: pairs.get(c, baseline) for c in judgments["category"].dropna().unique()}
    try:
        if style_control:
            bench = folder.parent.parent
            df = arena_hard_v2_style(
                judgments,
                _answer_metadata(bench),
                baselines,
                weight=weight,
                n_rounds=rounds,
                seed=seed,
            )
        else:
            df = arena_hard_v2(judgments, baselines, weight=weight, n_rounds=rounds, seed=seed)
    except KeyError as e:
        raise typer.BadParameter(f"missing answer metadata for {e}") from e
    df = df.assign(model=df["category"] + "/" + df["model"]).set_index("model")
    _emit(df, ("score", "lower", "upper"), json_out, f"arena-hard v2.0 ({folder.name})")


def mt_bench(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="*_single.jsonl or *_pair.jsonl"
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="pairwise: only rows with this model"
    ),
    json_out: bool = JsonOpt,
) -> None:
    """FastChat's MT-Bench table from a *_single.jsonl (turn 1, turn 2, average) or
    *_pair.jsonl (win/loss/tie and rates) judgment file."""
    from .mt_bench import mt_bench_pairwise_table, mt_bench_single_table

    try:
        df = pd.read_json(file, lines=True)
    except ValueError as e:
        raise typer.BadParameter(f"{file}: not JSON lines ({e})") from e
    if "g1_winner" in df.columns:
        table = mt_bench_pairwise_table(df, baseline)
        fields: tuple[str, ...] = (
            "win",
            "loss",
            "tie",
            "win_rate",
            "loss_rate",
            "win_rate_adjusted",
        )
    elif {"model", "score", "turn"} <= set(df.columns):
        table, fields = mt_bench_single_table(df), ("turn_1", "turn_2", "average", "n")
    else:
        raise typer.BadParameter(
            f"{file}: neither a single (score, turn) nor a pair (g1_winner) judgment file"
        )
    _emit(table, fields, json_out, f"MT-Bench ({file.name})")


def register_upstream(app: typer.Typer) -> None:
    """Add ``arena-hard`` and ``mt-bench`` to the ratings app."""
    app.command("arena-hard")(arena_hard)
    app.command("mt-bench")(mt_bench)
