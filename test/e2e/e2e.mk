# End-to-end environment: a real Kubernetes control plane (kube-apiserver +
# kube-controller-manager + kube-scheduler, pinned in test/e2e/tools/go.mod, storing their data
# in a 3-member raftkv cluster) on loopback, plus a pod runner standing in for the kubelet.
# See docs/e2e.md.
# Included from the top Makefile.
E2E_DIR := test/e2e
E2E_JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js -c $(E2E_DIR)/jest.e2e.config.js

.PHONY: e2e-env e2e-up e2e-down e2e e2e-test

# etcd from Debian + kube-* binaries built once per machine into $${RAFTKV_CACHE:-~/.cache/raftkv}.
e2e-env:
	@command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server; }
	@for t in ip:iproute2 openssl:openssl setsid:util-linux unshare:util-linux; do \
	  command -v $${t%%:*} >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $${t#*:}; }; \
	done
	@test -x /usr/local/go/bin/go || command -v go >/dev/null || { echo "e2e-env: Go is needed (/usr/local/go/bin/go) to build Kubernetes" >&2; exit 1; }
	@$(E2E_DIR)/tools/build.sh >/dev/null

# The store's members and the pod runner run from dist/.
e2e-up: e2e-env build
	@$(E2E_DIR)/env/up.sh >/dev/null
	@source $(E2E_DIR)/env/common.sh && export KUBECONFIG=$$STATE/kubeconfig && \
	  PATH="$$($(E2E_DIR)/tools/build.sh):$$PATH" && \
	  kubectl get --raw /readyz && echo && kubectl version

e2e-down:
	@$(E2E_DIR)/env/down.sh

# Runs the suite against whatever cluster KUBECONFIG points at (this one, or kind).
e2e-test:
	@source $(E2E_DIR)/env/common.sh && export KUBECONFIG=$${KUBECONFIG:-$$STATE/kubeconfig} && \
	  export PATH="$$($(E2E_DIR)/tools/build.sh):$$PATH" && $(E2E_JEST) --runInBand

e2e: e2e-up
	@rc=0; $(MAKE) --no-print-directory e2e-test || rc=$$?; $(MAKE) --no-print-directory e2e-down; exit $$rc

# The same suite on kind, where Docker exists (our Docker-less machines cannot run this; untested
# here). E2E_IMAGES: locally built images to `kind load` (none yet: the repo has no Dockerfile).
KIND_CLUSTER ?= raftkv-e2e
E2E_IMAGES ?=
.PHONY: e2e-kind
e2e-kind: install
	@command -v docker >/dev/null && command -v kind >/dev/null || { echo "e2e-kind needs docker and kind on PATH" >&2; exit 1; }
	kind create cluster --name $(KIND_CLUSTER) --wait 180s
	@for img in $(E2E_IMAGES); do kind load docker-image --name $(KIND_CLUSTER) $$img || exit 1; done
	@kc=$$(mktemp); kind get kubeconfig --name $(KIND_CLUSTER) > $$kc; \
	  command -v kubectl >/dev/null || export PATH="$$($(E2E_DIR)/tools/build.sh):$$PATH"; \
	  rc=0; KUBECONFIG=$$kc RAFTKV_E2E_PROVIDER=kind $(E2E_JEST) --runInBand -t '^(?!.*(fault injection|local control plane))' || rc=$$?; \
	  kind delete cluster --name $(KIND_CLUSTER); rm -f $$kc; exit $$rc
