// Package campaign runs many tests: a suite over a workload × nemesis
// matrix, an exploration of random configurations within a budget, and a
// store's bug zoo (each unsafe switch, and the correct node, under the faults
// that should expose it). It writes what a nightly job reads: JUnit XML, the
// explore and bug-zoo logs, and it keeps the store bounded (retention).
// Each run is harness.Run's; campaign only decides which runs to make and
// sums them up.
package campaign
