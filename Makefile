# Chronos. The two commands of the README are the contract:
#   make run   start the whole pipeline on embedded defaults
#   make test  install the test servers if absent, vet, and run every test
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools
VERSITYGW_VERSION := v1.8.0
AZURITE_VERSION := 3.35.0
VERSITYGW := $(TOOLS)/bin/versitygw
AZURITE := $(TOOLS)/node/node_modules/.bin/azurite-blob

# Tests find the servers here (internal/testenv reads these).
export CHRONOS_TOOLS_DIR := $(TOOLS)

.PHONY: run test tools vet bench fmt fuzz stress

run:
	$(GO) run ./cmd/chronos dev $(ARGS)

tools: $(VERSITYGW) $(AZURITE)

# versitygw is the real S3 server the blob store tests run against.
$(VERSITYGW):
	GOBIN=$(TOOLS)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# Azurite is the real Azure Blob server (3.36+ needs a newer Node than Debian's).
$(AZURITE):
	mkdir -p $(TOOLS)/node
	npm install --prefix $(TOOLS)/node --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

vet:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

test: tools vet
	$(GO) test -race -timeout 40m ./...

# Short fuzz runs of every decoder (longer: make fuzz FUZZTIME=10m).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./events -run '^$$' -fuzz FuzzDecodeValidate -fuzztime $(FUZZTIME)
	$(GO) test ./events -run '^$$' -fuzz FuzzValidatePayload -fuzztime $(FUZZTIME)
	$(GO) test ./events -run '^$$' -fuzz FuzzDeepMerge -fuzztime $(FUZZTIME)
	$(GO) test ./offload -run '^$$' -fuzz FuzzDecompress -fuzztime $(FUZZTIME)
	$(GO) test ./tenancy -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 3s
	for f in FuzzDecodeBatch FuzzDecodePatches FuzzDecodeRestore; do \
		$(GO) test ./ingest -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

stress: tools
	$(GO) test -race -tags stress -timeout 60m ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
