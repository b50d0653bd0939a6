# Paycenter. `make run` and `make test` are the Quick start; see README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# make run: the sandbox platform and the demo's webhook receiver listen beside the web server.
SANDBOX_PORT ?= $(shell expr $(PORT) + 100)
WEBHOOK_PORT ?= $(shell expr $(PORT) + 101)
ALIPAY_PORT ?= $(shell expr $(PORT) + 102)
WECHATPAY_PORT ?= $(shell expr $(PORT) + 103)
PYTEST_ARGS ?=
# make bench-http: wrk connections (and pgbench clients), seconds per run, runs.
CONNECTIONS ?= 16
SECONDS ?= 15
REPEATS ?= 3

.PHONY: run up test test-slow bench bench-http bench-orders lint format check migrate clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: the embedded default — SQLite, eager Celery, the sandbox platform on $(SANDBOX_PORT), a
## webhook receiver on $(WEBHOOK_PORT), demo data — on http://127.0.0.1:$(PORT) (Ctrl-C stops all of
## Procfile.dev). Every URL follows the ports: `make run PORT=8010 SANDBOX_PORT=8110`.
run: export DEBUG = 1
run: export ALLOW_PRIVATE_NOTIFY_URLS = 1
run: export WEB_PORT = $(PORT)
run: export SANDBOX_PORT := $(SANDBOX_PORT)
run: export WEBHOOK_PORT := $(WEBHOOK_PORT)
run: export PAYCENTER_PUBLIC_URL = http://127.0.0.1:$(PORT)
run: export SANDBOX_CHANNEL_URL = http://127.0.0.1:$(SANDBOX_PORT)
run: export ALIPAY_PORT := $(ALIPAY_PORT)
run: export ALIPAY_FAKE_URL = http://127.0.0.1:$(ALIPAY_PORT)
run: export WECHATPAY_PORT := $(WECHATPAY_PORT)
run: export WECHATPAY_FAKE_URL = http://127.0.0.1:$(WECHATPAY_PORT)
run: export DEMO_NOTIFY_URL = http://127.0.0.1:$(WEBHOOK_PORT)/webhooks
run: $(VENV)/.runtime
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/honcho start -f Procfile.dev

## up: production-like — gunicorn, Celery worker and beat — against DATABASE_URL / REDIS_URL
up: $(VENV)/.runtime
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "make up needs DATABASE_URL and REDIS_URL"; exit 2; }
	$(BIN)/python manage.py check --deploy --fail-level ERROR
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	mkdir -p var
	WEB_PORT=$(PORT) $(BIN)/honcho start -f Procfile

## test: the whole default suite, on PostgreSQL and Redis (embedded ones when the URLs are unset)
# The browser tests drive Debian's chromium through its chromedriver (no browser download).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	else echo "the browser tests need chromium and chromium-driver (apt-get install chromium chromium-driver)"; exit 2; fi

test: $(VENV)/.dev browser
	$(BIN)/python -m tests.services $(BIN)/pytest -m "not slow and not bench" $(PYTEST_ARGS)

test-slow: $(VENV)/.dev
	$(BIN)/python -m tests.services $(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m tests.services $(BIN)/pytest tests/bench -m bench -s $(PYTEST_ARGS)

## bench-http: `make up` on a fresh database paycenter_bench (DATABASE_URL's server, Redis db 12),
## pre-signed payments replayed by wrk, then pgbench; see docs/benchmarks.md. Exit 1 on any error.
bench-http: $(VENV)/.dev
	$(BIN)/python -m tests.bench.http_bench --connections $(CONNECTIONS) --seconds $(SECONDS) --repeats $(REPEATS)

## bench-orders: the same stack; orders (3 lines, 2 sellers, 2 coupons) and their payments
## against plain payments, each window replayed by wrk; see docs/benchmarks.md.
bench-orders: $(VENV)/.dev
	$(BIN)/python -m tests.bench.orders_bench --connections $(CONNECTIONS) --seconds $(SECONDS) --repeats $(REPEATS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --no-input

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
