"""``arena ratings ...``: leaderboards from a battles file (mounted by ``arena.cli``).

Commands ``elo``, ``bt``, ``winrate``, ``lc`` take ``FILE [--format ...] [--baseline MODEL]
[--bootstrap B] [--seed S] [--style-control] [--json]``. ``--json`` prints
``{"models": {name: {...}}}`` (NaN as ``null``; ``lower``/``upper`` are ``null`` without
bootstrap). ``--bootstrap``/``--seed`` do not apply to ``winrate``/``lc`` (AlpacaEval reports a
standard error instead) and ``--style-control`` applies to ``bt`` only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import typer

from .bootstrap import bt_leaderboard
from .cli_output import _emit
from .cli_upstream import _fastchat_table, register_upstream
from .elo import elo_leaderboard
from .io import FORMATS, BattleFormatError, filter_battles, load_battles
from .length_control import GLMS, length_controlled_win_rate, load_lc_inputs
from .style import style_leaderboard
from .winrate import WINRATE_COLUMNS, win_rate_vs_baseline

app = typer.Typer(help="Ratings from battles: online Elo, Bradley-Terry with CIs, win rates, LC.")

FileArg = typer.Argument(
    ..., dir_okay=False, help="battles file (JSON/JSONL), an Arena store (.sqlite) or a store URL"
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


def _is_store(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _store_url(path: Path) -> str | None:
    """A database URL given as FILE (`postgresql://...`; Path folded its '//'), else None."""
    m = re.match(r"^([a-z][a-z0-9+]*):/+(.*)$", str(path))
    return f"{m.group(1)}://{m.group(2)}" if m and m.group(1) not in ("file",) else None


def _from_store(path: Path | str, features: bool, where: list[str] | None = None) -> pd.DataFrame:
    """The Battle records of an Arena store (SQLite file), read column by column: only the
    columns the command needs (a million battles are read in about a second)."""
    from arena.core.records import Battle
    from arena.core.store import Store
    from arena.core.store_frame import BATTLE_COLUMNS, battles_frame

    cols = ["model_a", "model_b", "winner", "weight"]
    cols += [c for c in BATTLE_COLUMNS if features and c not in cols]  # win rates, LC: all of them
    cols += [c for c in (w.split("=", 1)[0] for w in where or []) if c in Battle.model_fields and c not in cols]
    store = Store(path)
    try:
        df = battles_frame(store, features=features, columns=cols)
    finally:
        store.close()
    if df.empty:
        raise BattleFormatError(f"{path}: the store holds no battles")
    return df


def _load(
    path: Path, fmt: str | None, where: list[str] | None = None, features: bool = True
) -> pd.DataFrame:
    try:
        url = _store_url(path)
        if url is None and not path.is_file():
            raise typer.BadParameter(f"{path} does not exist", param_hint="FILE")
        store = url is not None or fmt == "store" or (fmt is None and _is_store(path))
        df = _from_store(url or path, features, where) if store else load_battles(path, fmt)
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


register_upstream(app)
