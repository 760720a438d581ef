package sim

import (
	"context"
	"log/slog"
)

// simTimeHandler stamps every log record with the simulated time instead
// of the wall-clock time slog gives it: a simulated run takes milliseconds
// of wall time for seconds of simulated time, so only the simulated time
// lines the nodes' logs up with the history.
type simTimeHandler struct {
	slog.Handler
	w *world
}

func (h simTimeHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = simEpoch.Add(h.w.now)
	return h.Handler.Handle(ctx, r)
}

func (h simTimeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return simTimeHandler{h.Handler.WithAttrs(attrs), h.w}
}

func (h simTimeHandler) WithGroup(name string) slog.Handler {
	return simTimeHandler{h.Handler.WithGroup(name), h.w}
}
