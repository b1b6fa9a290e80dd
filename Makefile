# Development targets of the trigger_marketing addons. The logic lives in tools/tm.sh;
# settings are environment variables, also accepted as `make VAR=value`
# (PYTHON, DB, PORT, MODULES, EXTRA_ADDONS_PATH, ODOO_SOURCE, TESTS, PYTEST_ARGS, KEEP_DB ...):
# `make help` lists them.

TM := bash tools/tm.sh

.DEFAULT_GOAL := help
.PHONY: help setup run screenshots test test-slow bench bench-latency bench-overhead wheels wheels-check lint format pot drop-db

help:               ## list the targets and settings
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@$(TM) help

setup:              ## install what is missing (Odoo 19, dev tools), check PostgreSQL
	@$(TM) setup

run:                ## demo database (DB, with demo data) + Odoo on http://localhost:8069 (PORT)
	@$(TM) run

screenshots:        ## demo database + PNGs of the main screens into screenshots/ (SHOTS_DIR)
	@$(TM) screenshots

test:               ## fresh test database, pytest -m "not slow" (TESTS, PYTEST_ARGS, KEEP_DB)
	@$(TM) test

test-slow:          ## fresh test database, pytest -m slow
	@$(TM) test-slow

bench:              ## scale benchmark on its own database (N=20000, CARTS=1, KEEP_DB)
	@$(TM) bench

bench-latency:      ## event -> inbox latency and tracking on two prefork servers (BENCH_ARGS)
	@$(TM) bench-latency

bench-overhead:     ## Odoo's own operations with and without the addon, same run (BENCH_ARGS=-n ...)
	@$(TM) bench-overhead

wheels:             ## one odoo-addon-<addon> wheel per addon (whool) into dist/ (WHEELS_DIR)
	@$(TM) wheels

wheels-check:       ## build the wheels, pip-install them aside, install trigger_marketing from them
	@$(TM) wheels-check

lint:               ## ruff, pylint-odoo mandatory checks, i18n/<addon>.pot up to date
	@$(TM) lint

pot:                ## export i18n/<addon>.pot (Odoo's export), add new terms to i18n/*.po
	@$(TM) pot

format:             ## ruff check --fix + ruff format
	@$(TM) format

drop-db:            ## drop the demo database (DB)
	@$(TM) drop-db
