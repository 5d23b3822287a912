package hooks

import "fmt"

// A late hook call is one still running at its deadline. Lead stops
// waiting for it and finishes the term in the background (see detach).
type late struct {
	name, phase string
	result      <-chan error // receives the hook's error when it returns
}

// straggler names the call in Stragglers: hook "name" OnDemoted.
func (l *late) straggler() string { return fmt.Sprintf("hook %q %s", l.name, l.phase) }

// wait waits for a late hook call to return, and logs how it ended.
func (r *runner) wait(l *late) {
	if err := <-l.result; err != nil {
		r.log.Warn("hook returned after its timeout", "hook", l.name, "phase", l.phase, "error", err)
		return
	}
	r.log.Warn("hook returned after its timeout", "hook", l.name, "phase", l.phase)
}

// detach returns Lead's error when the hook call l is late, and finishes
// the term in a goroutine: it waits for l, runs the rest of d (waiting for
// any OnDemoted that is late in turn before the next), and waits for the
// Done of the body's stragglers error, if errs hold one; then it closes
// the returned error's Done, as its last act. errs are what Lead reports:
// its error had no hook been late (nil if none), and the timeout.
func (r *runner) detach(l *late, d *demotion, errs ...error) error {
	e, body := newStragglersError(l.straggler(), errs)
	go func() {
		defer close(e.done)
		for l != nil {
			r.wait(l)
			l, _ = r.demote(d)
		}
		if body != nil {
			<-body.Done()
		}
	}()
	return e
}
