# Vigil — two commands matter: `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/vigil-risk/vigil/runner/buildinfo.version=$(VERSION)
BIN     := bin/vigil

# testcontainers must never try to pull its reaper image (no registry here);
# the value must be exactly lowercase "true".
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: build run test test-go test-policies bench lint clean

## build: the static runner binary in bin/vigil
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./runner/cmd/vigil

## run: the runner on the embedded default (SQLite in ./var, HTTP on 127.0.0.1:8080) with a demo stream
run: build
	./$(BIN) run --demo --set log.decisions=hits --decision-log var/decisions.jsonl

## test: vet, every Go test, then the policy checks (Rego unit tests, coverage, fixtures)
test: build lint test-go test-policies

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-policies: build
	./$(BIN) test --policies policies --fixtures fixtures/scenarios

## bench: decode, stock OPA and full-pipeline throughput on this machine
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./runner/record ./runner/policy ./runner/pipeline
	./$(BIN) bench

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin var
