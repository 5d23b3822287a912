package lifecycle

import "context"

// A Worker is leader-only work. Run must return soon after ctx is done;
// it is restarted after an error (see Policy), not after nil.
type Worker interface {
	// Name identifies the worker in logs, errors and status; it must be
	// non-empty and unique within a Supervisor.
	Name() string
	// Run does the work until ctx is done or the work is complete.
	Run(ctx context.Context) error
}

// WorkerFunc returns a Worker named name that runs run.
func WorkerFunc(name string, run func(ctx context.Context) error) Worker {
	return funcWorker{name: name, run: run}
}

type funcWorker struct {
	name string
	run  func(ctx context.Context) error
}

func (w funcWorker) Name() string                  { return w.name }
func (w funcWorker) Run(ctx context.Context) error { return w.run(ctx) }
