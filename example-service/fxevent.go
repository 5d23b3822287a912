package main

import (
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx/fxevent"
)

// eventLogger returns an fxevent.Logger that writes fx's own events to
// log (the service's hclog.Logger): failures at Error, the rest at Debug.
func eventLogger(log hclog.Logger) fxevent.Logger { return &fxLogger{Logger: log.Named("fx")} }

// fxLogger is eventLogger's fxevent.Logger.
type fxLogger struct {
	Logger hclog.Logger
}

// LogEvent logs one fx event.
func (l *fxLogger) LogEvent(event fxevent.Event) {
	switch e := event.(type) {
	case *fxevent.OnStartExecuted:
		l.log(e.Err, "OnStart hook executed", "callee", e.FunctionName, "caller", e.CallerName, "runtime", e.Runtime)
	case *fxevent.OnStopExecuted:
		l.log(e.Err, "OnStop hook executed", "callee", e.FunctionName, "caller", e.CallerName, "runtime", e.Runtime)
	case *fxevent.Supplied:
		l.log(e.Err, "supplied", "type", e.TypeName, "module", e.ModuleName)
	case *fxevent.Provided:
		l.log(e.Err, "provided", "constructor", e.ConstructorName, "types", strings.Join(e.OutputTypeNames, ","), "module", e.ModuleName)
	case *fxevent.Decorated:
		l.log(e.Err, "decorated", "decorator", e.DecoratorName, "module", e.ModuleName)
	case *fxevent.Invoked:
		l.log(e.Err, "invoked", "function", e.FunctionName, "module", e.ModuleName)
	case *fxevent.Stopped:
		l.log(e.Err, "stopped")
	case *fxevent.RolledBack:
		l.log(e.Err, "rolled back")
	case *fxevent.Started:
		l.log(e.Err, "started")
	case *fxevent.LoggerInitialized:
		l.log(e.Err, "logger initialized", "constructor", e.ConstructorName)
	case *fxevent.Stopping:
		l.Logger.Debug("received signal", "signal", e.Signal.String())
	case *fxevent.RollingBack:
		l.Logger.Error("start failed, rolling back", "error", e.StartErr)
	}
}

func (l *fxLogger) log(err error, msg string, kv ...any) {
	if err != nil {
		l.Logger.Error(msg, append(kv, "error", err)...)
		return
	}
	l.Logger.Debug(msg, kv...)
}
