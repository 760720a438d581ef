// Command kvnode runs one node of faultline's reference replicated key-value
// store, or (kvnode bench) a local 3-node cluster under load.
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 for a runtime
// error (port in use, unwritable data dir, corrupt WAL, failed fsync), 2 for
// bad usage (an invalid flag).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/node/server"
)

const (
	exitRuntime = 1
	exitUsage   = 2
)

// usageError is a bad command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintf(os.Stderr, "kvnode: %s\n", firstLine(err))
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(exitUsage)
	}
	os.Exit(exitRuntime)
}

// firstLine keeps the one-line promise when several validation errors were
// joined: the first is enough to act on.
func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return msg[:i]
	}
	return msg
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(args[1:], stdout, stderr)
	}
	cfg, logLevel, cpuProfile, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		stopProfile, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// parseFlags turns the command line into a server configuration.
func parseFlags(args []string, stdout io.Writer) (cfg server.Config, level slog.Level, cpuProfile string, err error) {
	fs := flag.NewFlagSet("kvnode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		id               = fs.String("id", "", "this node's id, e.g. n1 (required)")
		peers            = fs.String("peers", "", "every node's peer address: n1=host:7000,n2=host:7000,... (required)")
		peerHTTP         = fs.String("peer-http", "", "every node's client address, used to forward to the leader: n1=host:8000,... (default: the peer's host with this node's client port)")
		dataDir          = fs.String("data-dir", "", "directory of the WAL and snapshots (required)")
		listenClient     = fs.String("listen-client", ":8000", "client (HTTP) listen address")
		listenPeer       = fs.String("listen-peer", ":7000", "peer (replication) listen address")
		tick             = fs.Duration("tick", 10*time.Millisecond, "period of the replication core's clock tick")
		electionTimeout  = fs.Duration("election-timeout", time.Second, "base election timeout (randomized in [t, 2t))")
		heartbeat        = fs.Duration("heartbeat-interval", 100*time.Millisecond, "leader heartbeat interval")
		readMode         = fs.String("read-mode", "index", "index (linearizable), lease (linearizable if clock rates drift < 10%), local (not linearizable)")
		requestTimeout   = fs.Duration("request-timeout", 2*time.Second, "how long a request waits to be applied before answering 504")
		segmentBytes     = fs.Int64("segment-bytes", 64<<20, "WAL segment size before rollover")
		snapshotEntries  = fs.Uint64("snapshot-entries", 100000, "take a snapshot every this many applied entries (nodes stagger theirs)")
		maxAppend        = fs.Int("max-append-entries", 256, "most log entries the leader sends in one append (a follower that lags more gets several)")
		maxInflight      = fs.Int("max-inflight-appends", 64, "most appends the leader has unacknowledged per follower (the request pipeline's depth)")
		enableFaultHooks = fs.Bool("enable-fault-hooks", false, "register POST /admin/clock and /admin/crash-point (clock, voter-crash and figure-8 nemeses); off in production")
		unsafeList       = fs.String("unsafe", "", "deliberately unsafe switches, comma-separated: "+strings.Join(server.UnsafeNames(), ","))
		secretFile       = fs.String("cluster-secret-file", "", "file holding the cluster secret (at least 16 bytes; surrounding whitespace is trimmed): every peer must prove it knows the same secret before it may replicate. Without a secret the peer port is unauthenticated")
		secretLiteral    = fs.String("cluster-secret", "", "the cluster secret itself; visible to anyone who can list processes (ps, /proc): prefer --cluster-secret-file")
		maxPeerFrame     = fs.Int64("max-peer-frame-bytes", 0, "largest peer frame sent or accepted, the same on every node; 0: sized for the largest append (--max-append-entries x about 4 MiB) and at least 256 MiB for snapshots")
		logLevel         = fs.String("log-level", "info", "debug, info, warn or error")
	)
	fs.StringVar(&cpuProfile, "cpu-profile", "", "write a Go CPU profile to this file until shutdown (for tuning)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: kvnode --id n1 --peers n1=host:7000,n2=... --data-dir DIR --cluster-secret-file FILE [flags]\n       kvnode bench [flags]  (kvnode bench --help)\n\nflags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return cfg, 0, "", err
		}
		return cfg, 0, "", usageError{fmt.Errorf("%w (run kvnode --help for the flags)", err)}
	}
	if fs.NArg() > 0 {
		return cfg, 0, "", usageError{fmt.Errorf("unexpected argument %q: kvnode takes only flags (or the bench subcommand)", fs.Arg(0))}
	}

	cfg = server.Config{
		ID: *id, DataDir: *dataDir, ListenClient: *listenClient, ListenPeer: *listenPeer,
		Tick: *tick, ElectionTimeout: *electionTimeout, HeartbeatInterval: *heartbeat,
		RequestTimeout: *requestTimeout, SegmentBytes: *segmentBytes, SnapshotEntries: *snapshotEntries,
		EnableFaultHooks: *enableFaultHooks, MaxEntriesPerAppend: *maxAppend, MaxInflightAppends: *maxInflight,
		MaxPeerFrameBytes: *maxPeerFrame,
	}
	if cfg.ClusterSecret, err = clusterSecret(*secretFile, *secretLiteral); err != nil {
		return cfg, 0, "", err
	}
	if *maxAppend < 1 {
		return cfg, 0, "", usageError{fmt.Errorf("--max-append-entries %d: send at least one entry per append, e.g. --max-append-entries 256", *maxAppend)}
	}
	if *maxInflight < 1 {
		return cfg, 0, "", usageError{fmt.Errorf("--max-inflight-appends %d: allow at least one append in flight, e.g. --max-inflight-appends 64", *maxInflight)}
	}
	if cfg.ReadMode, err = server.ParseReadMode(*readMode); err != nil {
		return cfg, 0, "", usageError{fmt.Errorf("--read-mode: %w", err)}
	}
	if cfg.Unsafe, err = server.ParseUnsafe(*unsafeList); err != nil {
		return cfg, 0, "", usageError{fmt.Errorf("--unsafe: %w", err)}
	}
	if cfg.Peers, err = parseAddrMap(*peers, "--peers"); err != nil {
		return cfg, 0, "", usageError{err}
	}
	if *peerHTTP != "" {
		if cfg.PeerHTTP, err = parseAddrMap(*peerHTTP, "--peer-http"); err != nil {
			return cfg, 0, "", usageError{err}
		}
	} else if cfg.PeerHTTP, err = defaultPeerHTTP(cfg.Peers, *listenClient); err != nil {
		return cfg, 0, "", usageError{err}
	}
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, 0, "", usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, 0, "", usageError{err}
	}
	return cfg, level, cpuProfile, nil
}

// maxSecretFileBytes bounds what --cluster-secret-file reads, so a path to
// a device or a huge file fails instead of filling memory.
const maxSecretFileBytes = 4096

// clusterSecret returns the secret from --cluster-secret-file (its content,
// surrounding whitespace trimmed) or --cluster-secret; nil when neither is
// given. A file that cannot be read is a runtime error (exit 1); giving both
// flags, or an empty secret, is a usage error. The secret itself never
// appears in an error.
func clusterSecret(path, literal string) ([]byte, error) {
	switch {
	case path != "" && literal != "":
		return nil, usageError{errors.New("--cluster-secret-file and --cluster-secret both given: keep --cluster-secret-file")}
	case literal != "":
		secret := strings.TrimSpace(literal)
		if secret == "" {
			return nil, usageError{errors.New("--cluster-secret is blank: give a secret of at least 16 bytes, or better --cluster-secret-file")}
		}
		return []byte(secret), nil
	case path == "":
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read --cluster-secret-file: %w (create it, e.g. head -c 32 /dev/urandom | base64 > %s, with the same content on every node)", err, path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read --cluster-secret-file %s: %w", path, err)
	}
	if len(b) > maxSecretFileBytes {
		return nil, usageError{fmt.Errorf("--cluster-secret-file %s is longer than %d bytes: is it the right file? a 32-byte random secret is plenty", path, maxSecretFileBytes)}
	}
	secret := bytes.TrimSpace(b)
	if len(secret) == 0 {
		return nil, usageError{fmt.Errorf("--cluster-secret-file %s is empty: write a secret of at least 16 bytes to it, e.g. head -c 32 /dev/urandom | base64 > %s", path, path)}
	}
	return secret, nil
}

// startCPUProfile profiles the process until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// parseAddrMap parses id=host:port,id=host:port.
func parseAddrMap(s, flagName string) (map[string]string, error) {
	m := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addr, ok := strings.Cut(item, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("%s: %q is not id=host:port (e.g. %s n1=10.0.0.11:7000,n2=10.0.0.12:7000)", flagName, item, flagName)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: address %q of %s is not host:port", flagName, addr, id)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("%s: node %s is listed twice", flagName, id)
		}
		m[id] = addr
	}
	return m, nil
}

// defaultPeerHTTP uses each peer's host with this node's client port: the
// layout of a cluster where every node listens on the same ports.
func defaultPeerHTTP(peers map[string]string, listenClient string) (map[string]string, error) {
	_, port, err := net.SplitHostPort(listenClient)
	if err != nil {
		return nil, fmt.Errorf("--listen-client %q is not host:port (e.g. :8000)", listenClient)
	}
	ids := make([]string, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	m := make(map[string]string, len(peers))
	for _, id := range ids {
		host, _, err := net.SplitHostPort(peers[id])
		if err != nil {
			return nil, fmt.Errorf("--peers: address %q of %s is not host:port", peers[id], id)
		}
		m[id] = net.JoinHostPort(host, port)
	}
	return m, nil
}
