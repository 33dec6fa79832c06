#!/usr/bin/env bash
# Builds helm (pinned below) with `go install` once per machine and prints the binary's path.
set -euo pipefail
version=v3.19.5
exec "$(dirname "${BASH_SOURCE[0]}")/../../support/go-tool.sh" helm "$version" . "helm.sh/helm/v3/cmd/helm@$version"
