package kvnode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/docker"
)

// Ports and paths of a kvnode node in its container.
const (
	ClientPort = 8000
	PeerPort   = 7000
	// DataDir is the node's data dir, in the container's writable layer.
	DataDir = "/data"
	// SecretPath is the cluster secret file, copied in before the node
	// starts (the image is FROM scratch: its root is the only directory
	// sure to exist).
	SecretPath = "/cluster-secret"
	// walSuffix names kvnode's WAL segments; disk-loss's torn-tail cuts the
	// newest.
	walSuffix = ".wal"
)

// Command is kvnode's Go main package, compiled into the node image.
const Command = "./cmd/kvnode"

// statusTimeout bounds one status or fault-hook call made through the node
// spec (the backend also bounds it by its own StatusTimeout).
const statusTimeout = 5 * time.Second

// NodeSpec returns what a kvnode node is in a container: its command line
// (every node gets flags after the generated ones), ports, data dir, a fresh
// cluster secret for this cluster (as a file, never a flag), and its status
// and fault hooks. The nodes run with --enable-fault-hooks, which the clock
// and crash-point faults need. The flags are checked with ParseConfig and
// passed on as given.
func NodeSpec(flags []string) (docker.NodeSpec, error) {
	if _, err := ParseConfig(flags); err != nil {
		return docker.NodeSpec{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return docker.NodeSpec{}, err
	}
	admin := Admin{HTTP: NewHTTPClient(), Timeout: statusTimeout}
	return docker.NodeSpec{
		Store: Name,
		Command: func(node string, members []docker.Member) []string {
			return append(nodeCommand(node, members), flags...)
		},
		ClientPort:    ClientPort,
		PeerPort:      PeerPort,
		DataDir:       DataDir,
		LogFileSuffix: walSuffix,
		Files:         []docker.File{{Path: SecretPath, Content: secret, Mode: 0o400}},
		Status:        admin.Status,
		Peek:          admin.Peek,
		Clock:         admin.Clock,
		CrashPoint:    admin.CrashPoint,
	}, nil
}

// nodeCommand is kvnode's command line for one member of the cluster.
func nodeCommand(node string, members []docker.Member) []string {
	var peers, peerHTTP []string
	for _, m := range members {
		peers = append(peers, fmt.Sprintf("%s=%s:%d", m.Name, m.IP, PeerPort))
		peerHTTP = append(peerHTTP, fmt.Sprintf("%s=%s:%d", m.Name, m.IP, ClientPort))
	}
	return []string{"/kvnode",
		"--id", node,
		"--peers", strings.Join(peers, ","),
		"--peer-http", strings.Join(peerHTTP, ","),
		"--data-dir", DataDir,
		"--listen-client", fmt.Sprintf(":%d", ClientPort),
		"--listen-peer", fmt.Sprintf(":%d", PeerPort),
		"--enable-fault-hooks",
		"--cluster-secret-file", SecretPath,
	}
}

// newSecret is a fresh cluster secret: 32 random bytes, hex, so the file
// reads the same in any editor and kvnode's whitespace trimming is moot.
func newSecret() ([]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("random cluster secret: %w", err)
	}
	return []byte(hex.EncodeToString(b[:])), nil
}

// BuildImage builds (or reuses) the kvnode node image.
func BuildImage(ctx context.Context, opts docker.ImageOptions) (string, error) {
	opts.Commands = []string{Command}
	return docker.BuildImage(ctx, opts)
}
