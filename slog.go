package consulelect

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// FromSlog returns an hclog.Logger that writes to l, for the WithLogger
// options of the leader and lock packages and for the fx module (which
// takes an hclog.Logger from the app's graph): a service that logs with
// log/slog gets the library's logs there. Levels map to slog's (Trace is
// slog.LevelDebug-4), key/value pairs become attributes, and a logger's
// name (Named) is the attribute "logger". A nil l is slog.Default().
func FromSlog(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return &slogLogger{h: l.Handler(), level: new(atomic.Int32)}
}

// slogLogger is FromSlog's hclog.Logger.
type slogLogger struct {
	h     slog.Handler
	name  string
	args  []any
	level *atomic.Int32 // an hclog.Level set by SetLevel; NoLevel: the handler decides
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (s *slogLogger) enabled(l hclog.Level) bool {
	if min := hclog.Level(s.level.Load()); min != hclog.NoLevel && l < min {
		return false
	}
	return s.h.Enabled(context.Background(), slogLevel(l))
}

// Log writes msg at level with args as attributes.
func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !s.enabled(level) {
		return
	}
	r := slog.NewRecord(time.Now(), slogLevel(level), msg, 0)
	if s.name != "" {
		r.AddAttrs(slog.String("logger", s.name))
	}
	r.Add(s.args...)
	r.Add(args...)
	_ = s.h.Handle(context.Background(), r)
}

func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }

func (s *slogLogger) IsTrace() bool { return s.enabled(hclog.Trace) }
func (s *slogLogger) IsDebug() bool { return s.enabled(hclog.Debug) }
func (s *slogLogger) IsInfo() bool  { return s.enabled(hclog.Info) }
func (s *slogLogger) IsWarn() bool  { return s.enabled(hclog.Warn) }
func (s *slogLogger) IsError() bool { return s.enabled(hclog.Error) }

func (s *slogLogger) ImpliedArgs() []any { return append([]any(nil), s.args...) }

func (s *slogLogger) With(args ...any) hclog.Logger {
	c := *s
	c.args = append(append([]any(nil), s.args...), args...)
	return &c
}

func (s *slogLogger) Name() string { return s.name }

func (s *slogLogger) Named(name string) hclog.Logger {
	c := *s
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	c := *s
	c.name = name
	return &c
}

func (s *slogLogger) SetLevel(level hclog.Level) { s.level.Store(int32(level)) }

func (s *slogLogger) GetLevel() hclog.Level {
	if l := hclog.Level(s.level.Load()); l != hclog.NoLevel {
		return l
	}
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if s.h.Enabled(context.Background(), slogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return slog.NewLogLogger(s.h, slogLevel(level))
}

func (s *slogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return s.StandardLogger(opts).Writer()
}
