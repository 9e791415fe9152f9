# Set-up is part of every target, so a fresh machine needs nothing but these commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test lint bench sample chromium postgres clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## run: the dashboard on the sample data (loaded on first run)
run: $(STAMP)
	$(BIN)/python -m data_access ensure-loaded sample_data
	$(BIN)/streamlit run dashboard/app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

## test: lint, type checks and the whole test suite (PostgreSQL and browser tests included)
test: $(STAMP) chromium postgres lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

chromium:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
		echo "Starting the local PostgreSQL cluster"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; }

## bench: the scale benchmark; writes benchmarks/results.md
bench: $(STAMP) chromium postgres
	$(BIN)/python -m benchmarks.run

## sample: regenerate the shipped sample files
sample: $(STAMP)
	$(BIN)/python -m sample_data.generate --out sample_data

clean:
	rm -rf $(VENV) data test-output benchmarks/work
