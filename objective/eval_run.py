"""One `arena eval` run: its directory, logs, progress bars, checks and per-dataset results.

Laid out like `arena run` (and OpenCompass): `<work-dir>/<timestamp>/{configs,logs,predictions,
results,summary}/` plus the run's SQLite store; `--reuse` continues the latest (or a named)
run. Model calls go through the global content-hash cache (`$ARENA_CACHE_DIR`), so a new
work dir never pays for a call made before.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from arena.core.cache import Cache
from arena.core.errors import ArenaError, BackendError, ConfigError
from arena.core.records import DatasetResult
from arena.core.store import Store

log = logging.getLogger("arena.eval")
SUBDIRS = ("configs", "logs", "predictions", "results", "summary")


def check_unique(specs: Sequence[Any], datasets: Sequence[Any]) -> None:
    """Two models or two datasets of one name would overwrite each other's predictions."""
    for what, names, hint in (
        ("models", [s.label for s in specs], "give each its own abbr (or --hf-abbr)"),
        ("datasets", [d.name for d in datasets], "rename one card or file"),
    ):
        dupes = sorted(n for n, c in Counter(names).items() if c > 1)
        if dupes:
            raise ConfigError(
                f"two {what} are named '{dupes[0]}': their predictions would overwrite "
                f"each other; {hint}",
                field=what,
            )


def resolve_run_dir(work_dir: str | Path, reuse: str | None) -> Path:
    """`<work_dir>/<timestamp>`; with reuse, the latest (or the named) existing run."""
    base = Path(work_dir)
    if reuse and reuse != "latest":
        path = base / reuse
        if not path.is_dir():
            raise ConfigError(f"--reuse {reuse}: no run directory {path}")
        return path
    if reuse:
        runs = (
            sorted(p for p in base.glob("*") if (p / "arena.sqlite").exists())
            if base.is_dir()
            else []
        )
        if runs:
            return runs[-1]
    path = base / datetime.now().strftime("%Y%m%d_%H%M%S")
    while path.exists():  # two runs in the same second
        time.sleep(1)
        path = base / datetime.now().strftime("%Y%m%d_%H%M%S")
    return path


def load_model(spec: Any, cache: Cache) -> Any:
    """Build a backend; an unloadable model is one line naming its path, not a traceback."""
    from arena.models.factory import build_model

    where = spec.path or spec.base_url or spec.model or spec.name
    try:
        return build_model(spec, cache=cache)
    except ArenaError:
        raise
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... per case
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise BackendError(f"cannot load model '{spec.label}' from {where}: {first}") from exc


class EvalRun:
    """The run directory, store, global cache, log file and progress display of one eval."""

    def __init__(
        self,
        work_dir: str | Path,
        reuse: str | None = None,
        debug: bool = False,
        console: Console | None = None,
    ) -> None:
        self.dir = resolve_run_dir(work_dir, reuse)
        for sub in SUBDIRS:
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.debug = debug
        self.console = console or Console(stderr=True)
        self.store = Store(self.dir / "arena.sqlite")
        self.cache = Cache()  # global: a new work dir never pays for a call twice
        self.tokens = 0
        self.truncated: dict[str, int] = {}
        self._handler = logging.FileHandler(self.dir / "logs" / "eval.log", encoding="utf-8")
        self._handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root = logging.getLogger()
        root.addHandler(self._handler)
        self._old_level = root.level
        root.setLevel(logging.DEBUG if debug else logging.INFO)
        for noisy in ("httpx", "httpcore", "openai", "urllib3", "filelock"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._stderr: logging.Handler | None = None
        if debug:
            self._stderr = logging.StreamHandler()
            root.addHandler(self._stderr)
        log.info("run directory %s, model-call cache %s", self.dir, self.cache.store.url)

    def write_config(self, args: dict[str, Any], specs: Sequence[Any], config: Any) -> None:
        """configs/<timestamp>.json: the flags, the model specs and the eval settings."""
        models = [
            s.model_dump(mode="json", exclude={"api_key"}) for s in specs
        ]  # keys never land in a file
        data = {"args": args, "models": models, "eval": config.model_dump(mode="json")}
        name = datetime.now().strftime("%Y%m%d_%H%M%S")
        (self.dir / "configs" / f"{name}.json").write_text(
            json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
        )

    @contextmanager
    def bars(self) -> Iterator[Any]:
        """Rich progress bars with counts and ETA (always on; they go to stderr)."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
        ) as bar:
            yield bar

    def evaluate(
        self, specs: Sequence[Any], datasets: Sequence[Any], config: Any
    ) -> list[DatasetResult]:
        """Every model on every dataset, one after another; results/<model>/<dataset>.json."""
        from objective.runner import InferStats, evaluate_dataset

        results: list[DatasetResult] = []
        h0, m0 = self.cache.hits, self.cache.misses
        with self.bars() as bar:
            for spec in specs:
                t0 = time.perf_counter()
                with self.console.status(f"loading {spec.label}..."):
                    if getattr(self, "lazy", False):  # workers stored the predictions (--num-gpus)
                        from arena.models.factory import LazyModel

                        model = LazyModel(spec, cache=self.cache)
                    else:
                        model = load_model(spec, self.cache)
                log.info(
                    "model %s (%s) loaded in %.1f s",
                    spec.label,
                    model.identity,
                    time.perf_counter() - t0,
                )
                cfg = config.model_copy(update=spec_settings(spec, config))
                for ds in datasets:
                    n = len(ds.limited(cfg.limit))
                    task = bar.add_task(f"{spec.label} / {ds.name}", total=n)
                    stats = InferStats()
                    robust = getattr(self, "robust", None)  # --circular / --variants (objective.robustness)
                    run_one = evaluate_dataset
                    if robust is not None and robust.active(ds):
                        from functools import partial

                        from objective.robustness import evaluate_robust

                        run_one = partial(evaluate_robust, options=robust)
                    rows = run_one(
                        model,
                        ds,
                        work_dir=self.dir,
                        store=self.store,
                        config=cfg,
                        cache=self.cache,
                        progress=lambda done, total, t=task: bar.update(
                            t, completed=done, total=total
                        ),
                        stats=stats,
                    )
                    bar.update(task, completed=n)
                    self._after_dataset(spec, ds, model, rows, stats, bar)
                    results += rows
                del model
        log.info(
            "model calls: %d, served by the cache: %d; tokens fed: %d",
            self.cache.misses - m0,
            self.cache.hits - h0,
            self.tokens,
        )
        return results

    def _after_dataset(
        self, spec: Any, ds: Any, model: Any, rows: list[DatasetResult], stats: Any, bar: Any
    ) -> None:
        self.tokens += stats.tokens
        out = self.dir / "results" / _safe(spec.label) / f"{ds.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps([r.model_dump(mode="json") for r in rows], indent=1, ensure_ascii=False),
            encoding="utf-8",
        )
        main = next((r for r in rows if r.subset is None), None)
        log.info(
            "%s / %s: %s = %.2f (n=%d, %d prompts run, %d tokens)",
            spec.label,
            ds.name,
            main.metric if main else "-",
            main.value if main else float("nan"),
            main.n if main else 0,
            stats.prompts,
            stats.tokens,
        )
        if stats.truncated:
            self.truncated[f"{spec.label}/{ds.name}"] = stats.truncated
            msg = (
                f"{spec.label} / {ds.name}: {stats.truncated} of {stats.prompts} prompts were longer "
                f"than max_seq_len={getattr(model, 'max_seq_len', '?')} and lost up to {stats.max_cut} "
                f"tokens on the left (the predictions file shows what the model saw); "
                f"raise --max-seq-len"
            )
            log.warning(msg)
            bar.console.print(f"[yellow]warning:[/yellow] {msg}", soft_wrap=True, highlight=False)

    def calls(self) -> dict[str, int]:
        return {"calls": self.cache.misses, "cached": self.cache.hits}

    def close(self) -> None:
        root = logging.getLogger()
        for h in (self._handler, self._stderr):
            if h is not None:
                root.removeHandler(h)
                h.close()
        root.setLevel(self._old_level)
        self.store.close()


def spec_settings(spec: Any, config: Any) -> dict[str, Any]:
    """What a model spec says about evaluation (OpenCompass keeps these in the model config):
    gen temperature, max_out_len (when given) and, for local models, a meta template.
    Settings given on the command line win."""
    out: dict[str, Any] = {}
    if "temperature" not in config.model_fields_set and getattr(spec, "temperature", None) is not None:
        out["temperature"] = spec.temperature
    if config.max_out_len is None and "max_out_len" in spec.model_fields_set:
        out["max_out_len"] = spec.max_out_len
    # an API model's meta template only maps roles (api_role): its chat format is the server's
    if config.meta_template is None and spec.meta_template is not None and spec.backend == "hf":
        from objective.templates import MetaTemplate

        mt = spec.meta_template  # OpenCompass's form also has generate/api_role/eos_token_id keys
        rounds = [{k: r[k] for k in ("role", "begin", "end") if k in r} for r in mt.get("round", [])]
        out["meta_template"] = MetaTemplate.model_validate({"round": rounds})
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
