# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the test suite drives for real: a browser for the UI tests, swaks as an SMTP client,
# redis-server for the MAILARCHIVE_REDIS_URL path of the job queue, getmail6 as a POP3 client, and
# fonts-noto-cjk and fonts-noto-color-emoji so Chinese and the console's icons (📎) render in the
# browser tests' screenshots (not as boxes).
SYS_TEST_PKGS := chromium fonts-noto-cjk fonts-noto-color-emoji swaks redis-server getmail6 fetchmail

# What `make bench` compares the import with (issue 18): notmuch, indexing the same Maildir.
BENCH_PKGS := notmuch

# The test engine (engine/): a JDK >= 21 (the newest under /usr/lib/jvm, or JAVA_HOME) and Maven.
ENGINE_JDK_PKGS := openjdk-25-jdk-headless openjdk-21-jdk-headless

.PHONY: run test bench bench-load lint system-deps bench-deps engine-deps engine clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	@missing=""; for p in $(SYS_TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing benchmark yardsticks:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing \
	    || echo "could not install$$missing: the bench skips those stages and says why"; \
	fi

# JDK and Maven for the engine, from Debian's packages when missing; then the launcher is built once
# (its jars come from Maven Central into ~/.m2; later builds run offline).
engine-deps:
	@SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); need=""; updated=""; \
	if ! engine/run --find-jdk >/dev/null 2>&1; then \
	  $$SUDO apt-get update -qq; updated=1; \
	  for p in $(ENGINE_JDK_PKGS); do \
	    if apt-cache policy $$p 2>/dev/null | grep -q 'Candidate: [0-9]'; then need="$$p"; break; fi; \
	  done; \
	  [ -n "$$need" ] || { echo "engine: no JDK >= 21 in JAVA_HOME or /usr/lib/jvm, and apt offers none of: $(ENGINE_JDK_PKGS); install a JDK 21+ (e.g. Temurin) and set JAVA_HOME" >&2; exit 1; }; \
	fi; \
	if ! command -v mvn >/dev/null; then need="$$need maven"; [ -n "$$updated" ] || $$SUDO apt-get update -qq; fi; \
	if [ -n "$$need" ]; then \
	  echo "installing for the test engine:$$need"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	fi
	engine/run --build

# One real Elasticsearch node on 127.0.0.1 in the foreground (Ctrl-C stops it); prints
# MAILARCHIVE_TEST_ES_URL=http://127.0.0.1:PORT. `make engine ENGINE_ARGS="--port 9200"` fixes the port.
engine: engine-deps
	engine/run $(ENGINE_ARGS)

run: $(VENV)/.installed
	$(BIN)/mailarchive serve

test: $(VENV)/.installed-test system-deps engine-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test engine-deps bench-deps
	$(BIN)/mailarchive bench

# Load test (issue 17): 50 concurrent API searches and 20 POP3 sessions against one `mailarchive serve`.
# It writes to the archive (a user, a token, the POP3 password, audit entries): point it at a copy.
LOAD_ARGS ?= --size 3000
bench-load: $(VENV)/.installed-test
	$(BIN)/python bench/load.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) data
