//go:build tools

// Package tools pins etcdctl 3.5 (the packages its main imports; a main package cannot be), so
// `go mod tidy` keeps every requirement build.sh needs.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv2"
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv3"
)
