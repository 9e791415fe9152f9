# Set-up is part of every target, so a fresh machine needs nothing but these commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
HOST ?= 127.0.0.1
PORT ?= 8501

PYTEST_FAST := -m "not browser and not postgres and not slow and not audit"

.PHONY: run test test-fast audit lint bench sample chromium postgres clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || { \
		echo "Creating the virtual environment $(VENV) with $(PYTHON) ..."; \
		$(PYTHON) -m venv $(VENV); }
	@echo "Installing the Python packages of requirements.txt (exact versions) into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

## run: the dashboard on the sample data (loaded on first run)
run: $(STAMP)
	$(BIN)/python -m data_access ensure-loaded sample_data
	$(BIN)/streamlit run dashboard/serve.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

## test: lint, type checks and the whole test suite (PostgreSQL and browser tests included);
## CI runs this (.ci/run)
test: $(STAMP) chromium postgres lint
	$(BIN)/python -m pytest

## test-fast: the quick loop while editing: pytest only, on SQLite, without the browser,
## PostgreSQL and slow tests (they are deselected, not skipped); no lint, see `make lint`
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_FAST)

## audit: the differencing audit of docs/disclosure.md over 30 generated worlds, both engines
## (make test runs it over the whole lattice of the hand-built world and 4 generated worlds)
audit: $(STAMP) postgres
	$(BIN)/python -m pytest -m audit

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Debian's Chromium for the browser tests, installed when missing.
chromium:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian package chromium for the browser tests (apt-get; needs root or sudo) ..."; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "error: /usr/bin/chromium is missing, and installing it needs root or sudo:" \
			"run 'apt-get install chromium' as root, then make test again" >&2; exit 1; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium \
			|| { echo "error: installing Debian package chromium failed (see above)" >&2; exit 1; }; }

# The local PostgreSQL cluster on 127.0.0.1:5432 that the tests use, started when stopped;
# the tests need it, so a server that does not answer stops here.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
		version=$$(ls /etc/postgresql 2>/dev/null | head -n 1); \
		if [ -z "$$version" ]; then \
			echo "error: PostgreSQL is not installed (no /etc/postgresql); the tests need a server" \
				"on 127.0.0.1:5432 (user postgres, trust auth): install Debian package postgresql" >&2; \
			exit 1; fi; \
		echo "Starting the local PostgreSQL $$version cluster (pg_ctlcluster $$version main start) ..."; \
		pg_ctlcluster --skip-systemctl-redirect "$$version" main start; \
		for second in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
		echo "error: PostgreSQL does not answer on 127.0.0.1:5432 after starting cluster" \
			"$$version main; see /var/log/postgresql/ and README.md (Tests)" >&2; \
		exit 1; }

## bench: the scale benchmark; writes benchmarks/results.md
bench: $(STAMP) chromium postgres
	$(BIN)/python -m benchmarks.run

## sample: regenerate the shipped sample files
sample: $(STAMP)
	$(BIN)/python -m sample_data.generate --out sample_data

clean:
	rm -rf $(VENV) data test-output benchmarks/work
