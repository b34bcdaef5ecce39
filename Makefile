# mcp-osquery-server — everything a user or CI runs.
CARGO ?= cargo
BIN := target/release/mcp-osquery-server
STANDIN := fixtures/osqueryi

.PHONY: all build release demo test lint unit clients fuzz bench soak static check-static musl aarch64 clean

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
	bash tests/clients/run_all.sh $(BIN) $(STANDIN)

## make bench: start-up, memory, per-call overhead, concurrency (not part of make test)
bench: release
	$(CARGO) build --quiet --release --example bench
	target/release/examples/bench $(BIN) $(STANDIN)

## make static: a fully static x86_64 glibc binary; checks it is static, prints its
## size and runs the demo session with it
STATIC_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := target/$(STATIC_TARGET)/release/mcp-osquery-server
static:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --target $(STATIC_TARGET)
	@$(MAKE) --no-print-directory check-static BINARY=$(STATIC_BIN)
	$(CARGO) build --quiet --release --example demo
	target/release/examples/demo $(STATIC_BIN) $(STANDIN) > target/static-demo.txt
	@grep -q 'rows in' target/static-demo.txt && grep -q 'server exited with exit status: 0' target/static-demo.txt \
		|| { cat target/static-demo.txt; echo "static: the demo session failed"; exit 1; }
	@echo "static: the demo session ran with $(STATIC_BIN) (transcript: target/static-demo.txt)"
	@sha256sum $(STATIC_BIN)

# Fails unless BINARY is statically linked; prints its size.
check-static:
	@info="$$(file -L $(BINARY))"; echo "$$info"; \
	case "$$info" in *"statically linked"*|*"static-pie linked"*) ;; \
	*) ldd $(BINARY) 2>&1 | grep -Eq 'not a dynamic executable|statically linked' \
		|| { echo "$(BINARY) is not static"; exit 1; } ;; esac
	@echo "size: $$(stat -c %s $(BINARY)) bytes ($$(du -h $(BINARY) | cut -f1))"

## make musl / make aarch64: static musl builds, when the Rust target is installed
MUSL_BIN := target/x86_64-unknown-linux-musl/release/mcp-osquery-server
musl:
	@if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then \
		echo "musl: the Rust target is not installed. Install it with:"; \
		echo "    rustup target add x86_64-unknown-linux-musl"; \
		echo "then run make musl again (no C cross toolchain is needed)."; exit 1; fi
	$(CARGO) build --release --target x86_64-unknown-linux-musl
	@$(MAKE) --no-print-directory check-static BINARY=$(MUSL_BIN)
	$(CARGO) build --quiet --release --example demo
	target/release/examples/demo $(MUSL_BIN) $(STANDIN) > target/musl-demo.txt
	@grep -q 'server exited with exit status: 0' target/musl-demo.txt \
		|| { cat target/musl-demo.txt; echo "musl: the demo session failed"; exit 1; }
	@echo "musl: the demo session ran with $(MUSL_BIN)"
	@sha256sum $(MUSL_BIN)

# rust-lld ships with every rustup toolchain and links musl's self-contained
# objects, so no aarch64 C toolchain is needed; any other linker can be given.
AARCH64_LINKER ?= rust-lld
AARCH64_LLD_CONFIG := --config 'target.aarch64-unknown-linux-musl.rustflags=["-C","linker-flavor=ld.lld"]'
AARCH64_BIN := target/aarch64-unknown-linux-musl/release/mcp-osquery-server
aarch64:
	@if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-musl; then \
		echo "aarch64: the Rust target is not installed. Install it with:"; \
		echo "    rustup target add aarch64-unknown-linux-musl"; \
		echo "then run make aarch64 again. It links with rust-lld from the toolchain; to use a"; \
		echo "C cross linker instead: apt-get install gcc-aarch64-linux-gnu and"; \
		echo "    make aarch64 AARCH64_LINKER=aarch64-linux-gnu-gcc"; exit 1; fi
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=$(AARCH64_LINKER) \
		$(CARGO) build --release --target aarch64-unknown-linux-musl \
		$(if $(filter rust-lld,$(AARCH64_LINKER)),$(AARCH64_LLD_CONFIG))
	@$(MAKE) --no-print-directory check-static BINARY=$(AARCH64_BIN)
	@if [ "$$(uname -m)" = aarch64 ]; then \
		$(CARGO) build --quiet --release --example demo && \
		target/release/examples/demo $(AARCH64_BIN) $(STANDIN) | tail -1; \
	else echo "aarch64: cross-built; copy it to an arm64 host to run it"; fi
	@sha256sum $(AARCH64_BIN)

## make soak: 100,000 mixed good and bad messages through one release server (not part of make test)
soak: release
	$(CARGO) run --quiet --release --example soak -- $(BIN) $(STANDIN)

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
