package docker

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// ImageRepository is the repository of every node image; the tag is a content hash.
const ImageRepository = "faultline-node"

// AgentBinary is faultline-agent's name in every node image, at the root of
// its file system: the fault injector run inside a node's namespaces.
const AgentBinary = "faultline-agent"

// nodeDockerfile describes the node image: the store's static binaries and
// faultline-agent at the root, an empty /data (the node's data dir, in the
// container's writable layer) and /tmp. There is no shell, libc or package
// manager, so the image never needs a registry. One COPY of the whole context
// makes one layer: every instruction costs a container commit with the
// classic builder, which is slow on fuse-overlayfs. .dockerignore keeps the
// Dockerfile out of the image. The command comes from the node spec.
const nodeDockerfile = `FROM scratch
COPY . /
`

const nodeDockerignore = "Dockerfile\n.dockerignore\n"

// ImageOptions configures BuildImage.
type ImageOptions struct {
	// ModuleDir is the root of the faultline module (the directory holding
	// go.mod). Empty: found with `go env GOMOD` from the working directory.
	ModuleDir string
	// Go is the go command to build with. Empty: "go" from PATH.
	Go string
	// Commands are the store's Go main packages (module-relative, e.g.
	// "./cmd/kvnode") compiled into the image root, each named after its
	// last path element; faultline-agent is always added.
	Commands []string
	// Files are prebuilt files put at the image root (a store built
	// elsewhere, e.g. etcd), by name.
	Files map[string][]byte
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// BuildImage compiles the store's commands and faultline-agent as static
// Linux binaries and returns the tag of a FROM-scratch image holding them
// (and opts.Files), faultline-node:<12 hex
// of the SHA-256 of the binaries and Dockerfile>. An image with that tag is
// reused (and re-tagged, which stamps it as recently used for PruneImages);
// otherwise it is built through the Docker API from an in-memory context.
// Nothing is pulled.
//
// Safe for parallel runs on one engine: the calling process holds the node
// images from here until PruneImages or its exit, so no other faultline
// process on this host removes an image between this build and the
// containers created from it; and processes that need the same image take
// turns, so the second reuses what the first built instead of building a
// twin that would be left untagged.
func BuildImage(ctx context.Context, opts ImageOptions) (string, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	goPath, err := lookGo(opts.Go, "the node image")
	if err != nil {
		return "", err
	}
	cli, err := newClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if err := nodeImages.hold(ctx); err != nil {
		return "", fmt.Errorf("hold node images: %w", err)
	}

	moduleDir := opts.ModuleDir
	if moduleDir == "" {
		if moduleDir, err = findModuleDir(ctx, goPath); err != nil {
			return "", err
		}
	}
	binDir, err := os.MkdirTemp("", "faultline-image-")
	if err != nil {
		return "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(binDir)

	compileStart := time.Now()
	commands := append(slices.Clone(opts.Commands), "./cmd/"+AgentBinary)
	if err := compileBinaries(ctx, goPath, moduleDir, binDir, commands); err != nil {
		return "", err
	}
	files := map[string][]byte{"Dockerfile": []byte(nodeDockerfile), ".dockerignore": []byte(nodeDockerignore)}
	for name, data := range opts.Files {
		files[name] = data
	}
	for _, pkg := range commands {
		name := path.Base(pkg)
		data, err := os.ReadFile(filepath.Join(binDir, name))
		if err != nil {
			return "", fmt.Errorf("read built binary %s: %w", name, err)
		}
		files[name] = data
	}
	tag := ImageRepository + ":" + contentHash(files)
	logger.Debug("node binaries compiled", "tag", tag, "compile", time.Since(compileStart))

	unlock, err := lockBuild(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := ensureImage(ctx, cli, tag, imageLabel, files, logger.With("image", "node")); err != nil {
		return "", err
	}
	return tag, nil
}

// imageLabel marks every node image, so an image that lost its tag to a
// twin built at the same time can still be found.
const imageLabel = LabelFaultline + ".image"

// lookGo finds the go command (goCmd, or "go" if empty) on PATH, to build
// what.
func lookGo(goCmd, what string) (string, error) {
	goPath, err := exec.LookPath(cmp.Or(goCmd, "go"))
	if err != nil {
		return "", fmt.Errorf("go toolchain not found: install Go (https://go.dev/dl/) and put it on PATH to build %s", what)
	}
	return goPath, nil
}

// ensureImage makes sure the image tag exists: an image with that tag is
// stamped as used (re-tagged, for PruneImages); otherwise it is built from
// files through the Docker API with the label set. The caller holds the
// build lock of the image's kind.
func ensureImage(ctx context.Context, cli *client.Client, tag, label string, files map[string][]byte, logger *slog.Logger) error {
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		if err := cli.ImageTag(ctx, tag, tag); err != nil {
			return fmt.Errorf("stamp image %s as used: %w", tag, err)
		}
		logger.Info("image up to date", "tag", tag)
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", tag, err)
	}
	buildContext, err := tarContext(files)
	if err != nil {
		return err
	}
	buildStart := time.Now()
	resp, err := cli.ImageBuild(ctx, buildContext, buildOptions(tag, label))
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	if err := drainBuild(resp.Body); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	logger.Info("image built", "tag", tag, "build", time.Since(buildStart))
	return nil
}

// buildOptions never pull: the base is scratch and the classic builder is
// used, which the 20.10 engine always has.
func buildOptions(tag, label string) build.ImageBuildOptions {
	return build.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     build.BuilderV1,
		Labels:      map[string]string{label: "1"},
	}
}

// drainBuild reads the build's progress stream to the end and returns the
// error it reports, if any, on one line.
func drainBuild(body io.ReadCloser) error {
	defer body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(body, io.Discard, 0, false, nil); err != nil {
		return errors.New(oneLine(err))
	}
	return nil
}

// findModuleDir asks the go command where the enclosing module's go.mod is.
func findModuleDir(ctx context.Context, goPath string) (string, error) {
	out, err := exec.CommandContext(ctx, goPath, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root with `go env GOMOD`: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: not inside the faultline module; run from the repository or set ImageOptions.ModuleDir")
	}
	return filepath.Dir(gomod), nil
}

// compileBinaries builds the commands in one go invocation (the go command
// compiles packages in parallel) as static, path-independent Linux binaries.
func compileBinaries(ctx context.Context, goPath, moduleDir, outDir string, commands []string) error {
	args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", outDir + string(filepath.Separator)}, commands...)
	cmd := exec.CommandContext(ctx, goPath, args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w: %s", strings.Join(commands, " "), moduleDir, err, oneLine(errors.New(stderr.String()+" ")))
	}
	return nil
}

// contentHash is the first 12 hex digits of the SHA-256 over the files in
// name order, each framed by its name and length so no two sets collide.
func contentHash(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range sortedNames(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// tarContext writes the build context: the files plus the empty directories
// the Dockerfile copies (data, tmp).
func tarContext(files map[string][]byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	modTime := time.Unix(0, 0)
	for _, dir := range []struct {
		name string
		mode int64
	}{{"data/", 0o755}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir.name, Mode: dir.mode, ModTime: modTime}); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
	}
	for _, name := range sortedNames(files) {
		mode := int64(0o755)
		if name == "Dockerfile" || name == ".dockerignore" {
			mode = 0o644
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(files[name])), ModTime: modTime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write build context: %w", err)
	}
	return &buf, nil
}
