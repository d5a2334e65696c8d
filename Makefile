# Two commands: `make run` and `make test`. Both start from a fresh clone with
# only Python 3.11+ and make: the virtual environment is built from uv.lock.
# The embedded PostgreSQL (pgserver) has wheels for CPython 3.11 and 3.12: prefer
# those; with only a newer Python, uv provides a 3.12 for the virtual environment.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { command -v $$p; exit; }; done; command -v python3)
VENV_PYTHON ?= $(shell $(PYTHON) -c 'import sys; print(sys.executable if sys.version_info[:2] <= (3, 12) else "3.12")')
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
	$(UV) sync --frozen --python $(VENV_PYTHON)
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tuopin dev

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmarks drive load with wrk (Debian/Ubuntu: apt-get install wrk).
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq wrk; } || { echo "install wrk first"; exit 1; }
	$(VENV)/bin/python bench/registry_reads.py
	$(VENV)/bin/python bench/registry_feed.py
	$(VENV)/bin/python bench/registry_import.py
	$(VENV)/bin/python bench/registry_export.py
	$(VENV)/bin/python bench/monitoring_snapshot.py
	$(VENV)/bin/python bench/benefits_runs.py
	$(VENV)/bin/python bench/medical_settlements.py

clean:
	rm -rf $(VENV) $(BOOT)
