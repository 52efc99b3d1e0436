# The two commands a new user needs: `make run` and `make test`. Everything else is for
# developers. Builds share one target directory; run one cargo build at a time (2 cores).

CARGO ?= cargo

.PHONY: run test build release lint fmt fuzz bench clean

## run: build in release mode and serve the bundled sample site with the dev profile
## (http://127.0.0.1:8080; Ctrl-C stops it). Pass flags with ARGS, e.g. make run ARGS="--workers 1".
run:
	$(CARGO) run --release --bin web_server -- --profile dev $(ARGS)

## test: every unit, property, system and doc test of the workspace
test:
	$(CARGO) test --workspace

## build: debug build of the workspace
build:
	$(CARGO) build --workspace

## release: optimised build of the web_server binary
release:
	$(CARGO) build --release --bin web_server

## lint: what CI checks besides the tests
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fuzz: run each cargo-fuzz target for FUZZ_SECONDS (default 30) on the committed seed corpus.
## Installs cargo-fuzz if missing. New inputs go to target/fuzz-corpus, so the repo's seeds stay
## small; run longer with `make fuzz FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= parser chunked path_resolver
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p ../target/fuzz-corpus/$$t && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t ../target/fuzz-corpus/$$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

## bench: web_server against nginx, one pinned core each, every workload of docs/performance.md.
## Installs nginx and wrk if missing (as root), builds release, prints the table. About 8 minutes;
## a quick smoke: make bench BENCH_SECONDS=2 BENCH_REPS=1 (more settings: tests/bench/bench.py).
bench:
	CARGO="$(CARGO)" python3 tests/bench/bench.py

## fmt: format the workspace
fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
