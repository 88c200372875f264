# The README's two commands: `make run` (set up, then open napari with the sample and the docks)
# and `make test` (set up, then the whole suite headless). Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean-venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "napari-seeinggan needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml setup.py napari.yaml constraints-cpu.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The pinned CPU torch, unless a torch is already in the venv (a GPU build the user chose).
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install --quiet -c constraints-cpu.txt torch
	@# setup.py copies the root napari.yaml into napari_seeinggan/ (git-ignored) for napari to find.
	$(BIN)/python -m pip install --quiet -e '.[qt,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "No display found: napari needs a screen. Headless, use the command line (.venv/bin/seeinggan deblur IN.fits -o OUTDIR) or a virtual screen (xvfb-run -a make run)."; \
	  exit 1; fi
	$(BIN)/python -m napari_seeinggan

# Linters (configured in pyproject.toml); `make test` runs them first, so CI does too.
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

test: lint
	@if ! command -v Xvfb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libegl1 libgl1 >/dev/null) || exit 1; \
	  else \
	    echo "Headless tests need Xvfb: sudo apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0, then run make test again."; exit 1; \
	  fi; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
