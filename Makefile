# Everything installs from nothing into .venv; later targets reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := $(VENV)/.ops-built
OPS_SOURCES := $(shell find ops -name '*.cpp' -o -name '*.cu' -o -name '*.h' 2>/dev/null)
PIP := $(PY) -m pip install --disable-pip-version-check -c constraints.txt
# The stack the project and its tests need; versions come from constraints.txt.
DEPS := torch torchvision mmengine nuscenes-devkit numpy opencv-python opencv-python-headless \
	scipy shapely matplotlib tqdm pytest ruff ninja setuptools wheel spconv cumm tensorboard
PYTEST_ARGS ?=

.PHONY: install test lint demo clean

install: $(BUILD_STAMP)

$(DEPS_STAMP): constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(DEPS)
	touch $@

# The editable install builds bevfusion.ops._C; rebuilt whenever an op source changes.
$(BUILD_STAMP): $(DEPS_STAMP) setup.py $(OPS_SOURCES)
	$(PIP) --no-build-isolation --no-deps -e .
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The main job: synthetic data, a short training of the tiny camera+LiDAR model, the official metric and
# pictures of its detections (tools/make_demo.py). Reuses its data and checkpoint; FRESH=1 starts over;
# MINUTES=N sets the training budget (default 8).
demo: install
	$(PY) tools/make_demo.py $(if $(filter 1,$(FRESH)),--fresh) $(if $(MINUTES),--minutes $(MINUTES))

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf build $(VENV) bevfusion.egg-info ops/*.so
