# GridEdge — `make run` starts the demo, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gridedge/gridedge/shared/version.Version=$(VERSION)
BIN := bin
MODULES := shared edge hub

.PHONY: all build build-arm run test test-unit test-arm vet lint bench soak fuzz fmt clean
.PHONY: pkg-tool packages firmware test-packages ui run-cluster

all: build

## build: the three binaries for this machine, in bin/
build:
	@mkdir -p $(BIN)
	cd edge && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o ../$(BIN)/ ./cmd/gridedge-agent ./cmd/gridedge
	cd hub && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o ../$(BIN)/ ./cmd/gridedge-hub

## build-arm: static agent binaries for linux/arm (GOARM=7) and linux/arm64, in bin/
build-arm:
	@mkdir -p $(BIN)
	cd edge && CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o ../$(BIN)/gridedge-agent-linux-armv7 ./cmd/gridedge-agent
	cd edge && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o ../$(BIN)/gridedge-agent-linux-arm64 ./cmd/gridedge-agent

## run: hub + edge agent + simulated Modbus devices from examples/demo, until Ctrl-C
run: build
	@scripts/run-demo.sh

## run-cluster: three hub nodes in a NATS cluster on MongoDB and VictoriaMetrics, two agents; kill -9 a node to watch a failover (docs/scaling.md)
run-cluster: build
	@scripts/run-cluster.sh

## ui: vendor the web console's npm libraries (web/package-lock.json) into hub/console/ui/vendor/ (commit the result)
ui:
	cd web && npm ci --no-audit --no-fund --ignore-scripts && node vendor.mjs

## vet: go vet on every module
vet:
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

## lint: gofmt, vet and staticcheck (when installed)
lint: vet
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@sc=$$(command -v staticcheck || echo "$$($(GO) env GOPATH)/bin/staticcheck"); \
	if [ -x "$$sc" ]; then for m in $(MODULES); do (cd $$m && $$sc ./...) || exit 1; done; \
	elif [ "$${GRIDEDGE_REQUIRE_INTEROP:-0}" = 1 ]; then echo "staticcheck not installed (scripts/install-test-deps.sh installs it)"; exit 1; \
	else echo "staticcheck not installed: skipped (scripts/install-test-deps.sh installs it)"; fi

## test: lint, unit and end-to-end tests with the race detector, the ARM start check and the packages
test: lint test-unit test-arm test-packages

test-unit:
	@for m in $(MODULES); do echo "== go test -race ./... in $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 15m ./...) || exit 1; done

## test-arm: cross-compile the agent and start it under qemu-user
test-arm: build-arm
	@scripts/test-arm.sh $(BIN)

DIST := dist
PROFILES := $(basename $(notdir $(wildcard firmware-profiles/*.yaml)))
# reproducible packages: every file stamped with the last commit's time
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
STATIC_BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'

pkg-tool:
	@mkdir -p $(BIN)
	cd edge && $(GO) build -o ../$(BIN)/gridedge-pkg ./cmd/gridedge-pkg

## packages: .deb of the agent (amd64, armhf, arm64) and the hub (amd64, arm64) in dist/, and every firmware profile's (make firmware)
packages: pkg-tool
	@rm -f $(DIST)/gridedge-agent_*.deb $(DIST)/gridedge-hub_*.deb
	@set -e; for t in amd64:amd64: armhf:arm:7 arm64:arm64:; do \
	  deb=$${t%%:*}; rest=$${t#*:}; goarch=$${rest%%:*}; goarm=$${rest#*:}; \
	  mkdir -p $(DIST)/build/$$deb; \
	  echo "== gridedge-agent for $$deb"; \
	  (cd edge && GOOS=linux GOARCH=$$goarch GOARM=$$goarm $(STATIC_BUILD) -o ../$(DIST)/build/$$deb/ ./cmd/gridedge-agent); \
	  $(BIN)/gridedge-pkg agent --arch $$deb --unit firmware-profiles/systemd/gridedge-agent.service \
	    --binary $(DIST)/build/$$deb/gridedge-agent --version $(VERSION) --out $(DIST); \
	done
	@set -e; for deb in amd64 arm64; do \
	  mkdir -p $(DIST)/build/$$deb; \
	  echo "== gridedge-hub for $$deb"; \
	  (cd hub && GOOS=linux GOARCH=$$deb $(STATIC_BUILD) -o ../$(DIST)/build/$$deb/ ./cmd/gridedge-hub); \
	  $(BIN)/gridedge-pkg hub --arch $$deb --unit firmware-profiles/systemd/gridedge-hub.service \
	    --binary $(DIST)/build/$$deb/gridedge-hub --version $(VERSION) --out $(DIST); \
	done
	@for p in $(PROFILES); do $(MAKE) --no-print-directory firmware PROFILE=$$p PKG_TOOL_BUILT=1 || exit 1; done

## firmware: PROFILE=name: the agent package and first-boot bundle of firmware-profiles/NAME.yaml, in dist/firmware/NAME/
firmware: $(if $(PKG_TOOL_BUILT),,pkg-tool)
	@if [ -z "$(PROFILE)" ]; then echo "usage: make firmware PROFILE=name (one of: $(PROFILES))"; exit 2; fi
	@if [ ! -f firmware-profiles/$(PROFILE).yaml ]; then echo "no firmware profile firmware-profiles/$(PROFILE).yaml (profiles: $(PROFILES))"; exit 2; fi
	@set -e; target=$$($(BIN)/gridedge-pkg target --profile firmware-profiles/$(PROFILE).yaml); \
	out=$(DIST)/firmware/$(PROFILE); rm -rf $$out; mkdir -p $$out/build; \
	echo "== firmware $(PROFILE): gridedge-agent for $$target"; \
	(cd edge && env $$target $(STATIC_BUILD) -o ../$$out/build/gridedge-agent ./cmd/gridedge-agent); \
	$(BIN)/gridedge-pkg agent --profile firmware-profiles/$(PROFILE).yaml --bundle \
	  --binary $$out/build/gridedge-agent --version $(VERSION) --out $$out

## test-packages: build the packages, install the amd64 ones with dpkg (as root), check and purge them; ARM binaries under qemu
test-packages: packages
	@scripts/test-packages.sh $(DIST)

## bench: every benchmark, figures printed as tables (about 15 minutes)
bench:
	@for m in $(MODULES); do echo "== go test -bench in $$m"; (cd $$m && $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...) || exit 1; done
	@echo "== scale: 500 Modbus TCP devices × 30 tags polled every second"
	cd edge && GRIDEDGE_BENCH_SCALE=25s $(GO) test -run '^$$' -bench '^BenchmarkScale500$$' -benchtime 1x -count=1 -timeout 5m ./poller/
	@echo "== e2e scale: real agent, hub and simulator; 500 Modbus TCP devices × 30 tags every second, then an idle agent (2 devices)"
	cd hub && GRIDEDGE_BENCH_SCALE_E2E=60s $(GO) test -run '^$$' -bench '^Benchmark(ScaleAgent|IdleAgent)$$' -benchtime 1x -count=1 -timeout 20m ./e2e/

## soak: the fault-injection scenarios, repeated (GRIDEDGE_SOAK_ROUNDS, default 5)
soak: build
	cd hub && for i in $$(seq 1 $${GRIDEDGE_SOAK_ROUNDS:-5}); do echo "== soak round $$i"; $(GO) test -count=1 -run 'TestFault' -timeout 30m ./e2e/ || exit 1; done

## fuzz: every go test -fuzz target for FUZZTIME each (default 5m; CI runs 3s each)
fuzz:
	FUZZTIME=$${FUZZTIME:-5m} scripts/fuzz.sh

fmt:
	gofmt -w $(MODULES)

clean:
	rm -rf $(BIN) $(DIST) data/demo
