#!/usr/bin/env bash
# Peer benchmark: lm-evaluation-harness on the same multiple-choice data and model folder.
# Usage: benchmarks/peers/lm_eval.sh [N_QUESTIONS]   (default 40)
# Sets up lm-eval 0.4.13 in its own venv (LM_EVAL_VENV, default /work/venvs/lm-eval; plain
# PyPI), exports lm-eval-style prompts (objective_ppl.py --lm-eval-prompts --export:
# "Question: ...\nAnswer:" + " " + option text, a few-shot preamble drawn per question, so no
# prefix is shared across questions), runs both offline, compares accuracies, per-option
# log-likelihoods (lm-eval --log_samples) and whole-process wall times (model load included).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
N="${1:-40}"
THREADS="${THREADS:-}"   # e.g. THREADS=1 on a busy machine: both tools get the same number
if [ -n "$THREADS" ]; then export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"; fi
VENV="${LM_EVAL_VENV:-/work/venvs/lm-eval}"
PY="$ROOT/.venv/bin/python"
if [ ! -x "$VENV/bin/lm_eval" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0   # first, or lm-eval pulls another torch
  "$VENV/bin/pip" install -q 'lm-eval[hf]==0.4.13'
fi
WORK="$(mktemp -d /tmp/arena-lmeval.XXXXXX)"
MODEL="$("$PY" -c 'from arena.models.bundled import ensure_smollm2; print(ensure_smollm2())')"
"$PY" "$ROOT/benchmarks/objective_ppl.py" --n "$N" --lm-eval-prompts --export "$WORK/data.jsonl" >/dev/null
mkdir -p "$WORK/task"
cat > "$WORK/task/arena_mc.yaml" <<YAML
task: arena_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: $WORK/data.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: prompt
doc_to_choice: choices
doc_to_target: gold
target_delimiter: " "
metric_list:
  - metric: acc
YAML
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
export HF_DATASETS_CACHE="$WORK/hf-datasets-cache"   # fresh: it caches local JSON by path+mtime
start=$(date +%s.%N)
"$VENV/bin/lm_eval" --model hf --model_args "pretrained=$MODEL,dtype=float32" --device cpu \
  --tasks arena_mc --include_path "$WORK/task" --batch_size 4 \
  --output_path "$WORK/out" --log_samples > "$WORK/lm_eval.log" 2>&1 || { tail -30 "$WORK/lm_eval.log"; exit 1; }
end=$(date +%s.%N)
LM_SECONDS=$(echo "$end - $start" | bc)
start=$(date +%s.%N)
"$PY" "$ROOT/benchmarks/objective_ppl.py" --n "$N" ${THREADS:+--threads "$THREADS"} --lm-eval-prompts --dump "$WORK/ours.json" >/dev/null
end=$(date +%s.%N)
OURS_SECONDS=$(echo "$end - $start" | bc)
SAMPLES="$(find "$WORK/out" -name 'samples_arena_mc*.jsonl' | head -1)"
"$PY" "$ROOT/benchmarks/peers/compare_lm_eval.py" "$WORK/ours.json" "$SAMPLES" "$OURS_SECONDS" "$LM_SECONDS"
echo "work dir: $WORK"
