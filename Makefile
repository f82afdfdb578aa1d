# sophia-ops: the two commands a new user needs are `make site` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INVENTORY ?= inventories/local

.PHONY: setup system-packages site test lint sanity pytest reliability-report molecule emulators-start emulators-stop clean

# Debian packages first (PostgreSQL, Redis, promtool/amtool): installed as root when missing, a few stat calls otherwise.
setup: system-packages $(VENV)/.installed

system-packages:
	scripts/system-packages

# Re-install only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The main job: the full site.yml against the local emulators. With inventories/local, the stand-ins'
# ports come from the running ones (any of them may have been started on port 0, a free one).
site: setup emulators-start
	$(if $(filter inventories/local,$(INVENTORY)),eval "$$(scripts/local-emulators env)" &&) \
	  $(BIN)/ansible-playbook site.yml -i $(INVENTORY)

# Everything CI runs: lint, sanity, the pytest suites, then the Molecule scenarios.
test: setup lint sanity pytest molecule

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint --offline

sanity: setup
	scripts/sanity

# Three workers: the integration tests mostly wait (emulator clocks, ansible start-up), even on two cores.
PYTEST_WORKERS ?= 3

# Every test marked @pytest.mark.fault writes a record of what it tried (tests/support/fault_records.py);
# the run's report lands in tests/output/reliability.md even when a test fails.
FAULT_RECORDS := tests/output/fault-records

pytest: setup
	SOPHIA_FAULT_RECORDS=$(FAULT_RECORDS) $(BIN)/pytest -n $(PYTEST_WORKERS); status=$$?; \
	  scripts/reliability-report --records $(FAULT_RECORDS) --output tests/output/reliability.md; exit $$status

# docs/reliability.md from the last `make pytest` (so `make pytest reliability-report` refreshes it);
# tests/test_reliability_report.py fails while its rows are not the tests the tree marks.
reliability-report:
	scripts/reliability-report --records $(FAULT_RECORDS) --output docs/reliability.md

molecule: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/molecule test --all

emulators-start: setup
	scripts/local-emulators start

emulators-stop:
	scripts/local-emulators stop

clean: emulators-stop
	rm -rf build .cache tests/output
