package kvnode

import (
	"time"

	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/sut"
)

// bug is one catalogue entry: the configuration that exposes the unsafe
// switch Name, with the node configuration as a typed Config.
type bug struct {
	entry sut.Bug
	node  Config
}

// catalogue is kvnode's bug zoo, one entry per unsafe switch. The
// configurations were tuned against real containers (see the README's bug
// zoo table for the measured detection rates and times).
var catalogue = []bug{
	{entry: sut.Bug{
		Name: server.UnsafeStaleRead, Workload: "register", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why: "a node cut off by a partition keeps answering reads from its own state while the majority side elects a new leader and accepts new writes",
	}},
	{entry: sut.Bug{
		Name: server.UnsafeAckBeforeQuorum, Workload: "set", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 50,
		Why: "a leader isolated in a minority acknowledges appends only it holds; the majority's new leader never sees them and the heal truncates them, so final reads lack acknowledged elements",
	}},
	{entry: sut.Bug{
		Name: server.UnsafeNoGenerationCheck, Workload: "register", Nemesis: "stale-leader", NemesisInterval: 4 * time.Second, Nodes: 3,
		RequestTimeout: 500 * time.Millisecond,
		Why:            "the leader is frozen until the others elect a new one, then thawed cut off from the new leader only, still believing it leads: followers that skip the generation check take its appends and confirm its reads, so two leaders serve at once (a 500 ms request timeout: its clients, stuck while it was frozen, soon send it new requests)",
	}, node: Config{ElectionTimeout: 2 * time.Second}},
	{entry: sut.Bug{
		Name: server.UnsafeForgetVote, Workload: "set", Nemesis: "voter-crash", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		Why: "the leader is killed and the voter of the next election crashes right after voting (a crash point); with the winner cut off, the voter restarts next to the old leader and, having forgotten its vote, elects it in the winner's generation: two leaders of one generation (the leaders checker sees both), whose entries share indexes and generation, so the winner keeps its own where the other committed acknowledged appends, and serves reads without them once it leads again",
	}},
	{entry: sut.Bug{
		Name: server.UnsafeLeaseWallclock, Workload: "register", Nemesis: "skewed-leader", NemesisInterval: time.Second, Nodes: 3,
		RequestTimeout: 500 * time.Millisecond,
		Why:            "the leader is cut off and its wall clock jumped back: a lease measured on that clock outlives the check-quorum round that deposes it, so it goes on serving reads from its local state after the others elected a new leader and took writes, until the heal brings it their generation (a 500 ms request timeout: its clients' writes give up and they go on reading)",
	}, node: Config{ReadMode: server.ReadLease, ElectionTimeout: 2 * time.Second}},
	{entry: sut.Bug{
		Name: server.UnsafeCommitOldGeneration, Workload: "set", Nemesis: "figure-8", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		RequestTimeout: 30 * time.Second,
		Why:            "the leader is cut off while its clients' appends wait in its log (up to 30 s); the winner of the next election keeps its own entries (its voter crashes after voting) and is cut off in turn; the old leader leads again and, one-entry append at a time, brings the voter its earlier-generation appends: counting replicas it commits them and answers their clients before its no-op leaves it, and it crashes at the last (a crash point); the voter, whose last entry is then older than the winner's, elects the winner, which overwrites them (Raft figure 8)",
	}, node: Config{MaxAppendEntries: 1, MaxInflightAppends: 1, RequestTimeout: 30 * time.Second}},
	{entry: sut.Bug{
		Name: server.UnsafeSkipFsync, Workload: "set", Nemesis: "kill", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		Why: "every kill drops the killed node's unsynced last second of log: a killed majority or whole cluster loses acknowledged appends (final reads lack them), a killed follower forgets entries the leader counted and is never repaired (replicas diverge)",
	}},
}

// Bugs returns kvnode's bug zoo in catalogue order, with each entry's node
// configuration rendered as flags and its switch as --unsafe=<name>.
func Bugs() []sut.Bug {
	out := make([]sut.Bug, len(catalogue))
	for i, b := range catalogue {
		e := b.entry
		e.NodeFlags = b.node.Flags()
		e.UnsafeFlags = Config{Unsafe: []string{e.Name}}.Flags()
		out[i] = e
	}
	return out
}
