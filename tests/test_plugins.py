"""Plugins: one Registry (decorator + entry points); a package installed beside Arena adds a
backend, a dataset and a metric that `arena list` shows and `arena eval` uses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arena.core.errors import ConfigError, UnknownNameError
from arena.core.registry import Registry

PLUGIN_SRC = Path(__file__).parent / "plugin_pkg"
ARENA = str(Path(sys.executable).parent / "arena")
# the lookup table the test model answers from: Peru is wrong, Norway is missing
ANSWERS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Quito"}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The plugin pip-installed (a real wheel build) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("plugin")
    src, site = tmp / "src", tmp / "site"
    shutil.copytree(
        PLUGIN_SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        timeout=300,
    )
    assert list(site.glob("arena_demo_plugin-0.1.0.dist-info"))
    return site


def _env(tmp_path: Path, site: Path | None) -> dict[str, str]:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True, exist_ok=True)
    (home / "models" / "capitals.yaml").write_text(
        "name: capitals-bot\nbackend: lookup\noptions:\n  answers: " + json.dumps(ANSWERS) + "\n"
    )
    env = {**os.environ, "ARENA_HOME": str(home), "ARENA_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site) if site else "", env.get("PYTHONPATH", "")) if p
    )
    return env


def _arena(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ARENA, *args], capture_output=True, text=True, env=env, timeout=300)


def test_arena_list_shows_the_plugins_entries(plugin_site, tmp_path):
    res = _arena(_env(tmp_path, plugin_site), "list", "--json")
    assert res.returncode == 0, res.stderr
    cat = json.loads(res.stdout)
    assert "lookup" in cat["backends"] and {"hf", "openai"} <= set(cat["backends"])
    assert "capitals_plugin" in cat["datasets"] and "ceval_mini_ppl" in cat["datasets"]
    assert "contains" in cat["metrics"] and "exact_match" in cat["metrics"]
    assert "capitals-bot" in cat["models"]
    table = _arena(_env(tmp_path, plugin_site), "list", "capitals").stdout
    assert "plugin: arena_demo_plugin:capitals_card" in table and "lookup" in table


def test_arena_eval_uses_the_plugin_backend_dataset_and_metric(plugin_site, tmp_path):
    env = _env(tmp_path, plugin_site)
    res = _arena(
        env,
        "eval",
        "--models",
        "capitals-bot",
        "--datasets",
        "capitals_plugin",
        "--work-dir",
        str(tmp_path / "w"),
        "--json",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout[res.stdout.index('{\n "results"') :])
    [row] = [
        r for r in out["results"] if r["dataset"] == "capitals_plugin" and r.get("subset") is None
    ]
    # independent golden: the share of capitals whose name is in the model's table answer
    data = [
        json.loads(line)
        for line in (PLUGIN_SRC / "arena_demo_plugin" / "capitals.jsonl").read_text().splitlines()
    ]
    want = 100 * sum(ANSWERS.get(d["question"]) == d["answer"] for d in data) / len(data)
    assert row["metric"] == "contains" and row["model"] == "capitals-bot"
    assert row["value"] == pytest.approx(want) and want == 60.0


def test_without_the_plugin_the_names_are_unknown_in_one_line(tmp_path):
    env = _env(tmp_path, None)
    res = _arena(
        env,
        "eval",
        "--models",
        "capitals-bot",
        "--datasets",
        "capitals_plugin",
        "--work-dir",
        str(tmp_path / "w"),
    )
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: unknown dataset 'capitals_plugin'")
    res = _arena(
        env,
        "eval",
        "--models",
        "capitals-bot",
        "--datasets",
        "gsm8k_mini_gen",
        "--work-dir",
        str(tmp_path / "w"),
    )
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "unknown backend 'lookup' (known: hf, openai)" in res.stderr, res.stderr


def test_registry_decorator_names_and_errors(plugin_site, monkeypatch):
    reg: Registry = Registry("metric", "metrics")

    @reg.register("half")
    def half(p: str, g: str) -> float:
        return 0.5

    assert reg.get("half") is half and "half" in reg
    with pytest.raises(ConfigError, match="registered twice"):
        reg.add("half", lambda p, g: 1.0)
    with pytest.raises(UnknownNameError, match="half"):
        reg.get("halve")  # the message offers the close names
    assert "contains" not in reg
    monkeypatch.syspath_prepend(str(plugin_site))  # now the entry points are visible
    assert "contains" in reg and reg.plugins() == {"contains": "arena_demo_plugin:contains"}
    assert reg.get("contains")("Paris, France", "paris") == 1.0
    broken = Registry("dataset", "datasets")
    monkeypatch.setattr(broken, "_entry_points", lambda: {"bad": _BrokenEntryPoint()})
    with pytest.raises(
        ConfigError, match=r"dataset plugin 'bad' \(nowhere:thing\) failed to load: ImportError"
    ):
        broken.get("bad")


class _BrokenEntryPoint:
    value = "nowhere:thing"

    def load(self):
        raise ImportError("No module named 'nowhere'")
