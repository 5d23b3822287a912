package hooks

import "errors"

var (
	// ErrInvalidHook wraps the errors of LeaderFunc about a hook (an empty
	// or duplicate name); the message names the hook.
	ErrInvalidHook = errors.New("hooks: invalid hook")
	// ErrInvalidOption wraps the errors of LeaderFunc about an option.
	ErrInvalidOption = errors.New("hooks: invalid option")
	// ErrHookFailed is wrapped by the error of Lead when an OnElected
	// failed (returned an error, panicked, or overran its timeout).
	ErrHookFailed = errors.New("hooks: hook failed")
	// ErrHookTimeout is wrapped by the error of Lead when a hook was still
	// running at its deadline (along with ErrHookFailed for an OnElected).
	// Lead then returned at that deadline, and its error has Stragglers
	// and Done methods; see "Timeouts" in the package doc.
	ErrHookTimeout = errors.New("hooks: hook timed out")
	// ErrPanic is wrapped by the error made of a recovered panic (of a hook
	// or of the body).
	ErrPanic = errors.New("hooks: panic")
)
