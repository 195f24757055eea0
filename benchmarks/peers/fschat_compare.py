"""Our BT, online Elo and MT-Bench tables against fschat==0.2.36 on the same files.

Usage::

    .venv/bin/python benchmarks/peers/fschat_compare.py [DIR] [--peer-venv /work/venvs/fschat]

DIR (default ``tests/golden/fastchat``, made by ``make_fastchat_fixtures.py``) holds
``battles.json`` and ``model_judgment/gpt-4_{single,pair}.jsonl``. With the peer venv
(``python3 -m venv /work/venvs/fschat; pip install --no-deps fschat==0.2.36; pip install
/opt/wheels/torch-2.13.0+cpu-*.whl numpy pandas scipy scikit-learn pytz plotly psutil tqdm
requests transformers accelerate``) FastChat runs live via ``fschat_peer.py``; otherwise the
committed ``peer_fschat_0.2.36.json`` (made by that same script) is used. Exits 1 when BT
differs by more than 0.01 Elo or a table by more than 1e-9.
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

from arena.ratings.bradley_terry import fastchat_bt  # noqa: E402
from arena.ratings.elo import compute_elo  # noqa: E402
from arena.ratings.io import filter_battles, load_battles  # noqa: E402
from arena.ratings.mt_bench import mt_bench_pairwise_table, mt_bench_single_table  # noqa: E402


def peer(folder: Path, venv: Path | None) -> dict:
    if venv and (venv / "bin/python").exists():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "peer.json"
            subprocess.run(
                [
                    str(venv / "bin/python"),
                    str(Path(__file__).with_name("fschat_peer.py")),
                    str(folder),
                    str(out),
                ],
                check=True,
                stderr=subprocess.DEVNULL,
            )
            return json.loads(out.read_text())
    return json.loads((folder / "peer_fschat_0.2.36.json").read_text())


def compare(folder: Path, venv: Path | None) -> dict[str, float]:
    """Max |ours - FastChat| per quantity."""
    ref = peer(folder, venv)
    battles = load_battles(folder / "battles.json")
    out: dict[str, float] = {}
    for name, df in (("bt_all", battles), ("bt_anony", filter_battles(battles, {"anony": True}))):
        for solver in ("sklearn", "exact"):
            t = time.perf_counter()
            r = fastchat_bt(df, solver=solver)
            out[f"{name}[{solver}]"] = max(abs(r[m] - v) for m, v in ref[name].items())
            print(
                f"{name} ({solver}): {len(df)} battles, max |ours - FastChat| = "
                f"{out[f'{name}[{solver}]']:.3g} Elo ({time.perf_counter() - t:.3f} s)"
            )
    elo = compute_elo(battles)
    out["elo_online"] = max(abs(float(elo[m]) - v) for m, v in ref["elo_online"].items())
    single = pd.read_json(folder / "model_judgment/gpt-4_single.jsonl", lines=True)
    table = mt_bench_single_table(single)
    col = {"turn1": "turn_1", "turn2": "turn_2", "average": "average"}
    out["mt_single"] = max(
        abs(table.loc[k.split("|")[0], col[name]] - v)
        for name, d in ref["mt_single"].items()
        for k, v in d.items()
    )
    pair = mt_bench_pairwise_table(
        pd.read_json(folder / "model_judgment/gpt-4_pair.jsonl", lines=True)
    )
    out["mt_pair"] = max(
        abs(pair.loc[m, k] - v) for m, d in ref["mt_pair"].items() for k, v in d.items()
    )
    for k in ("elo_online", "mt_single", "mt_pair"):
        print(f"{k}: max |ours - FastChat| = {out[k]:.3g}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", type=Path, default=ROOT / "tests/golden/fastchat")
    ap.add_argument("--peer-venv", type=Path, default=Path("/work/venvs/fschat"))
    args = ap.parse_args()
    d = compare(args.folder, args.peer_venv)
    ok = all(v <= 0.01 for k, v in d.items() if k.startswith("bt_") and "[sklearn]" in k) and all(
        d[k] <= 1e-9 for k in ("mt_single", "mt_pair")
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
