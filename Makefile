# consulelect developer targets. `make test` is the project's test command.
SHELL := /bin/bash
GO ?= go
CACHE := $(CURDIR)/.cache
CONSUL := $(CACHE)/bin/consul
# Tests find the binary here (or through CONSUL_BIN / PATH).
export CONSUL_BIN ?= $(CONSUL)
# The project's own test run never skips a real-agent test for want of a
# binary (a plain `go test ./...` without one skips them, saying so).
export CONSULELECT_REQUIRE_CONSUL := 1
TEST_TIMEOUT ?= 14m

.PHONY: all consul test vet demo demo-strategies shop chaos chaos-long bench clean

all: test

# The Consul binary is built once from the Go module proxy (tools/consul pins
# the version) and cached in the ignored .cache folder.
consul: $(CONSUL)

$(CONSUL): tools/consul/go.mod tools/consul/go.sum
	@mkdir -p $(dir $@)
	@if [ -n "$$CONSUL_BIN" ] && [ "$$CONSUL_BIN" != "$(CONSUL)" ] && [ -x "$$CONSUL_BIN" ]; then \
	  echo "using CONSUL_BIN=$$CONSUL_BIN"; ln -sf "$$CONSUL_BIN" $@; \
	elif command -v consul >/dev/null 2>&1; then \
	  echo "using $$(command -v consul) from PATH"; ln -sf "$$(command -v consul)" $@; \
	else \
	  echo "building consul (once, cached in .cache/bin; a cold build takes about 4 minutes)"; \
	  $(GO) build -C tools/consul -o $@ github.com/hashicorp/consul; \
	fi
	@touch -h $@

vet:
	$(GO) vet ./...

# Root `go test ./...` does not enter the nested modules (the metrics
# adapters and example-service, each with its own go.mod): vet and test
# each of them too.
test: consul vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@for m in metrics/prometheus metrics/otel example-service; do \
	  echo "== $$m"; \
	  (cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...) || exit 1; \
	done

# A live demo for a person: a Consul agent, three replicas of
# example-service, a graceful stop and a crash, narrated with timings.
demo: consul
	@mkdir -p $(CACHE)/bin
	$(GO) build -C example-service -o $(CACHE)/bin/example-service .
	$(GO) run ./internal/harness/cmd/demo -service $(CACHE)/bin/example-service -timeline $(CACHE)/demo-timeline.html

# Choosing the leader, live: priority handoffs (in the worst start order,
# a crash and a comeback) and a balanced Group of 60 keys as replicas join
# and crash, all electors in one process, narrated with measured times.
demo-strategies: consul
	$(GO) run ./internal/harness/cmd/strategydemo

# The no-oversell shop (example-shop): five seller processes sell one stock
# counter under the lock, one killed and one frozen mid-sale, with fenced
# writes; then the same with Consul's api.Lock, each with and without the
# guard, side by side. The api.Lock runs wait out its 15s session TTL and
# lock-delay, so the whole run takes about three and a half minutes.
shop: consul
	$(GO) run ./example-shop

# Fault injection with an overlap checker (docs/reliability.md). The short
# default runs in CI; chaos-long is the documented long mode.
CHAOS_FAULTS ?= 34
chaos: consul
	$(GO) run ./internal/harness/cmd/chaos -faults $(CHAOS_FAULTS) -timeline $(CACHE)/chaos-timeline.html

CHAOS_LONG_FAULTS ?= 1000
chaos-long: consul
	$(GO) run ./internal/harness/cmd/chaos -faults $(CHAOS_LONG_FAULTS) -report docs/reliability.md -timeline $(CACHE)/chaos-long-timeline.html

# Benchmarks side by side with Consul's api.Lock (docs/benchmarks.md).
bench: consul
	$(GO) run ./internal/harness/cmd/bench -report docs/benchmarks.md

clean:
	rm -rf $(CACHE)

# Consul version matrix: the core real-agent tests (the leader and lock
# packages) against the oldest Consul release the library supports, the
# pinned one (tools/consul, the binary `make test` uses) and the newest that
# builds here. Each extra version V is a nested module tools/consul-V made
# like tools/consul and is built once into .cache/bin/consul-V, rebuilt only
# when its go.mod or go.sum changes (a cold build takes about 4 minutes
# each). `make test` keeps the one pinned version. To add a version, create
# tools/consul-V the same way and name it in CONSUL_MATRIX.
CONSUL_MATRIX ?= 1.16.6 1.21.0 1.22.7
CONSUL_PINNED := $(shell awk '$$1 == "github.com/hashicorp/consul" { sub(/^v/, "", $$2); print $$2 }' tools/consul/go.mod)
MATRIX_PKGS ?= ./leader/ ./lock/
# Extra `go test` flags for the matrix, e.g. MATRIX_FLAGS='-run Election'.
MATRIX_FLAGS ?=
matrix_bin = $(if $(filter $(CONSUL_PINNED),$(1)),$(CONSUL),$(CACHE)/bin/consul-$(1))

.PHONY: consul-matrix-bins test-matrix

consul-matrix-bins: $(foreach v,$(CONSUL_MATRIX),$(call matrix_bin,$(v)))

$(CACHE)/bin/consul-%: tools/consul-%/go.mod tools/consul-%/go.sum
	@mkdir -p $(dir $@)
	@echo "building consul $* (once, cached in .cache/bin; a cold build takes about 4 minutes)"
	$(GO) build -C tools/consul-$* -o $@ github.com/hashicorp/consul
	@touch $@

# Runs the packages once per version, one version after the other, and
# prints PASS/FAIL and the duration of each; fails if any version failed.
test-matrix: consul-matrix-bins
	@status=0; summary=""; \
	for v in $(CONSUL_MATRIX); do \
	  if [ "$$v" = "$(CONSUL_PINNED)" ]; then bin="$(CONSUL)"; else bin="$(CACHE)/bin/consul-$$v"; fi; \
	  ver=$$("$$bin" version | head -n 1); \
	  echo "== Consul $$v: $$ver ($$bin)"; \
	  start=$$(date +%s); \
	  if CONSUL_BIN="$$bin" $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(MATRIX_FLAGS) $(MATRIX_PKGS); then r=PASS; else r=FAIL; status=1; fi; \
	  d=$$(( $$(date +%s) - start )); \
	  line=$$(printf '%-8s %s  %dm%02ds  (%s)' "$$v" "$$r" $$((d / 60)) $$((d % 60)) "$$ver"); \
	  echo "== $$line"; summary="$$summary$$line"$$'\n'; \
	done; \
	echo "== Consul matrix ($(MATRIX_PKGS)):"; printf '%s' "$$summary"; \
	exit $$status
