# Two commands: `make run` (set up, train the default model if none, serve) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS ?= models
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup model run test lint clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and pinned: pip then takes the CPU wheel on disk instead of a multi-GB CUDA build.
	$(BIN)/pip install --disable-pip-version-check -q "torch==2.13.0"
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# Trains on data/ only when models/ has no current model; `python -m training.fit` retrains on purpose.
model: setup
	@if [ -e $(MODELS)/current/metadata.json ]; then echo "using $(MODELS)/current -> $$(readlink $(MODELS)/current)"; \
	else HF_HUB_OFFLINE=1 $(BIN)/python -m training.fit --out $(MODELS); fi

run: model
	HF_HUB_OFFLINE=1 $(BIN)/python -m serve --host $(HOST) --port $(PORT) --model-dir $(MODELS)/current

# The report browser test (tests/test_report_browser.py) needs Debian's chromium. Installed here when
# missing and we are root (as in CI); otherwise that test skips and says how to install it.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the report browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "could not install chromium: tests/test_report_browser.py will skip"; \
	fi

test: setup chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check model training serve tests bench
	$(BIN)/ruff format --check model training serve tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
