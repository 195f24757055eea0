"""Our AlpacaEval win rate and LC against alpaca-eval==0.6.6 on the same files.

Usage::

    .venv/bin/python benchmarks/peers/alpaca_eval_compare.py [DIR] [--peer-venv /work/venvs/alpaca-eval]

DIR (default ``tests/golden/alpaca_eval``, made by ``make_alpaca_eval_fixtures.py``) holds
``<model>/annotations.json`` and ``df_gamed.csv``. With a peer venv (``python3 -m venv
/work/venvs/alpaca-eval && pip install /opt/wheels/torch-2.13.0+cpu-*.whl alpaca-eval==0.6.6
'setuptools<81'``) the peer is run live through ``alpaca_eval_peer.py`` (which patches only its
``hf_hub_download`` to read ``df_gamed.csv`` from DIR); otherwise the committed
``peer_alpaca_eval_0.6.6.json`` (made by that same command) is used. Prints the largest absolute
difference per GLM and exits 1 if any exceeds 1e-6.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from arena.ratings.io import load_battles  # noqa: E402
from arena.ratings.length_control import LC_COLUMNS, length_controlled_win_rate, load_lc_inputs  # noqa: E402

KEYS = tuple(LC_COLUMNS)  # every number compared with alpaca_eval's
BASELINE = "gpt4_1106_preview"


def ours(folder: Path, glm: str) -> tuple[pd.DataFrame, float]:
    """Our numbers for every model file in ``folder`` (and the seconds they took)."""
    battles = pd.concat(
        [load_battles(f, "alpaca-eval") for f in sorted(folder.glob("*/annotations.json"))],
        ignore_index=True,
    )
    t = time.perf_counter()
    df = length_controlled_win_rate(
        battles, BASELINE, glm=glm, inputs=load_lc_inputs(folder / "df_gamed.csv")
    )
    return df, time.perf_counter() - t


def peer(folder: Path, venv: Path | None) -> dict:
    """The peer's numbers: run live when its venv exists, else the committed golden file."""
    if venv and (venv / "bin/python").exists():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "peer.json"
            subprocess.run(
                [
                    str(venv / "bin/python"),
                    str(Path(__file__).with_name("alpaca_eval_peer.py")),
                    str(folder),
                    str(out),
                ],
                check=True,
                stderr=subprocess.DEVNULL,
            )
            return json.loads(out.read_text())
    return json.loads((folder / "peer_alpaca_eval_0.6.6.json").read_text())


def compare(folder: Path, venv: Path | None) -> dict[str, float]:
    """Max |ours - peer| over models and KEYS, per GLM."""
    ref = peer(folder, venv)
    out = {}
    for glm, models in ref.items():
        df, secs = ours(folder, glm)
        out[glm] = max(abs(float(df.loc[m, k]) - v[k]) for m, v in models.items() for k in KEYS)
        print(
            f"{glm}: {len(models)} models, max |ours - alpaca_eval| = {out[glm]:.3g} ({secs:.2f} s)"
        )
        for m, v in sorted(models.items()):
            print(
                f"  {m:<20} win_rate {df.loc[m, 'win_rate']:8.4f}  LC ours {df.loc[m, 'length_controlled_winrate']:.6f}"
                f"  peer {v['length_controlled_winrate']:.6f}"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", type=Path, default=ROOT / "tests/golden/alpaca_eval")
    ap.add_argument("--peer-venv", type=Path, default=Path("/work/venvs/alpaca-eval"))
    args = ap.parse_args()
    diffs = compare(args.folder, args.peer_venv)
    sys.exit(0 if max(diffs.values()) <= 1e-6 else 1)


if __name__ == "__main__":
    main()
