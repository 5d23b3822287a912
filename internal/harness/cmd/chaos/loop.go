package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// faultRun is one fault being injected on the leader's host.
type faultRun struct {
	h       *harness
	n       int
	kind    string
	host    *host
	pid     int
	token   uint64
	session string
	detail  string
}

// inject records the fault as injected now: call it right before the
// action that injects it.
func (f *faultRun) inject(detail string) {
	f.detail = detail
	f.h.led.add(record{Ev: evFault, Mono: mono(), N: f.n, Kind: f.kind, ID: f.host.id, PID: f.pid,
		Token: f.token, Session: f.session, Detail: detail})
}

// heal records the fault as healed now.
func (f *faultRun) heal() { f.h.led.add(record{Ev: evHeal, Mono: mono(), N: f.n}) }

func (f *faultRun) sleep(d time.Duration) { f.h.sleep(d) }

// catch runs harness calls that fail by panicking (consultest's Fatalf).
func (f *faultRun) catch(fn func()) error { return consultest.Catch(fn) }

// admin injects an instantaneous fault: one Consul API call.
func (f *faultRun) admin(op func(*api.Client) error) error {
	f.inject("")
	err := f.h.adminDo(op)
	f.heal()
	return err
}

// errLiveness: no candidate led for several recovery timeouts in a row.
var errLiveness = errors.New("liveness")

// settleMin and settleMax bound the random pause between the recovery from
// one fault and the next fault.
const (
	settleMin = 300 * time.Millisecond
	settleMax = time.Second
)

// injectAll injects cfg.faults faults, one at a time, each on the current
// leader, drawing kinds from a shuffled deck of all kinds (so every kind
// comes up once in every len(kinds) faults), and after each one waits until
// a candidate leads again.
func (h *harness) injectAll() error {
	if _, _, _, _, ok := h.awaitLeader(3 * h.cfg.recoverTimeout); !ok && h.ctx.Err() == nil {
		return fmt.Errorf("%w: no leader within %v of the start", errLiveness, 3*h.cfg.recoverTimeout)
	}
	var deck []kind
	for n := 1; n <= h.cfg.faults; n++ {
		if h.ctx.Err() != nil {
			return nil
		}
		if h.cfg.maxDuration > 0 && time.Since(h.started) > h.cfg.maxDuration {
			fmt.Fprintf(os.Stderr, "chaos: -max-duration %v reached after %d faults\n", h.cfg.maxDuration, n-1)
			return nil
		}
		if len(deck) == 0 {
			deck = h.deck()
		}
		k := deck[0]
		deck = deck[1:]
		d := k.plan(h.rng, h.t)
		settle := between(h.rng, settleMin, settleMax)
		if err := h.one(n, k, d); err != nil {
			return err
		}
		h.sleep(settle)
	}
	return nil
}

// deck returns the selected kinds in a random order.
func (h *harness) deck() []kind {
	d := make([]kind, len(h.cfg.kinds))
	copy(d, h.cfg.kinds)
	h.rng.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	return d
}

// one injects fault n of kind k on the current leader and waits for the
// recovery.
func (h *harness) one(n int, k kind, d time.Duration) error {
	c, pid, token, session, ok := h.ready()
	if !ok {
		if h.ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: no leader for %v before fault %d", errLiveness, 3*h.cfg.recoverTimeout, n)
	}
	f := &faultRun{h: h, n: n, kind: k.name, host: c, pid: pid, token: token, session: session}
	if err := k.run(f, d); err != nil {
		return fmt.Errorf("fault %d (%s): %w", n, k.name, err)
	}
	nc, _, ntoken, _, ok := h.awaitLeader(h.cfg.recoverTimeout)
	at := mono()
	status := "no leader within the recovery timeout"
	switch {
	case ok:
		h.led.add(record{Ev: evRecovered, Mono: at, N: n, ID: nc.id, Token: ntoken})
		status = fmt.Sprintf("%s leads (token %d)", nc.id, ntoken)
		if ntoken == token {
			status += ", kept"
		}
	case h.ctx.Err() == nil:
		h.led.add(record{Ev: evGap, Mono: at, N: n})
	}
	fmt.Fprintf(os.Stderr, "chaos: %3d/%d %-19s on %s (token %d) %s: %s\n", n, h.cfg.faults, k.name, c.id, token, f.detail, status)
	return nil
}

// ready waits until the topology is whole again (every candidate process
// running, every server a raft voter) and a candidate leads; it returns
// the leader. A candidate that
// exited without being told to is started again (the ledger says so).
func (h *harness) ready() (c *host, pid int, token uint64, session string, ok bool) {
	for _, c := range h.hosts {
		if !c.alive() {
			if err := c.spawn(); err != nil {
				fmt.Fprintf(os.Stderr, "chaos: restarting %s: %v\n", c.id, err)
			}
		}
	}
	h.awaitVoters(h.cfg.recoverTimeout)
	for try := 0; try < 3 && h.ctx.Err() == nil; try++ {
		if c, pid, token, session, ok = h.awaitLeader(h.cfg.recoverTimeout); ok {
			return c, pid, token, session, true
		}
		fmt.Fprintf(os.Stderr, "chaos: no leader for %v; waiting\n", h.cfg.recoverTimeout)
	}
	return nil, 0, 0, "", false
}

// awaitVoters waits up to timeout until every server is a raft voter
// again: autopilot removes a server that failed (killed, partitioned) and
// adds it back as a non-voter, promoted after its stabilization time (10s).
// A server fault before that could leave the majority without a quorum,
// which is Consul's limit and not what the run measures.
func (h *harness) awaitVoters(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for h.ctx.Err() == nil && time.Now().Before(deadline) {
		voters := 0
		err := h.adminDo(func(c *api.Client) error {
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			defer cancel()
			cfg, err := c.Operator().RaftGetConfiguration((&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
			if err != nil {
				return err
			}
			voters = 0
			for _, s := range cfg.Servers {
				if s.Voter {
					voters++
				}
			}
			return nil
		})
		if err == nil && voters == len(h.servers) {
			return
		}
		h.sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "chaos: not every server is a raft voter %v after the last fault\n", timeout)
}
