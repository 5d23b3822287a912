package main

import (
	"fmt"
	"os"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// trials are the repetition counts of a run.
type trials struct {
	handoff, loss, crash, crashAPILock, partition, herdHandoffs, scaleN int
	lockCycles, balanceKeys                                             int
	idle, scaleWindow                                                   time.Duration
}

func trialsFor(quick bool) trials {
	if quick {
		return trials{handoff: 5, loss: 5, crash: 1, crashAPILock: 1, partition: 1, herdHandoffs: 2, scaleN: 1000, lockCycles: 20, balanceKeys: 60,
			idle: 5 * time.Second, scaleWindow: 3 * time.Second}
	}
	return trials{handoff: 60, loss: 60, crash: 7, crashAPILock: 5, partition: 3, herdHandoffs: 10, scaleN: 1000, lockCycles: 200, balanceKeys: 300,
		idle: time.Minute, scaleWindow: 30 * time.Second}
}

// run starts the agents and runs the selected rows.
func run(s settings) (string, error) {
	tb, cleanup := consultest.Standalone()
	defer cleanup()
	var srv, agent *consultest.Agent
	err := consultest.Catch(func() {
		// Many concurrent blocking queries from one process (scale row):
		// lift the agent's per-client connection limit (default 200).
		srv = consultest.DevServer(tb, consultest.Options{Extra: map[string]any{
			"limits": map[string]any{"http_max_conns_per_client": 10000}}})
		agent = consultest.ClientAgent(tb, srv, consultest.Options{Bind: "127.0.0.2"})
	})
	if err != nil {
		return "", err
	}
	r := &report{quick: s.quick, consulVersion: consulVersion(consultest.Binary(tb))}
	n := trialsFor(s.quick)
	step := func(name string, f func() error) error {
		if !s.rows[name] {
			return nil
		}
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", name)
		err := f()
		fmt.Fprintf(os.Stderr, "bench: %s done in %v\n", name, time.Since(t0).Round(time.Second))
		return err
	}
	cfg := srv.Config()
	for _, st := range []struct {
		name string
		f    func() error
	}{
		{"handoff", func() (err error) { r.handoffOurs, r.handoffTheirs, err = benchHandoff(cfg, n.handoff); return }},
		{"loss", func() (err error) { r.lossOurs, r.lossTheirs, err = benchLoss(cfg, n.loss); return }},
		{"crash", func() (err error) {
			if r.crashOurs, err = benchCrashOurs(cfg, "default", n.crash); err != nil {
				return err
			}
			if r.crashFast, err = benchCrashOurs(cfg, "fast", n.crash); err != nil {
				return err
			}
			r.crashTheirs, err = benchCrashAPILock(cfg, n.crashAPILock)
			return err
		}},
		{"partition", func() (err error) {
			if r.partOurs, err = benchPartitionOurs(tb, srv, agent, n.partition); err != nil {
				return err
			}
			r.partTheirs, err = benchPartitionAPILock(tb, srv, agent, n.partition)
			return err
		}},
		{"idle", func() (err error) { r.idleOurs, r.idleTheirs, err = benchIdle(cfg, n.idle); return }},
		{"herd", func() error {
			for _, k := range []int{1, 10, 50} {
				o, err := benchHerdOurs(cfg, k, n.herdHandoffs)
				if err != nil {
					return err
				}
				t, err := benchHerdAPILock(cfg, k, n.herdHandoffs)
				if err != nil {
					return err
				}
				r.herd = append(r.herd, herdRow{k, o, t})
			}
			return nil
		}},
		{"scale", func() (err error) {
			r.scaleN = n.scaleN
			if r.scaleOurs, err = benchScaleOurs(cfg, n.scaleN, n.scaleWindow); err != nil {
				return err
			}
			r.scaleTheirs, err = benchScaleAPILock(cfg, n.scaleN, n.scaleWindow)
			return err
		}},
		{"lock", func() (err error) { r.mutex, err = benchMutex(cfg, n.lockCycles, n.handoff, s.lockWindow); return }},
		{"sem", func() (err error) { r.sem, err = benchSemaphore(cfg, s.lockWindow); return }},
		{"lockfaults", func() (err error) { r.lockFaults, err = benchLockFaults(tb, srv, agent, r, n); return }},
		{"strategy", func() (err error) { r.strategy, err = benchStrategies(tb, srv, n, n.balanceKeys); return }},
	} {
		var stepErr error
		if err := consultest.Catch(func() { stepErr = step(st.name, st.f) }); err != nil {
			return "", err
		}
		if stepErr != nil {
			return "", fmt.Errorf("%s: %w", st.name, stepErr)
		}
	}
	return r.markdown(), nil
}
