# sophia-ops: the two commands a new user needs are `make site` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INVENTORY ?= inventories/local

.PHONY: setup system-packages site test lint sanity pytest molecule emulators-start emulators-stop clean

# Debian packages first (PostgreSQL, Redis, promtool/amtool): installed as root when missing, a few stat calls otherwise.
setup: system-packages $(VENV)/.installed

system-packages:
	scripts/system-packages

# Re-install only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The main job: the full site.yml against the local emulators.
site: setup emulators-start
	$(BIN)/ansible-playbook site.yml -i $(INVENTORY)

# Everything CI runs: lint, sanity, the pytest suites, then the Molecule scenarios.
test: setup lint sanity pytest molecule

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint --offline

sanity: setup
	scripts/sanity

# Three workers: the integration tests mostly wait (emulator clocks, ansible start-up), even on two cores.
PYTEST_WORKERS ?= 3

pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS)

molecule: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/molecule test --all

emulators-start: setup
	scripts/local-emulators start

emulators-stop:
	scripts/local-emulators stop

clean: emulators-stop
	rm -rf build .cache tests/output
