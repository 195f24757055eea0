"""Runs INSIDE the alpaca-eval==0.6.6 venv: its own win rate and LC on AlpacaEval files.

Usage: /work/venvs/alpaca-eval/bin/python benchmarks/peers/alpaca_eval_peer.py DIR OUT.json
DIR holds ``<model>/annotations.json`` and ``df_gamed.csv``. alpaca_eval downloads
``df_gamed.csv`` from the Hugging Face hub; here ``hf_hub_download`` is patched to return the
local file (the only change), so the GLM sees exactly the auxiliary inputs we give ours.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import alpaca_eval.metrics.glm_winrate as glm


def main(folder: Path, out: Path) -> None:
    glm.hf_hub_download = lambda *a, filename, **k: str(folder / filename)  # noqa: ARG005
    result: dict[str, dict] = {}
    for glm_name in ("length_controlled_v1", "length_controlled_noreg"):
        for f in sorted(folder.glob("*/annotations.json")):
            rows = json.loads(f.read_text(encoding="utf-8"))
            m = glm.get_length_controlled_winrate(
                rows, glm_name=glm_name, save_weights_dir=None, is_warn_extreme_changes=False
            )
            result.setdefault(glm_name, {})[f.parent.name] = {k: float(v) for k, v in m.items()}
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
