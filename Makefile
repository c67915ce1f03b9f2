# Vigil — two commands matter: `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/vigil-risk/vigil/runner/buildinfo.version=$(VERSION)
BIN     := bin/vigil

# The image: FROM scratch unless BASE names another base (e.g.
# gcr.io/distroless/static-debian12:nonroot); tagged IMAGE:IMAGE_TAG.
IMAGE           ?= vigil
IMAGE_TAG       ?= $(VERSION)
BASE            ?= scratch
SOURCE          ?= https://github.com/vigil-risk/vigil
COMMIT          := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# the bundle's revision: the commit, -dirty when the policies have changes
POLICY_REVISION ?= $(shell rev=$$(git rev-parse --short=12 HEAD 2>/dev/null) || rev=unknown; \
	[ -z "$$(git status --porcelain -- policies 2>/dev/null)" ] || rev=$$rev-dirty; echo $$rev)
SIGNING_KEY     ?=
BUNDLE          ?= dist/bundle.tar.gz

# testcontainers must never try to pull its reaper image (no registry here);
# the value must be exactly lowercase "true".
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: build run test test-go test-policies bench lint actionlint bundle image-context image clean

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

## bundle: the policies as an OPA bundle (signed with SIGNING_KEY when set)
bundle: build
	./$(BIN) bundle build --policies policies --out $(BUNDLE) --revision $(POLICY_REVISION) $(if $(SIGNING_KEY),--signing-key $(SIGNING_KEY))

## image-context: what the Dockerfile copies, staged in dist/image (the image
## has no shell, so its directories are made here)
image-context: build
	rm -rf dist/image
	mkdir -p dist/image/rootfs/tmp dist/image/rootfs/etc/ssl/certs dist/image/state
	chmod 1777 dist/image/rootfs/tmp
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/vigil:/sbin/nologin\n' > dist/image/rootfs/etc/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > dist/image/rootfs/etc/group
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt dist/image/rootfs/etc/ssl/certs/; fi
	./$(BIN) bundle build --policies policies --out dist/image/bundle.tar.gz --revision $(POLICY_REVISION) $(if $(SIGNING_KEY),--signing-key $(SIGNING_KEY))

## image: the runner image, built without pulling anything (FROM scratch)
image: image-context
	docker build --pull=false \
		--build-arg BASE=$(BASE) \
		--build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(COMMIT) \
		--build-arg SOURCE=$(SOURCE) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
		--build-arg POLICY_REVISION=$(POLICY_REVISION) \
		-t $(IMAGE):$(IMAGE_TAG) .

## bench: the hot packages' Go benchmarks, then vigil bench (decode floor, stock OPA, Vigil; the sidecar when opa is on PATH)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./runner/record ./runner/policy ./runner/pipeline
	./$(BIN) bench

.PHONY: bench-compare profile

# The OPA release vigil embeds, built as a binary for the sidecar comparison.
OPA_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
OPA_BIN     = bin/opa-$(OPA_VERSION)

$(OPA_BIN):
	@mkdir -p bin
	tmp=$$(mktemp -d) && cd $$tmp && $(GO) mod init opa-sidecar >/dev/null 2>&1 && \
		$(GO) get github.com/open-policy-agent/opa@$(OPA_VERSION) && \
		CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$(OPA_BIN) github.com/open-policy-agent/opa; \
		status=$$?; rm -rf $$tmp; exit $$status

## bench-compare: Vigil side by side with stock embedded OPA and an `opa run --server` sidecar, plus load on /v1/decide
bench-compare: build $(OPA_BIN)
	mkdir -p var/bench && ln -sf $(CURDIR)/$(OPA_BIN) var/bench/opa
	PATH=$(CURDIR)/var/bench:$$PATH ./$(BIN) bench --records $(or $(RECORDS),20000) --runs $(or $(RUNS),5)

## profile: CPU and allocation profiles of a replay of 200k demo records (var/profile), and their tops
profile: build
	mkdir -p var/profile
	$(GO) run ./runner/bench/cmd/benchrecords -n $(or $(RECORDS),200000) > var/profile/records.jsonl
	./$(BIN) replay --summary --cpuprofile var/profile/cpu.pprof --memprofile var/profile/allocs.pprof var/profile/records.jsonl
	$(GO) tool pprof -top -nodecount=30 var/profile/cpu.pprof
	$(GO) tool pprof -top -cum -nodecount=40 var/profile/cpu.pprof
	$(GO) tool pprof -sample_index=alloc_objects -top -nodecount=25 var/profile/allocs.pprof

## lint: formatting, vet and the GitHub workflows
lint: actionlint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# actionlint v1.7.12 from its own module (tools/actionlint): offline once cached
actionlint:
	$(GO) tool -modfile=tools/actionlint/go.mod actionlint -no-color .github/workflows/*.yml

clean:
	rm -rf bin var dist
