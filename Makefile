# reprove — the two commands that matter are `make demo` and `make test`.
# CARGO_TARGET_DIR may point outside the clone (CI keeps a compile cache there).

CARGO ?= cargo
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR

.PHONY: all setup build test lint fmt bench fuzz demo clean-state crash-test

all: build

## Install the system packages the build and the tests need (idempotent).
setup:
	@bash scripts/setup.sh

# RocksDB: the installed library (Debian's librocksdb-dev, .cargo/config.toml) where it has the
# C API the bindings are made from, the bundled sources compiled anywhere else.
CARGO_RUN = env $$(bash scripts/rocksdb-env.sh) $(CARGO)

BUILD = $(CARGO_RUN) build --workspace --locked

build: setup
	$(BUILD)

## The whole suite: unit, conformance, property and end-to-end tests.
test: setup
	$(CARGO_RUN) test --workspace --locked --no-fail-fast

## The ledger's crash-safety test at full length: SIGKILL the server 100 times under load and
## check after each restart that nothing acknowledged was lost (`make test` runs 5 cycles).
CRASH_CYCLES ?= 100
crash-test: setup
	REPROVE_CRASH_CYCLES=$(CRASH_CYCLES) $(CARGO_RUN) test --locked --test it ledger_crash -- --nocapture

## Formatting and lints, as CI runs them.
lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO_RUN) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks (release profile); numbers go in README.md.
bench: setup
	$(CARGO_RUN) bench -p reprove-verifier --locked

## Coverage-guided fuzzing of every parser (not part of CI). FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $$(RUSTC_BOOTSTRAP=1 cargo fuzz list); do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

## The end-to-end story: a ledger, a publisher, three sandboxed rebuilder nodes and a consumer,
## on 127.0.0.1. DEMO_ARGS: e.g. `--data DIR` to keep everything, `--exit` to stop at the end.
## Its setup installs only what building and the demo need (no browser, no test fixtures).
DEMO_ARGS ?=
demo:
	@bash scripts/setup.sh --demo
	$(BUILD)
	$(CARGO_TARGET_DIR)/debug/reprove demo $(DEMO_ARGS)
