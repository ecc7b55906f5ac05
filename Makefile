# Sluice — run `make` for the list of targets.
GO        ?= go
BIN       := bin/sluice
PKGS      := ./...
FUZZTIME  ?= 20s
STATICCHECK_VERSION := v0.7.0

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/sluice
	$(GO) build -o $(BIN) ./cmd/sluice

.PHONY: run
run: build ## start the broker with embedded defaults (data in ./data, 127.0.0.1:9092)
	@echo "Starting Sluice on 127.0.0.1:9092 with data in ./data (Ctrl-C stops it)."
	@echo "In another terminal:"
	@echo "  $(BIN) topics create demo --partitions 3"
	@echo "  echo hello | $(BIN) produce demo"
	@echo "  $(BIN) consume demo --from-beginning --max-messages 1"
	@echo "  kcat -b localhost:9092 -L"
	$(BIN) broker

.PHONY: test
test: ## install test dependencies (kcat, confluent-kafka, kafka-python, node + kafkajs), run every test, then make compat and make peer
	./scripts/install-test-deps.sh
	SLUICE_TEST_REQUIRE_CLIENTS=1 $(GO) test -count=1 -timeout 15m $(PKGS)
	./scripts/compat.sh
	./scripts/peer-suites.sh

.PHONY: compat
compat: ## run franz-go's own kgo integration tests against a fresh Sluice broker (KGO_SEEDS=host:port for another)
	./scripts/compat.sh

.PHONY: peer
peer: ## run kafka-go's own test suite against a fresh Sluice broker on localhost:9092 (about 4 minutes)
	./scripts/peer-suites.sh

.PHONY: race
race: ## run the tests with the race detector
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

.PHONY: bench
bench: ## measure the broker against franz-go's kfake and the disk (figures for the README)
	$(GO) run ./cmd/sluice/internal/benchcmp

.PHONY: fuzz
fuzz: ## fuzz the request and record-batch decoders ($(FUZZTIME) each)
	$(GO) test ./broker/internal/server -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME)
	@for f in $$($(GO) test ./broker/internal/batch -list '^Fuzz' | grep ^Fuzz); do \
		$(GO) test ./broker/internal/batch -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; done
	@for f in $$($(GO) test ./broker/internal/config -list '^Fuzz' | grep ^Fuzz); do \
		$(GO) test ./broker/internal/config -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; done

.PHONY: lint
lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: run gofmt -w on the files above"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

.PHONY: verify
verify: lint ## lint + check that go.mod/go.sum are tidy
	cp go.mod /tmp/sluice-go.mod.bak; cp go.sum /tmp/sluice-go.sum.bak
	$(GO) mod tidy
	@if ! git diff --quiet -- go.mod go.sum; then git diff -- go.mod go.sum; cp /tmp/sluice-go.mod.bak go.mod; cp /tmp/sluice-go.sum.bak go.sum; echo "go.mod is not tidy: run go mod tidy"; exit 1; fi

.PHONY: clean
clean: ## remove build output and ./data
	rm -rf bin data
