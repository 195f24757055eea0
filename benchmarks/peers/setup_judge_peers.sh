#!/usr/bin/env bash
# Reference implementations for the judge/ratings parity benchmarks, each in its own venv:
#   /work/venvs/alpaca-eval  alpaca-eval==0.6.6   (benchmarks/peers/alpaca_eval_compare.py)
#   /work/venvs/fschat       fschat==0.2.36       (benchmarks/peers/fschat_compare.py)
# torch is pinned first (a CPU wheel from /opt/wheels when there is one), else an unpinned
# dependency pulls a multi-GB CUDA build. fschat's monitor imports only with --no-deps plus the
# packages listed below. Usage: benchmarks/peers/setup_judge_peers.sh [VENV_ROOT]
set -euo pipefail
ROOT="${1:-/work/venvs}"
TORCH="$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)"
TORCH="${TORCH:-torch==2.13.0}"
mkdir -p "$ROOT"
if [ ! -x "$ROOT/alpaca-eval/bin/python" ]; then
  python3 -m venv "$ROOT/alpaca-eval"
  "$ROOT/alpaca-eval/bin/pip" install -q "$TORCH"
  "$ROOT/alpaca-eval/bin/pip" install -q "torch==2.13.0" alpaca-eval==0.6.6 'setuptools<81'
fi
if [ ! -x "$ROOT/fschat/bin/python" ]; then
  python3 -m venv "$ROOT/fschat"
  "$ROOT/fschat/bin/pip" install -q --no-deps fschat==0.2.36
  "$ROOT/fschat/bin/pip" install -q "$TORCH"
  "$ROOT/fschat/bin/pip" install -q "torch==2.13.0" numpy pandas scipy scikit-learn pytz plotly psutil tqdm \
    requests transformers accelerate
fi
"$ROOT/alpaca-eval/bin/python" -c "import alpaca_eval.metrics.glm_winrate" 2>/dev/null && echo "alpaca-eval ok"
"$ROOT/fschat/bin/python" -c "import fastchat.serve.monitor.elo_analysis" && echo "fschat ok"
