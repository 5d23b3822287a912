# consulelect developer targets. `make test` is the project's test command.
SHELL := /bin/bash
GO ?= go
CACHE := $(CURDIR)/.cache
CONSUL := $(CACHE)/bin/consul
# Tests find the binary here (or through CONSUL_BIN / PATH).
export CONSUL_BIN ?= $(CONSUL)
TEST_TIMEOUT ?= 14m

.PHONY: all consul test vet bench clean

all: test

# The Consul binary is built once from the Go module proxy (tools/consul pins
# the version) and cached in the ignored .cache folder.
consul: $(CONSUL)

$(CONSUL): tools/consul/go.mod tools/consul/go.sum
	@if [ -n "$$CONSUL_BIN" ] && [ "$$CONSUL_BIN" != "$(CONSUL)" ] && [ -x "$$CONSUL_BIN" ]; then \
	  echo "using CONSUL_BIN=$$CONSUL_BIN"; mkdir -p $(dir $@); ln -sf "$$CONSUL_BIN" $@; \
	else \
	  echo "building consul (once, cached in .cache/bin; a cold build takes about 4 minutes)"; \
	  mkdir -p $(dir $@) && $(GO) build -C tools/consul -o $@ github.com/hashicorp/consul; \
	fi
	@touch $@

vet:
	$(GO) vet ./...

test: consul vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

clean:
	rm -rf $(CACHE)
