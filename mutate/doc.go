// Package mutate measures how many bugs nobody planted faultline catches: it
// makes small faults in kvnode's own source (mutants), builds each one
// without touching the working tree, and asks two oracles whether they
// notice: kvnode's unit tests of the mutated package, and the harness, a
// sweep of simulated runs (faultline sim) judged by the usual checkers. The
// mutation score counts what the harness catches, over every mutant that
// builds and is not argued equivalent, because a user's store does not come
// with kvnode's unit tests; the unit tests' kills are reported beside it.
//
// A mutant is one edit of one expression or statement, found by walking the
// package's syntax trees (Enumerate): a negated condition, a comparison
// boundary moved (< and <=), == and != swapped, && and || swapped, + and -
// swapped, a +1 or -1 dropped (which is also how quorum arithmetic breaks:
// len(peers)/2+1 becomes len(peers)/2, matches[quorum-1] becomes
// matches[quorum]), true and false swapped, a call or an assignment
// removed, two arguments of a call swapped. Sites are listed in file order
// with a stable id, each with its unified diff; test files, generated
// files, String/Error methods, logging, error messages, metrics and panics
// (assertions whose removal changes nothing a correct run can see) are left
// alone. When there are more sites than the budget, a seeded order picks
// which ones run (each ranked by a hash of the seed and its id), so a
// campaign is reproducible from its seed and keeps its sample when sites
// are added elsewhere.
//
// A mutant is applied with the go command's -overlay flag: the mutated file
// is written to the campaign's directory and the build reads it in place of
// the original. The working tree is never written, so a campaign can run
// while someone edits the repository.
//
// Why not an existing tool: gremlins (go-gremlins/gremlins) and
// go-mutesting (avito-tech/go-mutesting) both judge a mutant by `go test`
// alone and apply it by rewriting the source file (gremlins in a copy of the
// module, go-mutesting in place and restoring it afterwards). Neither takes
// another oracle than the package's tests, which is the point here, and the
// in-place rewrite is unsafe in a shared working tree. The operators they
// share are a few dozen lines of go/ast each, so the package carries its own.
package mutate
