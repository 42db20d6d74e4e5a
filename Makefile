# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install the pinned stack (constraints.txt).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check -c constraints.txt
PYTEST_ARGS ?=

.PHONY: demo test venv lint notebooks clean help

help:
	@echo "make demo   - set up .venv and run the end-to-end demo (writes ./labtools-demo/)"
	@echo "make test   - set up .venv and run the whole test suite (GUI tests under Xvfb)"
	@echo "make lint   - check the import layering contract"
	@echo "make notebooks - regenerate the course's .ipynb files from their py:percent sources"
	@echo "make clean  - remove .venv and build leftovers"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "labtools needs Python >= 3.10, found " + sys.version.split()[0]'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(PIP_INSTALL) --upgrade pip setuptools wheel
	$(PIP_INSTALL) -e ".[all,dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/labtools demo

# Without a display, GUI tests run under Xvfb (Debian packages from .ci/system-deps.sh).
test: $(STAMP) lint
	@if [ -z "$$DISPLAY" ]; then \
	  bash .ci/system-deps.sh && \
	  xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest $(PYTEST_ARGS); \
	else \
	  $(PY) -m pytest $(PYTEST_ARGS); \
	fi

lint: $(STAMP)
	$(VENV)/bin/lint-imports

notebooks: $(STAMP)
	$(PY) course/build.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache labtools-demo
