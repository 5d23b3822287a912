// Command consulelect operates consulelect's elections from a shell: who
// leads a key and since when, a feed of changes, a handoff to a named
// candidate, and a safer `consul lock`: run a command while leading, with
// the fencing token in its environment, stopped before any successor can
// start.
//
//	consulelect status KEY            who leads, and the live candidates
//	consulelect watch KEY             one line per change
//	consulelect resign KEY            ask the leader to hand over to anyone else
//	consulelect handoff KEY -to ID    ask the leader to hand over to ID
//	consulelect run KEY -- CMD ARGS   run CMD while leading KEY (again after a handoff)
//	consulelect version               the version of this binary
//
// Consul is reached as the api package does: CONSUL_HTTP_ADDR,
// CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL, CONSUL_CACERT and the other
// CONSUL_* variables. Every command takes -h.
//
// Exit codes: 0 done; 1 an error (Consul unreachable, ACL denied); 2 bad
// usage; 3 not possible now (nobody leads, no such live candidate); for
// run, the command's own status, 128+N when a signal N ended it, 4 when
// leadership (or the lock) was lost and the command was stopped, 125 when
// consulelect failed before the command ran, 126 and 127 when the
// command could not be executed or found.
//
// Install from a checkout of the repository with
// go install ./cmd/consulelect (or go build -o DIR ./cmd/consulelect).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/hashicorp/consul/api"
)

// Exit codes (documented above).
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotNow   = 3
	exitLost     = 4
	exitRunFail  = 125
	exitNoExec   = 126
	exitNotFound = 127
)

// usageError is a command line the command cannot run.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// notNow is an answer that scripts branch on (exit 3).
type notNow struct{ err error }

func (n notNow) Error() string { return n.err.Error() }
func (n notNow) Unwrap() error { return n.err }

const usage = `usage: consulelect <command> [flags] KEY [-- CMD ARGS...]

commands:
  status KEY            who leads KEY, since when, its token and the live candidates
  watch KEY             print one line per change of KEY's leader, until interrupted
  resign KEY            ask KEY's leader to hand leadership to the best other candidate
  handoff KEY -to ID    ask KEY's leader to hand leadership to candidate ID
  run KEY -- CMD ARGS   campaign for KEY and run CMD in each term (or -lock: once, under the lock)
  version               print the version of this binary

Consul is reached with CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN and the other CONSUL_* variables.
Run "consulelect <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"status": cmdStatus, "watch": cmdWatch, "resign": cmdResign, "handoff": cmdHandOff,
	}
	if args[0] == "run" {
		return cmdRun(ctx, args[1:], stdout, stderr)
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, "consulelect", version())
		return exitOK
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "consulelect: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	err := f(ctx, args[1:], stdout, stderr)
	var u usageError
	var n notNow
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "consulelect %s: %v\n", args[0], err)
		return exitUsage
	case errors.As(err, &n):
		fmt.Fprintf(stderr, "consulelect %s: %v\n", args[0], err)
		return exitNotNow
	default:
		fmt.Fprintf(stderr, "consulelect %s: %v\n", args[0], err)
		return exitError
	}
}

// newClient is the Consul client from the environment.
func newClient() (*api.Client, error) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return c, nil
}

// version is the module version this binary was built from ("(devel)"
// from a checkout), with the VCS revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" && len(st.Value) >= 12 {
			v += " " + st.Value[:12]
		}
	}
	return v
}
