# Two commands: `make run` and `make test`. Both start from a fresh clone with
# only Python 3.11+ and make: the virtual environment is built from uv.lock.
PYTHON ?= python3
VENV := .venv
BOOT := .data/bootstrap
UV := $(BOOT)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint install clean bench

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet --disable-pip-version-check "uv>=0.8,<0.14"

$(VENV)/.installed: $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tuopin dev

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(VENV)/bin/python bench/registry_reads.py

clean:
	rm -rf $(VENV) $(BOOT)
