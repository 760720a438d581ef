package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/sut/etcd"
	"github.com/faultline/faultline/sut/kvnode"
	"github.com/faultline/faultline/workloads"
)

// storeUnderTest is one store's adapter, wired to the Docker backend: how to
// build its image, what its nodes are in containers, and how the workloads'
// clients reach it.
type storeUnderTest struct {
	name string
	// version says which build of the store runs, for the run page.
	version func() string
	// image builds (or reuses) the node image.
	image func(ctx context.Context) (string, error)
	// node returns the node spec for one run: spec.NodeFlags are the
	// store's own extra flags.
	node func(spec harness.Spec) (docker.NodeSpec, error)
	// client makes a workload client for one logical process.
	client harness.ClientFactory
	// clockHook and crashPoints say which fault hooks the store has; a
	// fault that needs a missing one is refused before anything starts.
	clockHook, crashPoints bool
	// notInAll are the fault kinds "all" (and --explore's default pool)
	// leaves out for this store: those it has no hook for, and those its
	// operators would not survive as the fault plays them.
	notInAll []string
	// checkFlags refuses node flags the store would refuse, before
	// anything starts; nil: the store's flags are passed on unchecked.
	checkFlags func(flags []string) error
	// sampleNode draws a node configuration for --explore; nil: explored
	// runs use the store's defaults and --node-flags.
	sampleNode campaign.NodeSampler
	// bugs is the store's bug zoo (faultline bugs); nil: none.
	bugs campaign.Catalogue
}

// validateFlags checks --node-flags with the store's adapter, as bad
// arguments.
func (s storeUnderTest) validateFlags(flags []string) error {
	if s.checkFlags == nil {
		return nil
	}
	if err := s.checkFlags(flags); err != nil {
		return &harness.UsageError{Err: fmt.Errorf("--node-flags: %w", err)}
	}
	return nil
}

// StoreName, HasClockHook and HasCrashPoints tell nemesis.CheckHooks what
// the store offers.
func (s storeUnderTest) StoreName() string    { return s.name }
func (s storeUnderTest) HasClockHook() bool   { return s.clockHook }
func (s storeUnderTest) HasCrashPoints() bool { return s.crashPoints }

// checkFaults refuses, as bad arguments, faults the store cannot take.
func (s storeUnderTest) checkFaults(faults []string) error {
	if err := nemesis.CheckHooks(s, faults); err != nil {
		return &harness.UsageError{Err: err}
	}
	return nil
}

// storesUnderTest lists the stores faultline can test, by --sut name.
var storesUnderTest = map[string]storeUnderTest{
	kvnode.Name: {
		name:    kvnode.Name,
		version: moduleVersion,
		image: func(ctx context.Context) (string, error) {
			return kvnode.BuildImage(ctx, docker.ImageOptions{Logger: slog.Default()})
		},
		node:        func(spec harness.Spec) (docker.NodeSpec, error) { return kvnode.NodeSpec(spec.NodeFlags) },
		clockHook:   true,
		crashPoints: true,
		checkFlags: func(flags []string) error {
			_, err := kvnode.ParseConfig(flags)
			return err
		},
		sampleNode: kvnode.SampleNodeFlags,
		bugs:       kvnode.Bugs(),
		client: func(endpoint, clientID string, timeout time.Duration) workloads.Client {
			return kvnode.NewClient(endpoint, kvnode.ClientOptions{ClientID: clientID, Timeout: timeout})
		},
	},
	etcd.Name: {
		name:    etcd.Name,
		version: func() string { return etcd.Version },
		image: func(ctx context.Context) (string, error) {
			return etcd.BuildImage(ctx, docker.EtcdImageOptions{Logger: slog.Default()})
		},
		node: func(spec harness.Spec) (docker.NodeSpec, error) { return etcd.NodeSpec(spec.NodeFlags), nil },
		client: func(endpoint, _ string, timeout time.Duration) workloads.Client {
			return etcd.NewWorkloadClient(endpoint, etcd.ClientOptions{Timeout: timeout})
		},
		// No clock hook and no crash points. disk-loss: an etcd member
		// that lost its data dir must be removed and re-added (etcd's
		// documented procedure), which the fault does not do, so "all"
		// leaves it out; it can still be asked for by name.
		notInAll: []string{nemesis.KindClock, nemesis.KindSkewedLeader, nemesis.KindVoterCrash, nemesis.KindFigure8, nemesis.KindDiskLoss},
	},
}

// sutNames lists the --sut values.
func sutNames() []string {
	var names []string
	for n := range storesUnderTest {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// lookupSUT returns the store named by --sut, or a usage error listing them.
func lookupSUT(name string) (storeUnderTest, error) {
	s, ok := storesUnderTest[name]
	if !ok {
		return storeUnderTest{}, harness.Usagef("--sut %q: unknown store; choose one of %s", name, strings.Join(sutNames(), ", "))
	}
	return s, nil
}

// moduleVersion is this build of faultline (and so of kvnode): the VCS
// revision the binary was built from, when the build recorded one.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev == "" {
		return "faultline " + info.Main.Version
	}
	return fmt.Sprintf("faultline %s%s", rev[:min(12, len(rev))], modified)
}

// parseFaultsFor parses a --nemesis value for the store named sutName: "all"
// means the basic kinds that store can take (etcd has no clock hook, so its
// "all" has no clock); a kind named outright is kept, and the nemesis refuses
// it with a message naming the store if the store cannot take it.
func parseFaultsFor(sutName, value string) ([]string, error) {
	faults, err := nemesis.ParseFaults(value)
	if err != nil {
		return nil, err
	}
	store, ok := storesUnderTest[sutName]
	if !ok || len(store.notInAll) == 0 {
		return faults, nil
	}
	named := map[string]bool{}
	for _, tok := range strings.Split(value, ",") {
		named[strings.ToLower(strings.TrimSpace(tok))] = true
	}
	if !named["all"] {
		return faults, nil
	}
	return slices.DeleteFunc(faults, func(k string) bool { return slices.Contains(store.notInAll, k) && !named[k] }), nil
}
