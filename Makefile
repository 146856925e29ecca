# Loyalty Guardian — `make run` to try it, `make test` to check it.
PYTHON ?= python3
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test install assets migrate lint format browser bench clean

run: install assets migrate ## Set up what is missing, offer demo data, serve on 127.0.0.1:$(PORT)
	@# A fresh database gets a demo account (and says how to log in); later runs skip this.
	@$(BIN)/flask --app app seed --if-empty
	@echo "Serving on http://127.0.0.1:$(PORT) (log in at http://127.0.0.1:$(PORT)/login)"
	@$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT)

test: install assets browser ## Lint, then the whole suite (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMPS)/python $(STAMPS)/node

$(STAMPS)/python: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	@# npm ci refuses this lockfile (it leaves out other platforms' optional Tailwind binaries);
	@# install --no-save still takes the locked versions and never rewrites the lockfile.
	npm install --no-save --no-audit --no-fund --loglevel=error
	@touch $@

assets: $(STAMPS)/node ## Build the CSS and copy htmx into static/
	@npm run --silent build >/dev/null

migrate: install ## Apply database migrations
	@$(BIN)/flask --app app db upgrade

browser: ## Real-browser tests need Debian's Chromium
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it (sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chromium"; exit 1; \
	  fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Benchmark on PostgreSQL (QUICK=1 for a small smoke run)
	@# wrk (Debian's package) drives 16 concurrent clients against gunicorn.
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  echo "wrk is missing: the throughput figures are skipped (sudo apt-get install -y wrk)"
	$(BIN)/python -m bench $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) node_modules static/dist static/vendor $(STAMPS)
