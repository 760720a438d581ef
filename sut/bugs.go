package sut

import "time"

// Bug is one entry of a store's bug zoo: a deliberately unsafe switch of
// the store and the test configuration that should expose it. The store's
// adapter writes the catalogue; the harness runs it, with the switch and
// without (the correct node under the same faults).
type Bug struct {
	// Name is the unsafe switch.
	Name     string
	Workload string
	// Nemesis is the fault list, as --nemesis takes it (comma-separated).
	Nemesis         string
	NemesisInterval time.Duration
	// Nodes is the cluster size.
	Nodes int
	// OpsPerKey, when set, replaces the base spec's ops per key: fewer ops
	// per key keep porcupine fast on histories full of indeterminate ops.
	OpsPerKey int
	// NodeFlags are passed to every node, of the unsafe and of the correct
	// runs (e.g. --read-mode=lease).
	NodeFlags []string
	// UnsafeFlags turn the switch on: passed after NodeFlags in the
	// unsafe runs only.
	UnsafeFlags []string
	// RequestTimeout, when set, replaces the base spec's client request
	// timeout: a short one frees clients stuck on a node that cannot commit
	// to go on reading from it.
	RequestTimeout time.Duration
	// Why says in one line why this configuration exposes the bug.
	Why string
	// Missing, when set, says why no run of this configuration has caught
	// the bug yet and what the harness lacks to do so. The bug still runs
	// (and fails `faultline bugs`), so the gap stays visible.
	Missing string
}
