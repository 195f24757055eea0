"""Compare our per-option NLLs with lm-eval's --log_samples output; print accuracies and times.

Usage: compare_lm_eval.py OURS.json LMEVAL_SAMPLES.jsonl OURS_SECONDS LMEVAL_SECONDS
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    ours_path, samples_path, t_ours, t_lm = sys.argv[1:5]
    ours = json.loads(open(ours_path).read())
    rows = sorted((json.loads(line) for line in open(samples_path)), key=lambda r: r["doc_id"])
    lm_ll = [[float(r[0][0]) if isinstance(r[0], list) else float(r[0]) for r in row["resps"]] for row in rows]
    lm_acc = 100.0 * sum(row["acc"] for row in rows) / len(rows)
    diff = max(abs(-a - b) for x, y in zip(ours["nll"], lm_ll) for a, b in zip(x, y))
    t_ours, t_lm = float(t_ours), float(t_lm)
    print(f"questions: {len(rows)} (ours {len(ours['nll'])})")
    same = sum(min(range(len(x)), key=x.__getitem__) == max(range(len(y)), key=y.__getitem__)
               for x, y in zip(ours["nll"], lm_ll))
    print(f"accuracy: arena {ours['acc']:.1f}%   lm-eval {lm_acc:.1f}%   same answer on {same}/{len(rows)}")
    print(f"max |loglik arena - lm-eval| per option: {diff:.2e}")
    print(f"wall time (process, incl. model load): arena {t_ours:.1f} s   lm-eval {t_lm:.1f} s   "
          f"speed-up x{t_lm / t_ours:.1f}")


if __name__ == "__main__":
    main()
