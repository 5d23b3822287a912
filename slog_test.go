package consulelect_test

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
)

// noTime drops the time from a handler's output, for stable examples.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// A service that logs with log/slog hands its logger to the library.
func ExampleFromSlog() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	log := consulelect.FromSlog(logger) // for leader.WithLogger, lock.WithLogger, or the fx graph
	log.Named("leader").With("key", "svc/leader").Info("elected", "token", 42)
	log.Debug("not shown: the handler's level is Info")
	// Output:
	// level=INFO msg=elected logger=leader key=svc/leader token=42
}

func TestFromSlogLevelsAndNames(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4, ReplaceAttr: noTime})
	log := consulelect.FromSlog(slog.New(h))
	for _, tt := range []struct {
		name  string
		log   func(string, ...any)
		level string
	}{
		{"trace", log.Trace, "level=DEBUG-4"},
		{"debug", log.Debug, "level=DEBUG"},
		{"info", log.Info, "level=INFO"},
		{"warn", log.Warn, "level=WARN"},
		{"error", log.Error, "level=ERROR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log("m", "k", 1)
			if got := buf.String(); !strings.HasPrefix(got, tt.level+" msg=m k=1") {
				t.Errorf("%s: %q, want level %s", tt.name, got, tt.level)
			}
		})
	}
	buf.Reset()
	log.Named("a").Named("b").With("x", "y").Warn("w")
	if got := buf.String(); got != "level=WARN msg=w logger=a.b x=y\n" {
		t.Errorf("named: %q", got)
	}
	log.SetLevel(hclog.Warn)
	buf.Reset()
	log.Info("dropped")
	if buf.Len() != 0 || log.IsInfo() || !log.IsWarn() || log.GetLevel() != hclog.Warn {
		t.Errorf("SetLevel(Warn): wrote %q, IsInfo %v, level %v", buf.String(), log.IsInfo(), log.GetLevel())
	}
	buf.Reset()
	log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("std")
	if got := buf.String(); !strings.HasPrefix(got, "level=ERROR msg=std") {
		t.Errorf("standard logger: %q", got)
	}
	if consulelect.FromSlog(nil) == nil {
		t.Error("FromSlog(nil) is nil")
	}
}
