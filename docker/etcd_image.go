package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// EtcdVersion is the etcd release of the etcd image: the newest 3.6 patch
// release the Go module proxy serves (v3.6.13 to v3.6.17 when it was
// pinned). sut/etcd's client module is at the same version; a test keeps
// the two equal. Change both together, after reading the release notes.
const EtcdVersion = "v3.6.17"

// EtcdImageRepository is the repository of every etcd image; the tag is a
// content hash.
const EtcdImageRepository = "faultline-etcd"

// EtcdBinary is the etcd server in the etcd image, at the root of its file
// system.
const EtcdBinary = "etcd"

// etcdServerModule is both the etcd server's module and, since 3.5, its main
// package (server/main.go calls etcdmain.Main).
const etcdServerModule = "go.etcd.io/etcd/server/v3"

// etcdDockerfile describes the etcd image: the etcd server and
// faultline-agent, both static, an empty /data and /tmp. Like the node
// image, one COPY makes one layer and nothing is pulled.
const etcdDockerfile = `FROM scratch
COPY . /
CMD ["/etcd"]
`

// etcdImageLabel marks every etcd image (the node images have imageLabel).
const etcdImageLabel = LabelFaultline + ".etcd-image"

// etcdBuildLockName is held exclusively around building the etcd server and
// its image, so processes that need them build them once. It is not the node
// image's lock: a cold etcd build takes minutes and must not hold up kvnode.
const etcdBuildLockName = "faultline-etcd-build.lock"

// EtcdImageOptions configures BuildEtcdImage.
type EtcdImageOptions struct {
	// ModuleDir is the root of the faultline module, where faultline-agent
	// is built. Empty: found with `go env GOMOD` from the working directory.
	ModuleDir string
	// Go is the go command to build with. Empty: "go" from PATH.
	Go string
	// CacheDir holds built etcd servers. Empty: os.UserCacheDir().
	CacheDir string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// BuildEtcdImage returns the tag of a FROM-scratch image holding the etcd
// server at EtcdVersion (/etcd) and faultline-agent (/faultline-agent),
// faultline-etcd:<12 hex of the SHA-256 of the binaries and Dockerfile>. An
// image with that tag is reused (and re-tagged, stamping it as used);
// otherwise it is built through the Docker API. Nothing is pulled.
//
// The etcd server is compiled on the host from its Go module, in a throwaway
// module outside this repository so etcd's dependency tree never enters
// faultline's go.mod, and cached per etcd version, Go version and
// architecture under CacheDir/faultline/ (see etcdServerBinary): only the
// first build on a host takes minutes. faultline-agent is compiled from
// ModuleDir as for the node image.
func BuildEtcdImage(ctx context.Context, opts EtcdImageOptions) (string, error) {
	goPath, cacheRoot, logger, err := opts.resolve()
	if err != nil {
		return "", err
	}
	cli, err := newClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	moduleDir := opts.ModuleDir
	if moduleDir == "" {
		if moduleDir, err = findModuleDir(ctx, goPath); err != nil {
			return "", err
		}
	}

	unlock, err := lockEtcdBuild(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()

	etcdPath, err := etcdServerBinary(ctx, goPath, cacheRoot, logger)
	if err != nil {
		return "", err
	}
	binDir, err := os.MkdirTemp("", "faultline-etcd-image-")
	if err != nil {
		return "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(binDir)
	if err := compileBinaries(ctx, goPath, moduleDir, binDir, []string{"./cmd/" + AgentBinary}); err != nil {
		return "", err
	}
	files := map[string][]byte{"Dockerfile": []byte(etcdDockerfile), ".dockerignore": []byte(nodeDockerignore)}
	for name, path := range map[string]string{EtcdBinary: etcdPath, AgentBinary: filepath.Join(binDir, AgentBinary)} {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read built binary %s: %w", name, err)
		}
		files[name] = data
	}
	tag := EtcdImageRepository + ":" + contentHash(files)

	if err := ensureImage(ctx, cli, tag, etcdImageLabel, files, logger.With("image", "etcd")); err != nil {
		return "", err
	}
	return tag, nil
}

// BuildEtcdServer returns the path of the etcd server at EtcdVersion, a
// static Linux binary for this host's architecture, compiling it into the
// cache first when the cache has none. BuildEtcdImage uses it; a backend
// that makes its own image can put the file in (ImageOptions.Files). The
// file is shared by every caller on the host: read it, never change it.
func BuildEtcdServer(ctx context.Context, opts EtcdImageOptions) (string, error) {
	goPath, cacheRoot, logger, err := opts.resolve()
	if err != nil {
		return "", err
	}
	unlock, err := lockEtcdBuild(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	return etcdServerBinary(ctx, goPath, cacheRoot, logger)
}

// resolve fills in the defaults of opts.
func (opts EtcdImageOptions) resolve() (goPath, cacheRoot string, logger *slog.Logger, err error) {
	logger = opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if goPath, err = lookGo(opts.Go, "the etcd image"); err != nil {
		return "", "", nil, err
	}
	cacheRoot = opts.CacheDir
	if cacheRoot == "" {
		if cacheRoot, err = os.UserCacheDir(); err != nil {
			return "", "", nil, fmt.Errorf("find a cache dir for the etcd server: %w: set HOME or XDG_CACHE_HOME, or EtcdImageOptions.CacheDir", err)
		}
	}
	return goPath, cacheRoot, logger, nil
}

// lockEtcdBuild takes the etcd build lock; the returned function releases it.
func lockEtcdBuild(ctx context.Context) (func(), error) {
	f, err := openLock(etcdBuildLockName)
	if err != nil {
		return nil, err
	}
	if err := waitFlock(ctx, f, lockExclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("wait for another faultline process to build the etcd image: %w", err)
	}
	return func() { f.Close() }, nil
}

// etcdCachePath is where the etcd server built by goVersion for GOARCH is
// kept under cacheRoot. Each key gets its own directory, so a cache built by
// another Go release or for another architecture is never taken.
func etcdCachePath(cacheRoot, goVersion, goarch string) string {
	return filepath.Join(cacheRoot, "faultline",
		fmt.Sprintf("etcd-%s-%s-linux-%s", EtcdVersion, goVersion, goarch), EtcdBinary)
}

// etcdServerBinary returns the path of the cached etcd server, building it
// first when the cache has none. The binary is written under a temporary
// name and renamed into place, so a build that was interrupted never leaves
// a partial binary that a later call would take. The caller holds the etcd
// build lock.
func etcdServerBinary(ctx context.Context, goPath, cacheRoot string, logger *slog.Logger) (string, error) {
	goVersion, err := goEnv(ctx, goPath, "GOVERSION")
	if err != nil {
		return "", err
	}
	path := etcdCachePath(cacheRoot, goVersion, runtime.GOARCH)
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
		logger.Debug("etcd server cached", "path", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create etcd cache dir: %w", err)
	}
	start := time.Now()
	logger.Info("building the etcd server (once per etcd and Go version; a few minutes)", "version", EtcdVersion, "go", goVersion)
	tmp, err := compileEtcd(ctx, goPath, filepath.Dir(path))
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(filepath.Dir(tmp))
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("cache the etcd server: %w", err)
	}
	logger.Info("etcd server built", "version", EtcdVersion, "path", path, "elapsed", time.Since(start))
	return path, nil
}

// compileEtcd builds the etcd server into a fresh temporary directory in
// outDir and returns the binary's path there; the caller moves it and removes
// the directory. It works in a throwaway module that requires
// etcdServerModule at EtcdVersion: `go get` resolves the server's
// dependencies (the replace directives in etcd's own go.mod files point into
// etcd's repository and are ignored, as replaces of any module but the main
// one are, so the published api, client and pkg modules at the same version
// are used), then `go build` compiles the main package from the module
// cache. GOWORK=off keeps a workspace of the caller's out of it; GOFLAGS is
// reset so a -mod=vendor or similar of the caller's cannot apply.
func compileEtcd(ctx context.Context, goPath, outDir string) (string, error) {
	modDir, err := os.MkdirTemp("", "faultline-etcd-module-")
	if err != nil {
		return "", fmt.Errorf("create etcd build module: %w", err)
	}
	defer os.RemoveAll(modDir)
	tmpDir, err := os.MkdirTemp(outDir, ".building-")
	if err != nil {
		return "", fmt.Errorf("create etcd build dir: %w", err)
	}
	binary := filepath.Join(tmpDir, EtcdBinary)
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOWORK=off", "GOFLAGS=-mod=mod")
	steps := [][]string{
		{"mod", "init", "faultline.invalid/etcd-build"},
		{"get", etcdServerModule + "@" + EtcdVersion},
		{"build", "-trimpath", "-ldflags=-s -w", "-o", binary, etcdServerModule},
	}
	for _, args := range steps {
		cmd := exec.CommandContext(ctx, goPath, args...)
		cmd.Dir = modDir
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(tmpDir)
			return "", fmt.Errorf("build etcd %s: go %s: %w: %s (the Go module proxy must be reachable; see GOPROXY)",
				EtcdVersion, strings.Join(args, " "), err, oneLine(errors.New(stderr.String()+" ")))
		}
	}
	return binary, nil
}

// goEnv returns one variable of `go env`.
func goEnv(ctx context.Context, goPath, name string) (string, error) {
	out, err := exec.CommandContext(ctx, goPath, "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	value := strings.TrimSpace(string(out))
	if value == "" {
		return "", fmt.Errorf("go env %s: empty", name)
	}
	return value, nil
}
