// Package kubeupgrade runs this module's HTTP/1.1 Upgrade to SPDY/3.1
// (package npn) against peers that do what Kubernetes does, written in the
// tests on net/http and github.com/moby/spdystream v0.5.1 (Kubernetes'
// SPDY library): a server that answers the upgrade as kubelet and the API
// server do and serves exec streams (our npn.DialUpgrade client against
// it), and a client that upgrades and opens port-forward streams as
// client-go does (against our npn.Upgrade server). It has tests only.
package kubeupgrade
