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

# make bench: the short suite (under 10 minutes on 2 cores). The Go
# benchmarks at fixed counts, then `chronos bench` runs of each scenario
# against the in-process stack, with the raw baselines of the same run
# (the Mongo ones on the run that projects into an embedded FerretDB).
# Reports (tables on stdout, JSON) go to $(BENCH_OUT).
BENCH_OUT ?= $(or $(TMPDIR),/tmp)/chronos-bench
CHRONOS_BENCH = $(BENCH_OUT)/chronos bench --drain-timeout 30s
bench: tools
	mkdir -p $(BENCH_OUT)
	$(GO) test ./events ./offload -run '^$$' -bench 'ValidatePayload|EventCodec|Codecs' -benchtime 1s
	$(GO) test ./offload -run '^$$' -bench 'OffloaderS3' -benchtime 1000x
	$(GO) test ./internal/stack -run '^$$' -bench 'Write$$' -benchtime 20000x
	$(GO) test ./internal/stack -run '^$$' -bench 'WriteUpdateWithWorkers|DevHTTP|QueryReads' -benchtime 1000x
	$(GO) build -o $(BENCH_OUT)/chronos ./cmd/chronos
	$(CHRONOS_BENCH) iot --via producer --events 20000 --baseline --subjects 100000 --json $(BENCH_OUT)/iot-producer.json
	$(CHRONOS_BENCH) iot --via http --duration 5s --json $(BENCH_OUT)/iot-http.json
	$(CHRONOS_BENCH) trading --via producer --duration 5s --json $(BENCH_OUT)/trading-producer.json
	$(CHRONOS_BENCH) trading --via http --duration 5s --json $(BENCH_OUT)/trading-http.json
	$(CHRONOS_BENCH) mixed --via http --duration 5s --ferretdb --baseline --json $(BENCH_OUT)/mixed-http-ferretdb.json

# make bench-long: the memory checks. 5 minutes of trading (updates of a
# fixed hot set of items) over HTTP and 5 minutes of iot (creates: every
# reading a new item) through the producer, each paced to a rate the
# pipeline keeps up with, so RSS measures the steady state, not a growing
# backlog (the report gives RSS at start, half-way, max and end); then the
# JetStream memory of 100k and 1M distinct item subjects. Rates are set by
# BENCH_LONG_RATE (default 1000 ops/s on 2 cores).
BENCH_LONG_RATE ?= 1000
.PHONY: bench-long
bench-long:
	mkdir -p $(BENCH_OUT)
	$(GO) build -o $(BENCH_OUT)/chronos ./cmd/chronos
	$(BENCH_OUT)/chronos bench trading --via http --duration 5m --rate $(BENCH_LONG_RATE) --json $(BENCH_OUT)/long-trading-http.json
	$(BENCH_OUT)/chronos bench iot --via producer --duration 5m --rate $(BENCH_LONG_RATE) --subjects 100000,1000000 --json $(BENCH_OUT)/long-iot-producer.json

stress: tools
	$(GO) test -race -tags stress -timeout 60m ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
