# mcp-osquery-server — everything a user or CI runs.
CARGO ?= cargo
BIN := target/release/mcp-osquery-server
STANDIN := fixtures/osqueryi

.PHONY: all build release demo test lint unit clients interop fuzz bench soak static check-static musl aarch64 dist dist-check clean

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

## make clients: the official MCP clients (Python SDK, TypeScript SDK, Inspector CLI 1.x, Inspector v2 --strict) against the release binary
clients: release
	bash tests/clients/run_all.sh $(BIN) $(STANDIN)

## make interop: the Thrift codec and the binary on the daemon backend against Apache
## Thrift's own Python server (a venv with thrift and osquery from PyPI, made once)
interop:
	bash tests/interop/run.sh

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

# Fails unless BINARY is statically linked; prints its size. Old versions of
# file call a static-pie binary "dynamically linked", so only a named program
# interpreter (the dynamic loader) is proof of dynamic linking; otherwise ldd
# decides, which cannot judge a binary for another architecture.
check-static:
	@info="$$(file -L $(BINARY))"; echo "$$info"; \
	case "$$info" in *"statically linked"*|*"static-pie linked"*) ;; \
	*interpreter*) echo "$(BINARY) is not static: it needs a dynamic loader"; exit 1 ;; \
	*) ldd $(BINARY) 2>&1 | grep -Eq 'not a dynamic executable|statically linked' \
		|| { echo "$(BINARY) is not static"; exit 1; } ;; esac
	@echo "size: $$(stat -c %s $(BINARY)) bytes ($$(du -h $(BINARY) | cut -f1))"

# The static musl builds behind make musl, make aarch64 and make dist; all three
# pass the same flags so that none of them rebuilds what another has built.
MUSL_TARGETS := x86_64-unknown-linux-musl aarch64-unknown-linux-musl
# rust-lld ships with every rustup toolchain and links musl's self-contained
# objects: no C cross toolchain is needed, either target builds on either
# architecture, and no host linker version leaks into the binary. Any other
# linker can be given, e.g. AARCH64_LINKER=aarch64-linux-gnu-gcc.
X86_64_LINKER ?= rust-lld
AARCH64_LINKER ?= rust-lld
CARGO_HOME ?= $(HOME)/.cargo
comma := ,
# $(call musl-config,TARGET,LINKER). The remap: panic messages carry the source
# paths of dependencies, which would otherwise name the builder's home.
musl-config = --config 'target.$(1).linker="$(2)"' \
	--config 'target.$(1).rustflags=["--remap-path-prefix=$(CARGO_HOME)=/cargo"$(if $(filter rust-lld,$(2)),$(comma)"-C"$(comma)"linker-flavor=ld.lld")]'
MUSL_CONFIG := $(call musl-config,x86_64-unknown-linux-musl,$(X86_64_LINKER)) \
	$(call musl-config,aarch64-unknown-linux-musl,$(AARCH64_LINKER))
# $(call build-musl,TARGETS)
build-musl = $(CARGO) build --release --locked $(addprefix --target ,$(1)) $(MUSL_CONFIG)
# $(call need-targets,TARGETS): fails with the rustup command that installs the
# missing ones. Asks rustc's sysroot, so it works without rustup too.
need-targets = sysroot="$$(rustc --print sysroot)"; missing=; \
	for t in $(1); do [ -d "$$sysroot/lib/rustlib/$$t/lib" ] || missing="$$missing $$t"; done; \
	[ -z "$$missing" ] || { echo "$@: Rust target not installed:$$missing. Install it with:"; \
		echo "    rustup target add$$missing"; \
		echo "then run make $@ again (no C cross toolchain is needed)."; exit 1; }

## make musl / make aarch64: one static musl build each (make dist builds both)
MUSL_BIN := target/x86_64-unknown-linux-musl/release/mcp-osquery-server
musl:
	@$(call need-targets,x86_64-unknown-linux-musl)
	$(call build-musl,x86_64-unknown-linux-musl)
	@$(MAKE) --no-print-directory check-static BINARY=$(MUSL_BIN)
	$(CARGO) build --quiet --release --example demo
	target/release/examples/demo $(MUSL_BIN) $(STANDIN) > target/musl-demo.txt
	@grep -q 'server exited with exit status: 0' target/musl-demo.txt \
		|| { cat target/musl-demo.txt; echo "musl: the demo session failed"; exit 1; }
	@echo "musl: the demo session ran with $(MUSL_BIN)"
	@sha256sum $(MUSL_BIN)

AARCH64_BIN := target/aarch64-unknown-linux-musl/release/mcp-osquery-server
aarch64:
	@$(call need-targets,aarch64-unknown-linux-musl)
	$(call build-musl,aarch64-unknown-linux-musl)
	@$(MAKE) --no-print-directory check-static BINARY=$(AARCH64_BIN)
	@if [ "$$(uname -m)" = aarch64 ]; then \
		$(CARGO) build --quiet --release --example demo && \
		target/release/examples/demo $(AARCH64_BIN) $(STANDIN) | tail -1; \
	else echo "aarch64: cross-built; make dist-check runs it under qemu-user"; fi
	@sha256sum $(AARCH64_BIN)

## make dist: both musl binaries, each packed with README and licences as
## dist/mcp-osquery-server-<version>-<target>.tar.gz, and dist/SHA256SUMS
VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
# Archive times come from the last commit, so a commit packs to the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DIST_DOCS := README.md LICENSE-MIT LICENSE-APACHE
dist:
	@[ -n "$(VERSION)" ] || { echo "dist: no version in Cargo.toml's [package]"; exit 1; }
	@$(call need-targets,$(MUSL_TARGETS))
	$(call build-musl,$(MUSL_TARGETS))
	@rm -rf target/dist && mkdir -p target/dist dist && rm -f dist/mcp-osquery-server-*.tar.gz dist/SHA256SUMS
	@for t in $(MUSL_TARGETS); do \
		name=mcp-osquery-server-$(VERSION)-$$t; \
		install -d -m 0755 target/dist/$$name && \
		install -m 0755 target/$$t/release/mcp-osquery-server target/dist/$$name/ && \
		install -m 0644 $(DIST_DOCS) target/dist/$$name/ && \
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
			--format=gnu -I 'gzip -9n' -C target/dist -cf dist/$$name.tar.gz $$name || exit 1; \
	done
	@cd dist && sha256sum mcp-osquery-server-$(VERSION)-*.tar.gz > SHA256SUMS
	@ls -l dist/*.tar.gz | awk '{print "dist: " $$NF ", " $$5 " bytes"}'
	@echo "dist: written dist/SHA256SUMS; make dist-check verifies and runs each artifact"

## make dist-check: verifies dist/ and runs each binary against the stand-in
## (one built for another architecture under qemu-user)
dist-check:
	@MAKE="$(MAKE)" sh .ci/dist-check $(VERSION) $(MUSL_TARGETS)

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
