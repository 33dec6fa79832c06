//go:build tools

// Package tools pins the libraries behind the commands that build.sh builds
// (main packages cannot be imported, their app packages can), so `go mod tidy`
// keeps every requirement they need.
package tools

import (
	_ "k8s.io/component-base/cli"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
