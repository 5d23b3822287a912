// Command candidate is a minimal process that campaigns with the leader
// package, for tests that must kill or freeze a leader process. It prints
// one line per transition on stdout:
//
//	elected <token> <session>
//	demoted <token> <reason>
//
// Its leader work is a fenced write loop (see fencer): every
// -write-interval it writes the term's token to <key>-fenced, guarded by a
// check-session on the election key.
//
// With -ledger FILE it also appends one JSON line per event to FILE, with
// CLOCK_MONOTONIC times in nanoseconds (the chaos harness's checker reads
// them; internal/harness/cmd/chaos):
//
//	{"ev":"boot","mono":…,"id":…,"pid":…}                     process started
//	{"ev":"start","mono":…,"token":…,"session":…,…}           LeaderFunc entered
//	{"ev":"end","mono":…,"token":…,"reason":…,…}              right after <-ctx.Done()
//	{"ev":"write","mono":…,"done":…,"ok":…,"result":…,"seq":…,"index":…,…}
//
// With -lock-key K and/or -sem-prefix P (and -sem-limit N) it also runs,
// beside the elector and for the whole life of the process, a lock loop on
// the mutex K and one on the semaphore P with limit N, sharing one
// lock.Session with the elector's timings (see holder): each takes its
// lock, keeps it -hold-min to -hold-max (a -long-hold-share of the holds:
// -long-hold-min to -long-hold-max) while watching the held lock's
// context, unlocks, and pauses -pause-min to -pause-max. The ledger gets:
//
//	{"ev":"hold","use":"mutex"|"semaphore","mono":…,"token":…,"session":…,…}     acquire confirmed
//	{"ev":"release","use":…,"mono":…,"token":…,"reason":…,…}                   stopped acting as holder (before Unlock)
//
// The Consul address and token come from the usual CONSUL_HTTP_* variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// options are the candidate's flags beyond the elector's config.
type options struct {
	ledger       string
	writeEvery   time.Duration
	writeTimeout time.Duration
	stuck        bool // leader work ignores its ctx; SIGUSR1 resigns
	locks        lockOptions
}

func main() {
	var cfg leader.Config
	var o options
	flag.StringVar(&cfg.Key, "key", "", "key to campaign for")
	flag.StringVar(&cfg.Identity, "id", "", "identity")
	flag.DurationVar(&cfg.LockDelay, "lock-delay", 0, "LockDelay")
	flag.DurationVar(&cfg.DemoteAfter, "demote-after", 0, "DemoteAfter")
	flag.DurationVar(&cfg.ConfirmInterval, "confirm-interval", 0, "ConfirmInterval")
	flag.DurationVar(&cfg.CheckTTL, "check-ttl", 0, "CheckTTL")
	flag.StringVar(&o.ledger, "ledger", "", "append one JSON line per event to this file")
	flag.DurationVar(&o.writeEvery, "write-interval", 100*time.Millisecond, "period of the fenced writes while leading (0: none)")
	flag.DurationVar(&o.writeTimeout, "write-timeout", time.Second, "bound on one fenced write")
	flag.DurationVar(&cfg.StopTimeout, "stop-timeout", 0, "StopTimeout")
	flag.BoolVar(&cfg.ExitOnStragglers, "exit-on-stragglers", false, "ExitOnStragglers")
	flag.BoolVar(&o.stuck, "stuck", false, "leader work that ignores its context (SIGUSR1 resigns)")
	flag.StringVar(&o.locks.key, "lock-key", "", "also take and release the mutex on this key, again and again")
	flag.StringVar(&o.locks.semPrefix, "sem-prefix", "", "also take and release a slot of the semaphore on this prefix, again and again")
	flag.IntVar(&o.locks.semLimit, "sem-limit", 1, "the semaphore's limit")
	flag.DurationVar(&o.locks.holdMin, "hold-min", 20*time.Millisecond, "shortest time a lock is kept")
	flag.DurationVar(&o.locks.holdMax, "hold-max", 200*time.Millisecond, "longest time a lock is kept")
	flag.Float64Var(&o.locks.longShare, "long-hold-share", 0, "share of the holds (0 to 1) kept -long-hold-min to -long-hold-max instead")
	flag.DurationVar(&o.locks.longMin, "long-hold-min", time.Second, "shortest time a long hold is kept")
	flag.DurationVar(&o.locks.longMax, "long-hold-max", 4*time.Second, "longest time a long hold is kept")
	flag.DurationVar(&o.locks.pauseMin, "pause-min", 20*time.Millisecond, "shortest pause between a release and the next acquire")
	flag.DurationVar(&o.locks.pauseMax, "pause-max", 200*time.Millisecond, "longest pause between a release and the next acquire")
	flag.DurationVar(&o.locks.unlockTimeout, "unlock-timeout", 5*time.Second, "bound on one Unlock")
	flag.Parse()
	if err := run(cfg, o); err != nil {
		fmt.Fprintln(os.Stderr, "candidate:", err)
		os.Exit(1)
	}
}

func run(cfg leader.Config, o options) error {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return err
	}
	led, err := openLedger(o.ledger, cfg.Identity)
	if err != nil {
		return err
	}
	defer led.close()
	led.add(event{Ev: "boot", Mono: mono()})
	f := &fencer{client: client, key: cfg.Key, id: cfg.Identity, pid: os.Getpid(),
		interval: o.writeEvery, timeout: o.writeTimeout, ledger: led}
	log := hclog.New(&hclog.LoggerOptions{Name: cfg.Identity, Output: os.Stderr, Level: hclog.Debug})
	e, err := leader.New(client, cfg, leader.WithLogger(log), leader.WithLeaderFunc(
		func(ctx context.Context, term *leader.Term) error {
			led.add(event{Ev: "start", Mono: mono(), Token: term.Token(), Session: term.Session()})
			fmt.Printf("elected %d %s\n", term.Token(), term.Session())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.run(ctx, term)
			}()
			<-ctx.Done()
			if o.stuck {
				fmt.Printf("stuck %d\n", term.Token())
				select {} // ignores its context: a straggler
			}
			led.add(event{Ev: "end", Mono: mono(), Token: term.Token(), Session: term.Session(), Reason: fmt.Sprint(term.Reason())})
			fmt.Printf("demoted %d %v\n", term.Token(), term.Reason())
			wg.Wait()
			return nil
		}))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if o.locks.enabled() {
		loops, err := startLocks(ctx, client, cfg, o.locks, led, log)
		if err != nil {
			return err
		}
		defer func() {
			stop() // the loops end with ctx, also when Run failed
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := loops.stop(cctx); err != nil {
				log.Warn("closing the lock session", "error", err)
			}
		}()
	}
	if o.stuck {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				_ = e.Resign(ctx)
			}
		}()
	}
	return e.Run(ctx)
}

// startLocks starts the lock loops of o on one lock.Session with the
// elector's timings; they run until ctx ends.
func startLocks(ctx context.Context, client *api.Client, cfg leader.Config, o lockOptions, led *ledger, log hclog.Logger) (*lockLoops, error) {
	llog := log.Named("lock")
	s, err := lock.NewSession(client, lock.Config{Identity: cfg.Identity, LockDelay: cfg.LockDelay,
		DemoteAfter: cfg.DemoteAfter, ConfirmInterval: cfg.ConfirmInterval, CheckTTL: cfg.CheckTTL}, lock.WithLogger(llog))
	if err != nil {
		return nil, err
	}
	loops, err := newLockLoops(s, o, led, llog)
	if err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	loops.start(ctx)
	return loops, nil
}
