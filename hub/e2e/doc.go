// Package e2e holds end-to-end tests that build and run the real binaries —
// gridedge-hub, gridedge-agent and gridedge sim — as separate processes, the
// way `make run` does, and check what reaches the hub's REST API.
package e2e
