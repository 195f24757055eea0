"""Runs INSIDE the fschat==0.2.36 venv: FastChat's own numbers on FastChat files.

Usage: /work/venvs/fschat/bin/python benchmarks/peers/fschat_peer.py DIR OUT.json
DIR holds ``battles.json`` and ``model_judgment/gpt-4_{single,pair}.jsonl``. Computes
``compute_elo_mle_with_tie`` (FastChat's BT, later renamed ``compute_mle_elo``) on all battles
and on the anonymous ones, online ``compute_elo``, and the tables ``llm_judge/show_result.py``
prints (its ``print`` is captured to get the DataFrames).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from fastchat.llm_judge import show_result
from fastchat.serve.monitor.elo_analysis import compute_elo, compute_elo_mle_with_tie


def _tables(fn, path: Path, **kw) -> list[pd.DataFrame]:
    got: list = []
    show_result.print = lambda *a, **k: got.extend(x for x in a if isinstance(x, pd.DataFrame))
    fn(
        argparse.Namespace(
            input_file=str(path),
            bench_name="mt_bench",
            model_list=None,
            judge_model="gpt-4",
            baseline_model=kw.get("baseline"),
        )
    )
    return got


def main(folder: Path, out: Path) -> None:
    battles = pd.DataFrame(json.loads((folder / "battles.json").read_text()))
    anony = battles[battles["anony"]].reset_index(drop=True)
    single = _tables(
        show_result.display_result_single, folder / "model_judgment/gpt-4_single.jsonl"
    )
    pair = _tables(show_result.display_result_pairwise, folder / "model_judgment/gpt-4_pair.jsonl")
    res = {
        "bt_all": compute_elo_mle_with_tie(battles).to_dict(),
        "bt_anony": compute_elo_mle_with_tie(anony).to_dict(),
        "elo_online": compute_elo(battles),
        "mt_single": {
            name: {
                "|".join(map(str, k)) if isinstance(k, tuple) else k: v
                for k, v in t["score"].to_dict().items()
            }
            for name, t in zip(("turn1", "turn2", "average"), single)
        },
        "mt_pair": pair[0].to_dict(orient="index"),
    }
    out.write_text(
        json.dumps(res, indent=1, sort_keys=True, default=float) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
