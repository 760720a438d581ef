// Package docker is faultline's Docker backend: it builds the node image from
// host-built static binaries (nothing is ever pulled), runs a kvnode cluster
// in containers on a private network with static IPs, and injects faults into
// those containers. Cluster implements both harness.DB and nemesis.Cluster.
//
// Division of labour: testcontainers-go creates and starts the node
// containers (request building, port mapping, lifecycle hooks), while the
// Docker client is used directly where faultline needs exact control that
// testcontainers does not model: the network (fixed subnet, labels, retry on
// a subnet clash), SIGKILL and restart of the same container, freezer-cgroup
// pause, exec of faultline-agent, logs, and label-based cleanup that works
// after the process that created the containers is gone.
//
// The Ryuk reaper is disabled in init: it needs an image from a registry and
// faultline removes its own containers by label instead (Teardown, Cleanup).
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/docker/docker/client"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

func init() {
	// testcontainers-go reads this once, on first use; it must be set before.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Its session banner and other global messages go to slog at debug
	// level instead of stderr, where they would break the live progress line.
	tclog.SetDefault(tcLogger{logger: slogDefault{}})
}

// slogDefault logs through whatever slog.Default is at the time of the call.
type slogDefault struct{}

func (slogDefault) Debug(msg string, args ...any) { slog.Debug(msg, args...) }

// Labels on every container and network faultline creates.
const (
	// LabelFaultline marks anything faultline created ("1").
	LabelFaultline = "faultline"
	// LabelRun holds the run id.
	LabelRun = "faultline.run"
	// LabelNode holds the node name (containers only).
	LabelNode = "faultline.node"
)

// ErrDockerNotRunning is returned (wrapped) when the Docker engine cannot be reached.
var ErrDockerNotRunning = errors.New("docker is not running")

// newClient connects to the Docker engine named by the environment
// (DOCKER_HOST or the default socket), negotiating the API version so an older
// engine (20.10, API 1.41) works with the newer client library, and pings it.
func newClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w (%s): start the Docker engine and retry", ErrDockerNotRunning, oneLine(err))
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w (%s): start the Docker engine and retry", ErrDockerNotRunning, oneLine(err))
	}
	cli.NegotiateAPIVersion(ctx)
	return cli, nil
}

// Available reports whether a Docker engine answers; tests use it to skip.
func Available(ctx context.Context) error {
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	return cli.Close()
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
