// Package etcd is the etcd side of a store adapter: the command line that
// starts one member of a static etcd 3.6 cluster, a client that invokes the
// operations the workloads need and says honestly whether each took effect,
// and a member's status and KV hash read through the Maintenance API.
//
// It knows nothing of Docker or of the harness: the backend runs the command
// in a node (docker.BuildEtcdImage builds an image holding /etcd), and the
// harness wires the client and Status into its interfaces.
package etcd

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Name is the store's name on the command line (--store) and in reports.
const Name = "etcd"

// Version is the etcd release the adapter speaks to: the client module in
// go.mod and the server docker.BuildEtcdImage builds are both at it.
const Version = "v3.6.17"

// Binary is the etcd server's path in the node image.
const Binary = "/etcd"

// Ports every member listens on, on all interfaces of its node.
const (
	ClientPort = 2379
	PeerPort   = 2380
)

// Raft timing of every member.
//
// They are etcd's own defaults, and deliberately so: a harness that tunes a
// store's timeouts away from what operators run tests something else. The
// election timeout is ten heartbeats, the ratio etcd's tuning guide asks for,
// so one lost or late heartbeat never starts an election while a dead or
// partitioned leader is replaced in about a second (pre-vote, on by default
// in 3.6, keeps a member that comes back from a partition from disrupting a
// healthy leader). Both are far above the round trip on a Docker bridge
// (well under a millisecond), so only injected faults cause elections: a
// pause or partition longer than ElectionTimeout does, a shorter one does
// not, and the nemesis can aim for either side.
const (
	HeartbeatInterval = 100 * time.Millisecond
	ElectionTimeout   = 1000 * time.Millisecond
)

// grpcKeepAliveMinTime is the shortest interval between a client's keepalive
// pings the server accepts (etcd's default is 5s). It must stay below
// clientKeepAliveTime or the server ends the client's connection with
// "too_many_pings".
const grpcKeepAliveMinTime = time.Second

// Command returns the command line (program first) that starts node as one
// member of a new static cluster. peers maps every member's name, node's
// included, to its address on the cluster network; dataDir holds the
// member's write-ahead log and database and must survive a restart of the
// node, which then rejoins from it (the --initial-* flags are ignored once a
// data dir exists).
//
// Every member of one cluster gets the same --initial-cluster and therefore
// the same --initial-cluster-token, derived from it: members of two clusters
// with different addresses never mistake each other's traffic for their own.
func Command(node string, peers map[string]string, dataDir string) []string {
	names := make([]string, 0, len(peers))
	for name := range peers {
		names = append(names, name)
	}
	sort.Strings(names)
	initial := make([]string, 0, len(names))
	for _, name := range names {
		initial = append(initial, name+"="+peerURL(peers[name]))
	}
	initialCluster := strings.Join(initial, ",")
	token := sha256.Sum256([]byte(initialCluster))
	ip := peers[node]
	return []string{Binary,
		"--name", node,
		"--data-dir", dataDir,
		"--listen-client-urls", "http://" + net.JoinHostPort("0.0.0.0", strconv.Itoa(ClientPort)),
		"--advertise-client-urls", clientURL(ip),
		"--listen-peer-urls", "http://" + net.JoinHostPort("0.0.0.0", strconv.Itoa(PeerPort)),
		"--initial-advertise-peer-urls", peerURL(ip),
		"--initial-cluster", initialCluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "faultline-" + hex.EncodeToString(token[:])[:12],
		"--heartbeat-interval", strconv.FormatInt(HeartbeatInterval.Milliseconds(), 10),
		"--election-timeout", strconv.FormatInt(ElectionTimeout.Milliseconds(), 10),
		"--grpc-keepalive-min-time", grpcKeepAliveMinTime.String(),
	}
}

func peerURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(PeerPort))
}

func clientURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(ClientPort))
}
