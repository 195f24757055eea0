"""Benchmark: Arena's objective path against an lm-eval-style reference, on the same token ids.

ppl: 4-option questions (benchmarks/mcq_synth.py) in two workloads, each question with its own
few-shot preamble, and one preamble shared by every question. The reference is lm-eval's
way: length-sorted batches of 32, one full forward per (context + option), right padding.
Ours: `arena.models.prefix.score_groups` with its automatic choice, plus both scorers
forced: packed (block mask, the default on GPUs) and staged (a forward per question). Printed: seconds, speed-up, argmin agreement and max |NLL difference|
against the reference, and (fp32) against a naive forward per option.

gen: tokens/s at batch 1, at batch 32 with a dynamic cache (Arena before this change), with
Arena's own plan (batch size auto; static KV cache + compiled decoding on a GPU when the
workload pays for it, compile time included) and with transformers' continuous batching
(`generate_batch`).

    .venv/bin/python benchmarks/objective_gpu.py                      # CPU: SmolLM2-135M, small sizes
    python benchmarks/objective_gpu.py --device cuda                  # GPU: random Llama, SmolLM2-1.7B shape
    ... --model DIR --n 400 --batch-size 64 --gen-prompts 256 --gen-tokens 128 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.mcq_synth import make  # noqa: E402

SHAPE_17B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                 num_key_value_heads=32, head_dim=64)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def build_random(tok_dir: Path, out: Path, device: str, dtype: str) -> Path:
    """A random-weight Llama in SmolLM2-1.7B shape with SmolLM2's tokenizer (what the probes used)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    cfg = json.loads((tok_dir / "config.json").read_text())
    cfg.pop("_model_name_or_path", None)
    cfg.update(SHAPE_17B)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(LlamaConfig(**cfg), dtype=getattr(torch, dtype))
    model.save_pretrained(out)
    for f in tok_dir.iterdir():
        if f.is_file() and f.name != "config.json" and not f.name.endswith((".safetensors", ".bin", ".gguf")):
            (out / f.name).write_bytes(f.read_bytes())
    del model
    return out


def load(args: argparse.Namespace) -> Any:
    from arena.models.bundled import ensure_smollm2
    from arena.models.hf import HFModel

    path = Path(args.model) if args.model else None
    if path is None:
        small = ensure_smollm2()
        if args.device == "cpu":
            path = small
        else:
            path = build_random(small, Path(tempfile.mkdtemp(prefix="arena-1.7b-")), args.device, args.dtype)
    return HFModel(path, device=args.device, dtype=args.dtype, max_seq_len=args.max_seq_len,
                   batch_size=args.batch_size)


def reference(model: Any, groups: list, device: str, bs: int = 32) -> tuple[list[list[float]], int]:
    """lm-eval style: one full forward per (context, option), length-sorted, right-padded."""
    pairs = [(c, o) for c, opts in groups for o in opts]
    order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    res = [0.0] * len(pairs)
    tokens = 0
    with torch.inference_mode():
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            seqs = [pairs[i][0] + pairs[i][1][:-1] for i in idx]
            width = max(map(len, seqs))
            ids = torch.zeros(len(seqs), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for j, x in enumerate(seqs):
                ids[j, :len(x)] = torch.tensor(x)
                mask[j, :len(x)] = 1
                tokens += len(x)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for j, i in enumerate(idx):
                c, o = pairs[i]
                lp = torch.log_softmax(logits[j, len(c) - 1:len(c) - 1 + len(o)].float(), -1)
                res[i] = -lp.gather(1, torch.tensor(o, device=lp.device)[:, None]).sum().item()
    it = iter(res)
    return [[next(it) for _ in opts] for _, opts in groups], tokens


def compare(a: list[list[float]], b: list[list[float]]) -> tuple[float, int]:
    diff = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    agree = sum(min(range(len(x)), key=x.__getitem__) == min(range(len(y)), key=y.__getitem__) for x, y in zip(a, b))
    return diff, agree


def timed(device: str, fn: Any, *a: Any, **k: Any) -> tuple[Any, float]:
    sync(device)
    t = time.perf_counter()
    out = fn(*a, **k)
    sync(device)
    return out, time.perf_counter() - t


def ppl_workload(m: Any, args: argparse.Namespace, name: str, rows: list[dict]) -> dict:
    from arena.models.prefix import naive_nll, score_groups, select_scorer, truncate_group

    items = [(r["question"], [" " + c for c in r["choices"]]) for r in rows]
    groups = [(m.token_ids(c, "")[0], [m.token_ids(c, o)[1] for o in opts]) for c, opts in items]
    groups = [(truncate_group(c, o, m.max_seq_len), o) for c, o in groups]
    dev, net = args.device, m.model
    score_groups(net, groups[:4], m.max_seq_len, 4)  # warm-up (kernels, allocator)
    reference(net, groups[:4], dev)
    (ref, ref_tokens), t_ref = timed(dev, reference, net, groups, dev)
    bs = "auto" if args.batch_size == "auto" else int(args.batch_size)
    chosen = type(select_scorer(net, m.max_seq_len, 8, "auto", groups)).__name__
    runs = {}
    for mode in ("packed", "staged"):
        res, t = timed(dev, score_groups, net, groups, m.max_seq_len, bs, mode)
        runs[mode] = ([[r.nll for r in g] for g in res], t)
    (ours, t_ours) = runs["packed" if chosen == "PackedScorer" else "staged"]
    (packed, t_packed), (staged, t_staged) = runs["packed"], runs["staged"]
    d_ref, agree = compare(ours, ref)
    out = {"workload": name, "questions": len(groups), "auto_choice": chosen, "packed_s": t_packed,
           "packed_speedup_vs_reference": t_ref / t_packed, "max_abs_dnll_packed_vs_reference": compare(packed, ref)[0],
           "mean_context_tokens": sum(len(c) for c, _ in groups) / len(groups),
           "reference_s": t_ref, "reference_tokens": ref_tokens, "ours_s": t_ours, "staged_s": t_staged,
           "speedup_vs_reference": t_ref / t_ours, "staged_speedup_vs_reference": t_ref / t_staged,
           "max_abs_dnll_vs_reference": d_ref, "argmin_agree": agree,
           "max_abs_dnll_staged_vs_ours": compare(ours, staged)[0]}
    nparams = sum(p.numel() for p in net.parameters())
    out["reference_tflops"] = 2 * nparams * ref_tokens / t_ref / 1e12
    if str(next(net.parameters()).dtype) == "torch.float32" and args.naive_check:
        k = min(args.naive_check, len(groups))
        naive = [[r.nll for r in naive_nll(net, [(c, o) for o in opts])] for c, opts in groups[:k]]
        out["max_abs_dnll_vs_naive_fp32"] = compare(ours[:k], naive)[0]
        out["naive_checked_questions"] = k
    return out


def gen_prompts(m: Any, n: int, shots: int) -> list[str]:
    return [r["question"] for r in make(n, seed=11, shots=shots)]


def gen_run(m: Any, prompts: list[str], new: int, batch: Any, cache: str) -> tuple[int, float, list[str]]:
    from arena.models.base import GenerateRequest

    m.batch_size, m.generation_cache = batch, cache
    reqs = [GenerateRequest(p, max_new_tokens=new) for p in prompts]
    res, dt = timed(m.device, m.generate, reqs)
    return sum(r.completion_tokens for r in res), dt, [r.text for r in res]


def continuous(m: Any, prompts: list[str], new: int) -> tuple[int, float]:
    from transformers import GenerationConfig

    ids = [m.encode(p) for p in prompts]
    gc = GenerationConfig(max_new_tokens=new, do_sample=False, eos_token_id=-1,
                          pad_token_id=m.tokenizer.pad_token_id)
    out, dt = timed(m.device, lambda: m.model.generate_batch(inputs=ids, generation_config=gc))
    return sum(len(o.generated_tokens) for o in out.values()), dt


def gen_workload(m: Any, args: argparse.Namespace) -> dict:
    prompts = gen_prompts(m, args.gen_prompts, args.gen_shots)
    new = args.gen_tokens
    gen_run(m, prompts[:2], 4, 2, "dynamic")  # warm-up
    out: dict[str, Any] = {"prompts": len(prompts), "new_tokens": new}
    k = max(1, min(len(prompts), args.gen_b1_prompts))
    n1, t1, txt1 = gen_run(m, prompts[:k], new, 1, "dynamic")
    out["b1"] = {"tokens": n1, "s": t1, "tok_s": n1 / t1, "prompts": k}
    n32, t32, txt32 = gen_run(m, prompts, new, 32, "dynamic")
    out["b32_dynamic"] = {"tokens": n32, "s": t32, "tok_s": n32 / t32}
    bs = "auto" if args.gen_batch == "auto" else int(args.gen_batch)
    na, ta, txta = gen_run(m, prompts, new, bs, args.gen_cache)
    out["ours"] = {"tokens": na, "s": ta, "tok_s": na / ta, "batch": args.gen_batch, "cache": args.gen_cache,
                   "x_vs_b32": (na / ta) / (n32 / t32)}
    out["identical_b1_b32_ours"] = sum(a == b == c for a, b, c in zip(txt1, txt32, txta)), k
    try:
        nc, tc = continuous(m, prompts, new)
        out["continuous"] = {"tokens": nc, "s": tc, "tok_s": nc / tc, "x_vs_b32": (nc / tc) / (n32 / t32)}
    except Exception as exc:  # an API that changes between transformers releases
        out["continuous"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", help="model folder (default: SmolLM2-135M on CPU, a random 1.7B Llama on GPU)")
    ap.add_argument("--dtype", help="default: float32 on CPU, bfloat16 on GPU")
    ap.add_argument("--n", type=int, help="questions per ppl workload (default 24 CPU, 400 GPU)")
    ap.add_argument("--shots", type=int, default=5, help="worked examples in each own preamble")
    ap.add_argument("--shared-shots", type=int, default=16, help="worked examples in the shared preamble")
    ap.add_argument("--batch-size", default=None, help="questions per forward (default 8 CPU, 64 GPU) or auto")
    ap.add_argument("--max-seq-len", type=int, default=4096)
    ap.add_argument("--naive-check", type=int, default=6, help="fp32: questions checked against a naive forward")
    ap.add_argument("--gen-prompts", type=int, help="default 8 CPU, 256 GPU")
    ap.add_argument("--gen-tokens", type=int, help="default 16 CPU, 128 GPU")
    ap.add_argument("--gen-shots", type=int, default=5)
    ap.add_argument("--gen-b1-prompts", type=int, default=8, help="prompts timed at batch 1")
    ap.add_argument("--gen-batch", default="auto")
    ap.add_argument("--gen-cache", default="auto", choices=["auto", "static", "dynamic"])
    ap.add_argument("--skip", nargs="*", default=[], choices=["own", "shared", "gen"])
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    gpu = args.device.startswith("cuda")
    args.dtype = args.dtype or ("bfloat16" if gpu else "float32")
    args.n = args.n or (400 if gpu else 24)
    args.batch_size = args.batch_size or ("64" if gpu else "8")
    args.gen_prompts = args.gen_prompts or (256 if gpu else 8)
    args.gen_tokens = args.gen_tokens or (128 if gpu else 16)
    if args.threads:
        torch.set_num_threads(args.threads)
    m = load(args)
    dev_name = torch.cuda.get_device_name(0) if gpu else f"CPU ({torch.get_num_threads()} threads)"
    report: dict[str, Any] = {"device": dev_name, "torch": torch.__version__, "model": m.path,
                              "dtype": str(next(m.model.parameters()).dtype),
                              "params": sum(p.numel() for p in m.model.parameters())}
    print(f"{dev_name}; {report['params'] / 1e6:.0f}M params {report['dtype']}; torch {torch.__version__}",
          flush=True)
    work = [("own", "own preamble per question", make(args.n, seed=7, shots=args.shots)),
            ("shared", "one shared preamble", make(args.n, seed=7, shots=args.shared_shots, same_shots=True))]
    for key, label, rows in work:
        if key in args.skip:
            continue
        try:
            r = ppl_workload(m, args, label, rows)
        except Exception:
            traceback.print_exc()
            continue
        report[f"ppl_{key}"] = r
        print(f"\nppl [{label}] {r['questions']} q x 4, mean context {r['mean_context_tokens']:.0f} tok, "
              f"batch {args.batch_size}")
        print(f"  reference (lm-eval style) {r['reference_s']:7.2f}s ({r['reference_tokens']} tok, "
              f"{r['reference_tflops']:.2f} TFLOP/s)")
        print(f"  ours (auto: {r['auto_choice']:12s}) {r['ours_s']:7.2f}s  x{r['speedup_vs_reference']:.2f}  "
              f"argmin agree {r['argmin_agree']}/{r['questions']}  max|dNLL| {r['max_abs_dnll_vs_reference']:.2e}")
        print(f"  packed (block mask)       {r['packed_s']:7.2f}s  x{r['packed_speedup_vs_reference']:.2f}  "
              f"max|dNLL| {r['max_abs_dnll_packed_vs_reference']:.2e}")
        print(f"  staged (before)           {r['staged_s']:7.2f}s  x{r['staged_speedup_vs_reference']:.2f}")
        if "max_abs_dnll_vs_naive_fp32" in r:
            print(f"  fp32 max|NLL ours - naive forward| {r['max_abs_dnll_vs_naive_fp32']:.2e} "
                  f"({r['naive_checked_questions']} questions)")
    if "gen" not in args.skip:
        try:
            g = gen_workload(m, args)
            report["gen"] = g
            print(f"\ngen {g['prompts']} prompts x {g['new_tokens']} new tokens")
            print(f"  batch 1:              {g['b1']['tok_s']:8.1f} tok/s ({g['b1']['prompts']} prompts)")
            print(f"  batch 32, dynamic:    {g['b32_dynamic']['tok_s']:8.1f} tok/s")
            print(f"  ours ({g['ours']['batch']}, {g['ours']['cache']}): {g['ours']['tok_s']:8.1f} tok/s  "
                  f"x{g['ours']['x_vs_b32']:.2f} vs batch 32 (compile included)")
            c = g["continuous"]
            print("  continuous batching:  " + (f"{c['tok_s']:8.1f} tok/s  x{c['x_vs_b32']:.2f}" if "tok_s" in c
                                                 else c["error"]))
            print(f"  identical text b1 = b32 = ours: {g['identical_b1_b32_ours'][0]}/{g['identical_b1_b32_ours'][1]}")
        except Exception:
            traceback.print_exc()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
