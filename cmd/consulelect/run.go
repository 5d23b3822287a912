package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// lossGrace bounds how long a command may take to stop after a loss of
// leadership or of the lock (SIGTERM, then SIGKILL): well inside the
// safety margin between the demote deadline and the lock-delay (0.6s with
// the defaults), so that it is gone before any successor can start.
const lossGrace = 250 * time.Millisecond

// runOpts are run's flags.
type runOpts struct {
	identity, version string
	priority, limit   int
	grace             time.Duration
	lockMode, quiet   bool
}

// ended is how the command's run ended.
type ended struct {
	c        *child
	startErr error
	lost     bool // leadership or the lock was lost, and the command stopped
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cmdArgs []string
	for i, a := range args {
		if a == "--" {
			args, cmdArgs = args[:i], args[i+1:]
			break
		}
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o runOpts
	fs.StringVar(&o.identity, "id", "", "this candidate's identity (default <hostname>-<pid>)")
	fs.IntVar(&o.priority, "priority", 0, "Config.Priority: higher leads; negative never leads")
	fs.StringVar(&o.version, "version", "", "Config.Version (semver), shown to other candidates")
	fs.DurationVar(&o.grace, "grace", 5*time.Second, "after SIGTERM, how long the command may take to exit before SIGKILL, on a graceful stop (after a loss: 250ms)")
	fs.BoolVar(&o.lockMode, "lock", false, "run the command once under the lock on KEY (package lock) instead of campaigning")
	fs.IntVar(&o.limit, "n", 0, "with -lock: run the command holding one of n slots of the semaphore on KEY, a prefix (as consul lock -n)")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	key, err := parse(fs, args, stderr, "run [-id ID] [-priority N] [-grace D] [-lock [-n N]] KEY -- CMD ARGS...")
	var usage usageError
	switch {
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &usage) && strings.HasPrefix(usage.msg, "unexpected argument") && len(cmdArgs) == 0:
		fmt.Fprintf(stderr, "consulelect run: %v: put the command after --: consulelect run KEY -- CMD ARGS...\n", err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitUsage
	case len(cmdArgs) == 0:
		fmt.Fprintln(stderr, "consulelect run: the command is missing: consulelect run KEY -- CMD ARGS...")
		return exitUsage
	case o.limit != 0 && (!o.lockMode || o.limit < 0):
		fmt.Fprintf(stderr, "consulelect run: -n %d: a semaphore's limit is a positive number, with -lock\n", o.limit)
		return exitUsage
	case o.priority < 0 && !o.lockMode:
		fmt.Fprintf(stderr, "consulelect run: -priority %d: a negative priority never leads, so the command would never run\n", o.priority)
		return exitUsage
	}
	client, err := newClient()
	if err != nil {
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	say := func(format string, a ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, "consulelect: "+format+"\n", a...)
		}
	}
	if o.lockMode {
		return runLocked(client, key, cmdArgs, o, sigs, stdout, stderr, say)
	}
	return runElected(client, key, cmdArgs, o, sigs, stdout, stderr, say)
}

// termEnv is the command's environment for a term or a held lock.
func termEnv(mode, key, identity, session string, token uint64) []string {
	return []string{"CONSULELECT_MODE=" + mode, "CONSULELECT_KEY=" + key, "CONSULELECT_IDENTITY=" + identity,
		"CONSULELECT_SESSION=" + session, "CONSULELECT_TOKEN=" + strconv.FormatUint(token, 10)}
}

// lostCause reports whether a term's or hold's context ended because the
// lock could no longer be assumed held.
func lostCause(err error) bool {
	return errors.Is(err, consulelect.ErrLockLost) || errors.Is(err, consulelect.ErrConsulUnreachable)
}

// supervise runs the command until it exits or ctx ends (then stops it:
// quickly after a loss, within grace otherwise), forwarding signals other
// than SIGINT and SIGTERM to it.
func supervise(ctx context.Context, c *child, grace time.Duration, fwd <-chan os.Signal) ended {
	for {
		select {
		case <-c.done:
			return ended{c: c}
		case s := <-fwd:
			c.signal(s)
		case <-ctx.Done():
			lost := lostCause(context.Cause(ctx))
			if lost {
				grace = min(grace, lossGrace)
			}
			c.stop(grace)
			return ended{c: c, lost: lost}
		}
	}
}

// runElected campaigns for key and runs the command in each term until
// the command exits by itself, leadership is lost, or run is stopped. A
// term handed to another candidate (handoff) or resigned stops the
// command, and run campaigns again: it stays a candidate.
func runElected(client *api.Client, key string, args []string, o runOpts, sigs <-chan os.Signal, stdout, stderr io.Writer,
	say func(string, ...any)) int {
	done := make(chan ended, 1)
	fwd := make(chan os.Signal, 4)
	var e *leader.Elector
	var over atomic.Bool // run is ending: later terms run nothing
	work := func(ctx context.Context, term *leader.Term) error {
		if over.Load() {
			<-ctx.Done()
			return nil
		}
		say("leading %s (token %d); running %s", key, term.Token(), args[0])
		c, err := startChild(args, termEnv("leader", key, e.Config().Identity, term.Session(), term.Token()), stdout, stderr)
		if err != nil {
			over.Store(true)
			done <- ended{startErr: err}
			return nil
		}
		r := supervise(ctx, c, o.grace, fwd)
		if cause := context.Cause(ctx); ctx.Err() != nil && (errors.Is(cause, leader.ErrHandedOff) || errors.Is(cause, leader.ErrResigned)) {
			say("%v: the command was stopped (status %d); campaigning again", cause, r.c.code())
			return nil
		}
		over.Store(true)
		done <- r
		return nil
	}
	var err error
	e, err = leader.New(client, leader.Config{Key: key, Identity: o.identity, Priority: o.priority, Version: o.version},
		leader.WithLeaderFunc(work))
	if err != nil {
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	if err := e.Start(); err != nil {
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	say("campaigning for %s as %s", key, e.Config().Identity)
	stop := func() { stopWithin(e, o.grace+30*time.Second, say) }
	for {
		select {
		case s := <-sigs:
			if s != syscall.SIGINT && s != syscall.SIGTERM {
				select {
				case fwd <- s:
				default:
				}
				continue
			}
			say("%v: stopping", s)
			stop() // ends the term: the command gets SIGTERM, then SIGKILL after -grace
			select {
			case r := <-done:
				return report(r, say)
			default:
				return 128 + int(s.(syscall.Signal))
			}
		case r := <-done:
			if r.lost {
				// Consul may not answer: do not linger (the command is gone;
				// a release that fails leaves the key to the lock-delay).
				stopWithin(e, 3*time.Second, say)
			} else {
				stop() // the command has exited: release the key
			}
			return report(r, say)
		}
	}
}

// stopWithin stops e (the term's command stopped, the key released)
// within d.
func stopWithin(e *leader.Elector, d time.Duration, say func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		say("stopping: %v", err)
	}
}

// runLocked takes the mutex on key and runs the command once under it.
func runLocked(client *api.Client, key string, args []string, o runOpts, sigs <-chan os.Signal, stdout, stderr io.Writer,
	say func(string, ...any)) int {
	s, err := lock.NewSession(client, lock.Config{Identity: o.identity})
	if err != nil {
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
	acquire, err := acquirer(s, key, o.limit)
	if err != nil {
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	fwd := make(chan os.Signal, 4)
	var stopSig atomic.Int32
	go func() { // SIGINT and SIGTERM stop; others go to the command
		for sig := range sigs {
			if sig == syscall.SIGINT || sig == syscall.SIGTERM {
				stopSig.Store(int32(sig.(syscall.Signal)))
				cancel(fmt.Errorf("%v", sig))
				return
			}
			select {
			case fwd <- sig:
			default:
			}
		}
	}()
	say("waiting for the lock on %s", key)
	h, err := acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 128 + int(stopSig.Load())
		}
		fmt.Fprintf(stderr, "consulelect run: %v\n", err)
		return exitRunFail
	}
	say("holding %s (token %d); running %s", key, h.Token(), args[0])
	c, err := startChild(args, termEnv("lock", key, o.identity, h.Session(), h.Token()), stdout, stderr)
	var r ended
	if err != nil {
		r = ended{startErr: err}
	} else {
		hctx, hcancel := context.WithCancelCause(h.Context())
		stopOnSignal := context.AfterFunc(ctx, func() { hcancel(context.Cause(ctx)) })
		r = supervise(hctx, c, o.grace, fwd)
		stopOnSignal()
		hcancel(nil)
	}
	uctx, ucancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ucancel()
	_ = h.Unlock(uctx) // after the command exited
	return report(r, say)
}

// report turns how the run ended into the exit code.
func report(r ended, say func(string, ...any)) int {
	switch {
	case r.startErr != nil:
		say("cannot run the command: %v", r.startErr)
		return startCode(r.startErr)
	case r.lost:
		say("leadership lost: the command was stopped (status %d)", r.c.code())
		return exitLost
	default:
		return r.c.code()
	}
}

// acquirer returns how run -lock takes KEY: the mutex, or with a limit one
// slot of the semaphore on the prefix KEY.
func acquirer(s *lock.Session, key string, limit int) (func(context.Context) (*lock.Held, error), error) {
	if limit > 0 {
		sem, err := s.Semaphore(key, limit)
		if err != nil {
			return nil, err
		}
		return sem.Acquire, nil
	}
	m, err := s.Mutex(key)
	if err != nil {
		return nil, err
	}
	return m.Lock, nil
}
