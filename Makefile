# The two commands a new user needs: `make run` and `make test`. Everything else is for
# developers. Builds share one target directory; run one cargo build at a time (2 cores).

CARGO ?= cargo

.PHONY: run test build release man lint fmt fuzz bench chaos soak clean

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

## man: the man page and the bash, zsh and fish completions, generated from the binary's flags,
## in target/man (install web_server.1 under share/man/man1; the completions where each shell
## looks, e.g. /usr/share/bash-completion/completions/web_server)
man:
	mkdir -p target/man
	$(CARGO) run --quiet --bin web_server -- man > target/man/web_server.1
	$(CARGO) run --quiet --bin web_server -- completions bash > target/man/web_server.bash
	$(CARGO) run --quiet --bin web_server -- completions zsh > target/man/_web_server
	$(CARGO) run --quiet --bin web_server -- completions fish > target/man/web_server.fish

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
## Installs nginx and wrk if missing (as root), builds release, prints the table. About 16 minutes;
## a quick smoke: make bench BENCH_SECONDS=2 BENCH_REPS=1 (more settings: tests/bench/bench.py).
bench:
	CARGO="$(CARGO)" python3 tests/bench/bench.py

## chaos: 200 random kills of the seed tree's actors under mixed load (release build, as served
## in production); every failed request must be on a connection a kill closed. About 2 minutes
## (the drill gives up after 11). More or fewer: make chaos CHAOS_KILLS=N; CHAOS_SEED=N replays.
CHAOS_KILLS ?= 200
chaos:
	CHAOS_KILLS=$(CHAOS_KILLS) $(CARGO) test --release --test chaos -- --ignored --nocapture

## soak: SOAK_SECONDS (default 600) of mixed load on the release build: no failed request,
## resident memory within 5 % of its level after the warm-up, descriptors flat.
## Takes SOAK_SECONDS plus the release build; a quick look: make soak SOAK_SECONDS=60.
SOAK_SECONDS ?= 600
soak:
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release --test soak -- --ignored --nocapture

## fmt: format the workspace
fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
