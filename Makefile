# Two commands on a fresh machine with Python 3.11 and pip: `make run` and `make test`.
# Both install the locked environment (Pipfile.lock) into .venv first, once.
PYTHON ?= python3
VENV := .venv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_IGNORE_VIRTUALENVS := 1

.PHONY: setup run test clean

setup: $(VENV)/.synced

$(VENV)/.synced: Pipfile.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check pipenv
	$(PYTHON) -m pipenv sync --dev
	touch $@

# The main job on the bundled MNIST: two tasks switching every 250 steps (about 1.5 minutes on 2 cores).
run: setup
	$(VENV)/bin/python task.py --tasks id inv --task-time 250 --max-steps 1000 --test-frequency 250

test: setup
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV)
