package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/faultline/faultline/rundir"
)

// shutdownTimeout bounds how long Serve waits for requests in flight once
// its context is done.
const shutdownTimeout = 5 * time.Second

// ErrListen is returned (wrapped) when Serve cannot listen on its address.
var ErrListen = errors.New("cannot listen")

// Serve serves the store directory over HTTP on addr until ctx is done. The
// store index is regenerated on every request for "/" or "/index.html", so
// runs added since the server started show up on reload; everything else is
// served as files. It returns nil after a clean shutdown, and an error naming
// the address and wrapping ErrListen when it cannot listen (for example, the
// port is in use).
func Serve(ctx context.Context, addr, storeDir string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	st, err := os.Stat(storeDir)
	if err != nil {
		return fmt.Errorf("serve: store %s: %w (run a test first, or pass the store directory)", storeDir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("serve: store %s is not a directory", storeDir)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w on %s: %w (is another server using it? choose another address with --addr)", ErrListen, addr, err)
	}
	return serveListener(ctx, ln, storeDir, logger)
}

// serveListener serves storeDir on ln until ctx is done, then shuts down.
func serveListener(ctx context.Context, ln net.Listener, storeDir string, logger *slog.Logger) error {
	srv := &http.Server{Handler: Handler(storeDir, logger), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving the store", "url", "http://"+ln.Addr().String()+"/", "store", storeDir)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve on %s: shut down: %w", ln.Addr(), err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Handler serves storeDir, regenerating the store index for "/" and
// "/index.html".
func Handler(storeDir string, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	var mu sync.Mutex // one index rewrite at a time
	files := http.FileServer(http.Dir(storeDir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/"+rundir.ReportFile {
			files.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		err := WriteIndex(storeDir)
		mu.Unlock()
		if err != nil {
			logger.Error("serve: regenerate index", "err", err)
			http.Error(w, "cannot regenerate the store index: "+err.Error(), http.StatusInternalServerError)
			return
		}
		path := filepath.Join(storeDir, rundir.ReportFile)
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, "cannot open the store index: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, "cannot stat the store index: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.ServeContent(w, r, rundir.ReportFile, st.ModTime(), f)
	})
}
