# mcp-osquery-server — everything a user or CI runs.
CARGO ?= cargo
BIN := target/release/mcp-osquery-server
STANDIN := fixtures/osqueryi

.PHONY: all build release demo test lint unit clients fuzz bench soak static musl aarch64 clean

all: release

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## make demo: a scripted MCP session through the release binary, no osquery needed
demo: release
	$(CARGO) run --quiet --release --example demo -- $(BIN) $(STANDIN)

## make test: formatting, lints, unit and integration tests (what CI runs)
test: lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	sh fixtures/selftest.sh
	$(CARGO) test

## make clients: the official MCP clients (Python SDK, TypeScript SDK, Inspector CLI) against the release binary
clients: release
	sh tests/clients/run_all.sh $(BIN) $(STANDIN)

## make fuzz: the guard under cargo-fuzz (nightly) for FUZZ_SECONDS, seeded from the corpora
FUZZ_SECONDS ?= 600
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
	@mkdir -p fuzz/corpus/guard
	@i=0; grep -hv '^#' tests/guard/attacks.txt tests/guard/honest.txt | \
	  sed 's/^[a-z-]*\t//' | while IFS= read -r q; do \
	    i=$$((i+1)); printf '%s' "$$q" > fuzz/corpus/guard/seed-$$i; done
	cargo +nightly fuzz run guard fuzz/corpus/guard -- -dict=fuzz/guard.dict -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean
