# sophia-ops: the two commands a new user needs are `make site` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INVENTORY ?= inventories/local

.PHONY: setup packages venv system-packages docker-engine images site loadtest test check unit lint sanity pytest reliability-report molecule emulators-start emulators-stop emulators-destroy clean

# Debian packages first (PostgreSQL, Redis, promtool/amtool, wrk) and a Docker engine (Debian's docker.io, started
# when none answers): installed as root when missing, a few stat calls otherwise.
setup: packages venv

# The two halves of setup, which `make test` runs side by side: apt's packages, then pip's virtualenv.
packages: system-packages docker-engine

venv: $(VENV)/.installed

system-packages:
	scripts/system-packages

docker-engine:
	scripts/docker-engine

# The local stack's images, from a debootstrapped Debian root (no registry); only what is out of date is built.
images: docker-engine
	scripts/images build

# Re-install only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The main job: the full site.yml against the local stack. The Docker backend by default: every machine and
# GPU node a running container (SOPHIA_LOCAL_BACKEND=record keeps them as records only, without Docker).
# inventories/local finds the stand-ins on whatever ports they took (sophia.ops.local_stack).
site emulators-start: export SOPHIA_LOCAL_BACKEND ?= docker
site: setup emulators-start
	$(BIN)/ansible-playbook site.yml -i $(INVENTORY)

# The plan's load test against the running local stack (after make site).
loadtest: setup
	$(BIN)/ansible-playbook playbooks/loadtest.yml -i $(INVENTORY)

# Everything CI runs, each part's targets side by side where they wait on different things: apt beside pip; the
# images (mostly downloads) beside lint and sanity (one core each); then the pytest suites beside the Molecule
# scenarios (the Molecule stack's containers and waits leave CPU that pytest takes; each has its own emulators,
# ports and Docker label, so neither sees the other's). The time each part took is printed at the end
# (scripts/timed-parts), also when one fails.
test:
	scripts/timed-parts packages+venv images+lint+sanity pytest+molecule

# The inner loop, in a few minutes: lint and sanity side by side, then the unit layer. None of them needs the
# Debian packages or Docker.
check:
	scripts/timed-parts venv lint+sanity unit

unit: venv
	$(BIN)/pytest -q tests/unit

lint: venv
	scripts/lint

sanity: venv
	scripts/sanity

# Three workers: the integration tests mostly wait (emulator clocks, ansible start-up), even on two cores.
# Work stealing: a worker that runs dry takes tests queued on another, so the run does not end on one worker.
PYTEST_WORKERS ?= 3

# Docker-marked tests fail, never skip, when no engine answers (setup starts one).
# Every test marked @pytest.mark.fault writes a record of what it tried (tests/support/fault_records.py);
# the run's report lands in tests/output/reliability.md even when a test fails.
FAULT_RECORDS := tests/output/fault-records

pytest: setup
	SOPHIA_REQUIRE_DOCKER=1 SOPHIA_FAULT_RECORDS=$(FAULT_RECORDS) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15 --cpu-report=20; status=$$?; \
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

# Everything the local stack made: stand-ins stopped, its containers, volumes and networks removed.
emulators-destroy:
	scripts/local-emulators destroy

clean: emulators-destroy
	rm -rf build .cache tests/output
