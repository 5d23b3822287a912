// Package safe runs user code (leader functions, hooks, workers) so that
// a panic in it becomes an error instead of crashing the process.
package safe

import (
	"fmt"
	"runtime/debug"
)

// Panic is the error Call returns for a recovered panic.
type Panic struct {
	// Value is what the code panicked with.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

// Error describes the panic (its value, not the stack).
func (p *Panic) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Call runs f and returns its error, or a *Panic if f panicked.
func Call(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &Panic{Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}
