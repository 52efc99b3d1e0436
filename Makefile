# The two commands a new user needs: `make run` and `make test`. Everything else is for
# developers. Builds share one target directory; run one cargo build at a time (2 cores).

CARGO ?= cargo

.PHONY: run test build release lint fmt clean

## run: build in release mode and start web_server (Ctrl-C stops it gracefully)
run:
	$(CARGO) run --release --bin web_server

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

## fmt: format the workspace
fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
