"""``arena ratings ...``: leaderboards from a battles file (mounted by ``arena.cli``).

Commands ``elo``, ``bt``, ``winrate``, ``lc`` take ``FILE [--format ...] [--baseline MODEL]
[--bootstrap B] [--seed S] [--style-control] [--json]``. ``--json`` prints
``{"models": {name: {...}}}`` (NaN as ``null``; ``lower``/``upper`` are ``null`` without
bootstrap). ``--bootstrap``/``--seed`` do not apply to ``winrate``/``lc`` (AlpacaEval reports a
standard error instead) and ``--style-control`` applies to ``bt`` only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from .bootstrap import bt_leaderboard
from .elo import elo_leaderboard
from .io import FORMATS, BattleFormatError, filter_battles, load_battles
from .length_control import GLMS, length_controlled_win_rate, load_lc_inputs
from .style import style_leaderboard
from .winrate import WINRATE_COLUMNS, win_rate_vs_baseline

app = typer.Typer(help="Ratings from battles: online Elo, Bradley-Terry with CIs, win rates, LC.")

FileArg = typer.Argument(
    ..., exists=True, dir_okay=False, help="battles file (JSON/JSONL) or an Arena store (.sqlite)"
)
FormatOpt = typer.Option(
    None, "--format", help=f"one of {', '.join(FORMATS)}, store; default: detect"
)
BaselineOpt = typer.Option(None, "--baseline", help="baseline model (win rates; BT anchor)")
BootOpt = typer.Option(100, "--bootstrap", min=0, help="bootstrap rounds for CIs (0 = none)")
SeedOpt = typer.Option(0, "--seed", help="bootstrap seed")
StyleOpt = typer.Option(False, "--style-control", help="control for length/markdown (bt)")
JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")
WhereOpt = typer.Option(
    None, "--where", help="keep battles with COL=VALUE (repeatable), e.g. anony=true"
)
GamedOpt = typer.Option(
    None,
    "--gamed",
    exists=True,
    dir_okay=False,
    help="alpaca_eval's df_gamed.csv (LC regularisation and instruction difficulty)",
)
DifficultyOpt = typer.Option(
    None,
    "--difficulty",
    exists=True,
    dir_okay=False,
    help="instruction_difficulty.csv (index, difficulty) when there is no df_gamed.csv",
)
GlmOpt = typer.Option("length_controlled_v1", "--glm", help=f"LC GLM: {', '.join(GLMS)}")

RATING_FIELDS = ("rating", "lower", "upper", "rank", "n_battles")
WINRATE_FIELDS = (*WINRATE_COLUMNS, "length_controlled_winrate")


INT_FIELDS = {
    "rank",
    "n_battles",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "n",
    "win",
    "loss",
    "tie",
}


def _clean(value: Any, field: str = "") -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return int(value) if field in INT_FIELDS else value


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _emit(df: pd.DataFrame, fields: tuple[str, ...], as_json: bool, title: str) -> None:
    notes = list(df.attrs.get("notes", []))
    if as_json:
        models = {str(name): {f: _clean(row[f], f) for f in fields} for name, row in df.iterrows()}
        typer.echo(json.dumps({"models": models, **({"notes": notes} if notes else {})}, indent=2))
        return
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    table = Table(title=title)
    table.add_column("model")
    for f in fields:
        table.add_column(f, justify="right")
    for name, row in df.iterrows():
        cells = [_clean(row[f], f) for f in fields]
        table.add_row(str(name), *(_fmt(c) for c in cells))
    Console().print(table)


def _is_store(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _from_store(path: Path, features: bool) -> pd.DataFrame:
    """The Battle records of an Arena store (SQLite file), read column by column."""
    from arena.core.store import Store
    from arena.core.store_frame import battles_frame

    store = Store(path)
    try:
        df = battles_frame(store, features=features)
    finally:
        store.close()
    if df.empty:
        raise BattleFormatError(f"{path}: the store holds no battles")
    return df


def _load(
    path: Path, fmt: str | None, where: list[str] | None = None, features: bool = True
) -> pd.DataFrame:
    try:
        store = fmt == "store" or (fmt is None and _is_store(path))
        df = _from_store(path, features) if store else load_battles(path, fmt)
        if df.attrs.get("skipped"):
            n = df.attrs["skipped"]
            df.attrs["notes"] = [f"{n} row(s) with an 'error' winner skipped (as FastChat does)"]
        if where:
            pairs = [w.split("=", 1) for w in where]
            if any(len(p) != 2 for p in pairs):
                raise typer.BadParameter("--where takes COL=VALUE")
            df = filter_battles(df, dict(pairs))  # type: ignore[arg-type]
    except BattleFormatError as e:
        raise typer.BadParameter(str(e), param_hint="FILE") from e
    return df


def _rated(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with a winner (AlpacaEval rows whose annotator failed have none)."""
    if "winner" not in df.columns or not df["winner"].isna().any():
        return df
    out = df[df["winner"].notna()]
    out.attrs = dict(df.attrs)
    return out


def _baseline(battles: pd.DataFrame, baseline: str | None) -> str:
    if baseline:
        return baseline
    if battles.attrs.get("format") == "alpaca-eval" and battles["model_a"].nunique() == 1:
        return str(battles["model_a"].iloc[0])
    in_all = set(battles["model_a"]) | set(battles["model_b"])
    common = [
        m for m in sorted(in_all) if ((battles["model_a"] == m) | (battles["model_b"] == m)).all()
    ]
    if len(common) == 1:
        return common[0]
    raise typer.BadParameter("cannot infer the baseline; pass --baseline MODEL")


@app.command()
def elo(
    file: Path = FileArg,
    format: str | None = FormatOpt,  # noqa: A002
    baseline: str | None = BaselineOpt,
    bootstrap: int = BootOpt,
    seed: int = SeedOpt,
    style_control: bool = StyleOpt,
    json_out: bool = JsonOpt,
    where: list[str] = WhereOpt,
) -> None:
    """Online Elo (file order); CIs from shuffled bootstrap resamples."""
    if style_control:
        raise typer.BadParameter("--style-control applies to 'bt' only")
    battles = _rated(_load(file, format, where, features=False))
    df = elo_leaderboard(battles, n_bootstrap=bootstrap, seed=seed).set_index("model")
    df.attrs["notes"] = battles.attrs.get("notes", [])
    _emit(df, RATING_FIELDS, json_out, "Online Elo")


@app.command()
def bt(
    file: Path = FileArg,
    format: str | None = FormatOpt,  # noqa: A002
    baseline: str | None = BaselineOpt,
    bootstrap: int = BootOpt,
    seed: int = SeedOpt,
    style_control: bool = StyleOpt,
    json_out: bool = JsonOpt,
    where: list[str] = WhereOpt,
    fastchat: bool = typer.Option(
        False, "--fastchat", help="FastChat's compute_mle_elo numbers (its ridge, llama-13b at 800)"
    ),
) -> None:
    """Bradley-Terry ratings (Elo scale; --baseline is pinned at 1000, else the mean)."""
    battles = _rated(_load(file, format, where, features=style_control))
    if fastchat:
        if style_control:
            raise typer.BadParameter("--fastchat and --style-control do not combine")
        df = _fastchat_table(battles, bootstrap, seed)
        df.attrs["notes"] = battles.attrs.get("notes", [])
        _emit(df, RATING_FIELDS, json_out, "Bradley-Terry (FastChat compute_mle_elo)")
        return
    fn = style_leaderboard if style_control else bt_leaderboard
    try:
        df = fn(battles, n_bootstrap=bootstrap, seed=seed, anchor=baseline)
    except (ValueError, KeyError) as e:
        raise typer.BadParameter(str(e)) from e
    title = "Bradley-Terry" + (" (style controlled)" if style_control else "")
    df = df.set_index("model")
    df.attrs["notes"] = battles.attrs.get("notes", [])
    _emit(df, RATING_FIELDS, json_out, title)


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


def _winrates(
    file: Path,
    fmt: str | None,
    baseline: str | None,
    need_lc: bool,
    where: list[str] | None = None,
    glm: str = "length_controlled_v1",
    gamed: Path | None = None,
    difficulty: Path | None = None,
) -> pd.DataFrame:
    battles = _load(file, fmt, where)
    base = _baseline(battles, baseline)
    has_len = {"len_a", "len_b"} <= set(battles.columns)
    if need_lc and not has_len:
        raise typer.BadParameter("length control needs len_a/len_b (or an AlpacaEval file)")
    try:
        if has_len:
            df = length_controlled_win_rate(
                battles, base, glm=glm, inputs=load_lc_inputs(gamed, difficulty)
            )
            df.attrs["notes"] = [f"LC approximated: {n}" for n in df.attrs.get("notes", [])]
            return df
        return win_rate_vs_baseline(_rated(battles), base).assign(
            length_controlled_winrate=float("nan")
        )
    except (KeyError, ValueError) as e:
        raise typer.BadParameter(str(e)) from e


@app.command()
def winrate(
    file: Path = FileArg,
    format: str | None = FormatOpt,  # noqa: A002
    baseline: str | None = BaselineOpt,
    bootstrap: int = BootOpt,
    seed: int = SeedOpt,
    style_control: bool = StyleOpt,
    json_out: bool = JsonOpt,
    where: list[str] = WhereOpt,
) -> None:
    """Win rate against a baseline (AlpacaEval definitions, 0-100)."""
    df = _winrates(file, format, baseline, need_lc=False, where=where)
    _emit(df.sort_values("win_rate", ascending=False), WINRATE_FIELDS, json_out, "Win rate")


@app.command()
def lc(
    file: Path = FileArg,
    format: str | None = FormatOpt,  # noqa: A002
    baseline: str | None = BaselineOpt,
    bootstrap: int = BootOpt,
    seed: int = SeedOpt,
    style_control: bool = StyleOpt,
    json_out: bool = JsonOpt,
    where: list[str] = WhereOpt,
    gamed: Path | None = GamedOpt,
    difficulty: Path | None = DifficultyOpt,
    glm: str = GlmOpt,
) -> None:
    """Length-controlled win rate against a baseline (alpaca_eval 0.6.6's GLM, 0-100)."""
    df = _winrates(
        file,
        format,
        baseline,
        need_lc=True,
        where=where,
        glm=glm,
        gamed=gamed,
        difficulty=difficulty,
    )
    _emit(df, (*WINRATE_FIELDS, "lc_standard_error"), json_out, "Length-controlled win rate")


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


@app.command("arena-hard")
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


@app.command("mt-bench")
def mt_bench(
    file: Path = FileArg,
    baseline: str | None = BaselineOpt,
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
