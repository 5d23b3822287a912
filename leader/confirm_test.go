package leader_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// viaFaults returns an elector's client that reaches srv through a fault
// proxy.
func viaFaults(t *testing.T, srv *consultest.Agent) (*consultest.FaultProxy, *api.Client) {
	t.Helper()
	p := consultest.NewFaultProxy(t, srv.HTTPAddr)
	c, err := api.NewClient(p.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// confirmReads matches the leader's confirming reads of key (consistent
// GETs); its loss watch is a GET without ?consistent.
func confirmReads(key string) consultest.Match {
	return consultest.Match{Method: "GET", Path: "/v1/kv/" + key, Query: "consistent"}
}

// maxAge samples how old term's newest confirmation gets until stop is
// closed; it returns the largest age seen.
func maxAge(term *leader.Term, stop <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				out <- worst
				return
			case <-tick.C:
				worst = max(worst, time.Since(confirmed(term)))
			}
		}
	}()
	return out
}

// A failed confirmation is retried on a fresh request ConfirmInterval/10
// later, not one ConfirmInterval later.
func TestConfirmRecoversAtOnceAfterError(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy, client := viaFaults(t, srv)
	const key = "svc/confirm-error"
	e := startElector(t, client, cfgFor(key, "failing"))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	term, cfg := e.Term(), e.Config()
	for trial := 0; trial < 3; trial++ {
		before := proxy.Count(confirmReads(key))
		proxy.FailNext(confirmReads(key), 500, 1)
		waitFor(t, 2*cfg.ConfirmInterval, "the failed read", func() bool { return proxy.Count(confirmReads(key)) > before })
		failed := time.Now()
		waitFor(t, cfg.ConfirmInterval, "a confirmation after the error", func() bool {
			return confirmed(term).After(failed) || term.Context().Err() != nil
		})
		if term.Context().Err() != nil {
			t.Fatalf("term ended: %v", term.Reason())
		}
		took := time.Since(failed)
		t.Logf("trial %d: confirmed again %v after the failed confirmation", trial, took)
		if took >= cfg.ConfirmInterval/2 {
			t.Errorf("confirmed again %v after the error, want about ConfirmInterval/10 (%v)", took, cfg.ConfirmInterval/10)
		}
	}
}

// A confirmation whose request hangs (its connection silently dead) does
// not hold up the next one: ConfirmInterval/10 after it was sent, another
// read goes out on a fresh connection, so several hung requests in a row
// leave the term's newest confirmation no older than about ConfirmInterval
// plus the hung reads' retries.
func TestHungConfirmationsAreRetriedOnFreshConnections(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy, client := viaFaults(t, srv)
	const key = "svc/confirm-hung"
	e := startElector(t, client, cfgFor(key, "hung"))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	term, cfg := e.Term(), e.Config()
	stop := make(chan struct{})
	worst := maxAge(term, stop)
	const hung = 3
	before := proxy.Count(confirmReads(key))
	proxy.HangNext(confirmReads(key), hung)
	waitFor(t, 5*time.Second, "the hung reads and one more", func() bool { return proxy.Count(confirmReads(key)) > before+hung })
	waitFor(t, cfg.ConfirmInterval, "a confirmation after them", func() bool { return time.Since(confirmed(term)) < cfg.ConfirmInterval })
	close(stop)
	age := <-worst
	t.Logf("%d hung confirmations in a row: newest confirmation at most %v old (ConfirmInterval %v, DemoteAfter %v)", hung, age, cfg.ConfirmInterval, cfg.DemoteAfter)
	if term.Context().Err() != nil {
		t.Fatalf("term ended: %v", term.Reason())
	}
	if limit := cfg.ConfirmInterval + hung*cfg.ConfirmInterval/10 + 150*time.Millisecond; age > limit {
		t.Errorf("newest confirmation reached %v old, want at most %v", age, limit)
	}
}

// The outage tolerance claimed in docs/safety.md and the defaults' docs:
// DemoteAfter - 1.1*ConfirmInterval - rtt, 1.4s with the defaults, for an
// outage that starts at the worst moment: just as a confirming read is
// sent, so that its answer is lost and the newest confirmation is already
// one ConfirmInterval old. The servers are cut off, the local agent still
// answers (its check keeps passing). An outage longer than DemoteAfter
// ends the term at its deadline.
func TestOutageToleranceAtTheWorstMoment(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy, client := viaFaults(t, srv)
	proxy.Spare(consultest.Match{Path: "/v1/agent/"})
	const key = "svc/outage"
	e := startElector(t, client, cfgFor(key, "rider"))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	term, cfg := e.Term(), e.Config()
	const tolerance = 1400 * time.Millisecond // documented for the defaults
	if cfg.DemoteAfter-cfg.ConfirmInterval*11/10 < tolerance {
		t.Fatalf("defaults promise %v, below the documented %v", cfg.DemoteAfter-cfg.ConfirmInterval*11/10, tolerance)
	}
	for trial := 0; trial < 3; trial++ {
		time.Sleep(cfg.ConfirmInterval) // steady state between trials, not synchronisation
		began := proxy.OutageOnNext(confirmReads(key))
		<-began
		startedAt := time.Now()
		deadline := term.Deadline()
		time.Sleep(tolerance) // the outage's length
		proxy.EndOutage()
		ended := time.Now()
		waitFor(t, cfg.DemoteAfter, "a confirmation after the outage", func() bool {
			return confirmed(term).After(ended) || term.Context().Err() != nil
		})
		if err := term.Context().Err(); err != nil {
			t.Fatalf("trial %d: a %v outage ended the term (%v); deadline was %v after the outage began",
				trial, tolerance, term.Reason(), deadline.Sub(startedAt))
		}
		t.Logf("trial %d: rode out %v; the deadline was %v after the outage began, %v to spare",
			trial, ended.Sub(startedAt), deadline.Sub(startedAt), deadline.Sub(ended))
	}

	// Longer than DemoteAfter: the term ends at its deadline.
	began := proxy.OutageOnNext(confirmReads(key))
	<-began
	deadline := term.Deadline()
	waitFor(t, cfg.DemoteAfter+time.Second, "the term to end", func() bool { return term.Context().Err() != nil })
	proxy.EndOutage()
	if !errors.Is(term.Reason(), consulelect.ErrConsulUnreachable) {
		t.Errorf("reason %v, want ErrConsulUnreachable", term.Reason())
	}
	if late := term.Ended().Sub(deadline); late < 0 || late > 50*time.Millisecond {
		t.Errorf("term ended %v after its deadline", late)
	}
}

// A single failed acquire (a 500) is retried after a backoff step from a
// fresh read of the key: a sole candidate leads at once, not after a
// follower's blocking wait (FollowerWait).
func TestSingleFailedAcquireIsRetriedAtOnce(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy, client := viaFaults(t, srv)
	acquires := consultest.Match{Method: "PUT", Path: "/v1/txn"}
	proxy.FailNext(acquires, 500, 1)
	started := time.Now()
	e := startElector(t, client, cfgFor("svc/acquire-500", "sole"))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	took := time.Since(started)
	t.Logf("led %v after start, with one failed acquire (%d transactions)", took, proxy.Count(acquires))
	if n := proxy.Count(acquires); n != 2 {
		t.Errorf("%d acquire transactions, want 2 (one failed, one granted)", n)
	}
	if took > 3*time.Second {
		t.Errorf("led %v after a single failed acquire", took)
	}
	if err := e.Status().LastError; err != nil {
		t.Errorf("error left in status: %v", err)
	}
}

// A Group's batches confirm independently: while one batch's reads hang,
// the terms of the other batch are confirmed on their usual schedule, and
// the hung batch retries on fresh connections: no term's newest
// confirmation gets much older than ConfirmInterval.
func TestGroupBatchesConfirmIndependently(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy, client := viaFaults(t, srv)
	g := startGroup(t, client)
	const n = 100 // two batches of up to 64
	var es []*leader.Elector
	for i := 0; i < n; i++ {
		es = append(es, startElector(t, client, cfgFor(fmt.Sprintf("svc/batches/%03d", i), name(i)), leader.WithGroup(g)))
	}
	waitFor(t, 20*time.Second, "all to lead", func() bool {
		for _, e := range es {
			if !e.IsLeader() {
				return false
			}
		}
		return true
	})
	cfg := es[0].Config()
	stop := make(chan struct{})
	var ages []<-chan time.Duration
	var terms []*leader.Term
	for _, e := range es {
		term := e.Term()
		terms = append(terms, term)
		ages = append(ages, maxAge(term, stop))
	}
	txns := consultest.Match{Method: "PUT", Path: "/v1/txn"}
	const hung = 4
	before := proxy.Count(txns)
	proxy.HangNext(txns, hung)
	waitFor(t, 5*time.Second, "the hung transactions and more", func() bool { return proxy.Count(txns) > before+2*hung })
	time.Sleep(cfg.ConfirmInterval) // a further window to sample ages in, not synchronisation
	close(stop)
	var worst time.Duration
	for i, a := range ages {
		age := <-a
		worst = max(worst, age)
		if terms[i].Context().Err() != nil {
			t.Errorf("%s lost its term: %v", es[i].Status().Identity, terms[i].Reason())
		}
	}
	t.Logf("%d hung batch transactions: oldest newest-confirmation of %d terms %v (ConfirmInterval %v)", hung, n, worst, cfg.ConfirmInterval)
	if limit := cfg.ConfirmInterval + hung*cfg.ConfirmInterval/10 + 200*time.Millisecond; worst > limit {
		t.Errorf("a term's newest confirmation reached %v old, want at most %v", worst, limit)
	}
}
