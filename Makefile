# raftkv — the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_MODULES_STAMP := node_modules/.install-stamp
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js
SEEDS ?= 2000
SOAK_SECONDS ?= 600

.PHONY: help install build lint typecheck test run soak soak-fault sim-demo sim-replay bench bench-large etcd etcdctl35 bbolt openssl prometheus \
	manifests manifests-check monitoring-check clean

help:
	@echo "make run      build and start a local 3-member cluster on loopback"
	@echo "make test     lint, type-check and run the default test suite"
	@echo "make soak     run seeded simulations for SOAK_SECONDS (default $(SOAK_SECONDS))"
	@echo "make bench    raftkv vs etcd side by side, writes bench/RESULTS.md"
	@echo "make bench-large  a 1 GiB data set on both: restart and replacement times, writes bench/LARGE.md"
	@echo "make e2e      operator end-to-end tests in a local Kubernetes control plane"
	@echo "make manifests  regenerate the CRD, dashboard and deploy/ manifests"

install: $(NODE_MODULES_STAMP)
# `npm install` honours the lock file; `npm ci` refuses it here because the registry mirror lacks
# some other-platform optional binaries (darwin/win32 builds of msgpackr-extract), so they are not locked.
$(NODE_MODULES_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

build: install
	npx tsc -p tsconfig.json

lint: install
	npx eslint .
	npx prettier --check .

typecheck: install
	npx tsc -p tsconfig.json --noEmit

test: lint build etcd etcdctl35 bbolt openssl prometheus manifests-check monitoring-check
	SIM_SEEDS=$(SEEDS) $(JEST) --maxWorkers=2

# Generated files: the CRD (operator/api) and Grafana dashboard (operator/monitoring) from code,
# the plain manifests in deploy/ from the Helm chart (helm is built once with go install).
manifests: build
	node dist/operator/tools/gen-manifests.js
	deploy/render.sh

# deploy/ equals the chart's rendering and helm lint passes (generated-from-code files: jest).
manifests-check:
	deploy/render.sh --check

# The alert rules parse and fire on the series they should (promtool unit tests).
monitoring-check: prometheus
	promtool check rules charts/raftkv-operator/files/alerts.yaml
	cd test/monitoring && promtool test rules alerts.test.yaml

# Debian's Prometheus: the scrape test runs it against a local cluster; promtool checks the alerts.
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# A 3-member cluster on loopback (2379/22379/32379), data under ./data, Ctrl-C stops it.
run: build
	node dist/node/tools/run-local.js

# Debian's etcd-server is the reference the benchmark (and its short CI run) compares against;
# its etcdctl proves the gRPC API works with etcd's own client.
etcd:
	@command -v etcd >/dev/null && command -v etcdctl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client; }

# etcdctl 3.5, as etcd's users run it (Debian ships 3.4), built with Go once per machine: the
# tests find it through test/support/etcdctl/build.sh.
etcdctl35:
	@test/support/etcdctl/build.sh >/dev/null

# Go's bbolt command, built once per machine: `bbolt check` reads the etcd snapshots raftkv writes
# as etcd's own B+tree library does (test/cluster/etcd-export.test.ts).
bbolt:
	@test/support/bbolt.sh >/dev/null

# The TLS tests make throwaway certificates with the openssl command.
openssl:
	@command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl; }

# raftkv vs etcd side by side; writes bench/RESULTS.md (BENCH_SECONDS per workload).
BENCH_SECONDS ?= 15
bench: build etcd openssl
	node dist/test/bench/run-bench.js --seconds $(BENCH_SECONDS) --out bench/RESULTS.md

# A large data set (LARGE_MIB of live data) on raftkv and etcd: restart and volume-replacement
# times and peak memory; writes bench/LARGE.md.
LARGE_MIB ?= 1024
bench-large: build etcd
	node dist/test/bench/run-large.js --mib $(LARGE_MIB) --out bench/LARGE.md

soak: build
	node dist/test/sim/soak.js --seconds $(SOAK_SECONDS)

# Fault soak on real processes (kills, pauses, partitions, slow links and disks, power cuts,
# transfers and membership changes under recorded load and watches, then convergence, no lost
# writes, exact watches and linearizability); prints a summary table. See docs/fault.md.
FAULT_SEED ?= 1
soak-fault: build
	node dist/test/fault/soak.js --seconds $(SOAK_SECONDS) --seed $(FAULT_SEED)

# Replays one simulation with its event trace: make sim-replay SEED=42 MEMBERS=5
sim-demo: build
	node dist/test/sim/demo.js

sim-replay: build
	node dist/test/sim/replay.js --seed $(SEED) --members $(MEMBERS) $(if $(FIGURE8),--figure8)

clean:
	rm -rf dist coverage data

# End-to-end environment and tests (a real Kubernetes control plane on loopback).
-include test/e2e/e2e.mk
