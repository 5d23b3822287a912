package main

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// Fault kinds.
const (
	kindKillLeader     = "kill-leader"
	kindPauseShort     = "pause-leader-short"
	kindPauseLong      = "pause-leader-long"
	kindPauseAgent     = "pause-agent"
	kindKillRaftLeader = "kill-raft-leader"
	kindDestroySession = "destroy-session"
	kindDeleteKey      = "delete-key"
	kindOverwriteKey   = "overwrite-key"
	kindFreezeProxy    = "freeze-proxy"
	kindDropConns      = "drop-connections"
)

// kind is one kind of fault. plan draws its random parameters (before
// anything is injected, so that a seed replays the same schedule); run
// injects it on the target, holds it, and heals it.
type kind struct {
	name  string
	about string // for the report
	plan  func(r *rand.Rand, t timings) time.Duration
	run   func(f *faultRun, d time.Duration) error
}

// timings are the elector's timings of the run.
type timings struct {
	lockDelay, demoteAfter, confirmInterval, checkTTL time.Duration
}

// between draws a duration uniformly from [lo, hi].
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int63n(int64(hi-lo)+1))
}

func none(*rand.Rand, timings) time.Duration { return 0 }

// restartAfter is how long a SIGKILLed candidate stays dead.
const restartAfter = time.Second

// allKinds returns every fault kind: the loopback kinds, the agent
// restart, and the partitions of -netns.
func allKinds() []kind {
	return append(append(append([]kind(nil), kinds...), restartKind), netKinds...)
}

var kinds = []kind{
	{kindKillLeader, "SIGKILL the leader process; start it again 1s later",
		none,
		func(f *faultRun, _ time.Duration) error {
			f.inject("SIGKILL")
			f.host.kill()
			f.sleep(restartAfter)
			err := f.host.spawn()
			f.heal()
			return err
		}},
	{kindPauseShort, "SIGSTOP the leader process for 20-80% of DemoteAfter, then SIGCONT",
		func(r *rand.Rand, t timings) time.Duration { return between(r, t.demoteAfter/5, t.demoteAfter*4/5) },
		pauseLeader},
	{kindPauseLong, "SIGSTOP the leader process for DemoteAfter + 0.5s up to CheckTTL + LockDelay + DemoteAfter (a successor may lead when it resumes), then SIGCONT",
		func(r *rand.Rand, t timings) time.Duration {
			return between(r, t.demoteAfter+500*time.Millisecond, t.checkTTL+t.lockDelay+t.demoteAfter)
		},
		pauseLeader},
	{kindPauseAgent, "SIGSTOP the leader's client agent for 0.5s up to DemoteAfter + 4s, then SIGCONT",
		func(r *rand.Rand, t timings) time.Duration {
			return between(r, 500*time.Millisecond, t.demoteAfter+4*time.Second)
		},
		func(f *faultRun, d time.Duration) error {
			return f.catch(func() {
				f.inject(fmt.Sprintf("agent %s SIGSTOP for %s", f.host.agent.Name, fmtDur(d)))
				f.host.agent.Pause(f.h.tb)
				f.sleep(d)
				f.host.agent.Resume(f.h.tb)
				f.heal()
			})
		}},
	{kindKillRaftLeader, "SIGKILL the Consul raft leader; restart it 0.5-3s later",
		func(r *rand.Rand, _ timings) time.Duration { return between(r, 500*time.Millisecond, 3*time.Second) },
		func(f *faultRun, d time.Duration) error {
			return f.catch(func() {
				s := consultest.RaftLeader(f.h.tb, f.h.servers)
				f.inject(fmt.Sprintf("server %s killed for %s", s.Name, fmtDur(d)))
				s.Kill(f.h.tb)
				f.sleep(d)
				s.Restart(f.h.tb)
				f.heal()
			})
		}},
	{kindDestroySession, "destroy the leader's session through the API (lock-delay applies)",
		none,
		func(f *faultRun, _ time.Duration) error {
			return f.admin(func(c *api.Client) error {
				_, err := c.Session().Destroy(f.session, nil)
				return err
			})
		}},
	{kindDeleteKey, "delete the election key (an operator's mistake: lock-delay does not apply)",
		none,
		func(f *faultRun, _ time.Duration) error {
			return f.admin(func(c *api.Client) error {
				_, err := c.KV().Delete(f.h.key, nil)
				return err
			})
		}},
	{kindOverwriteKey, "overwrite the key's value with a plain PUT (the session keeps the lock; the elector must keep leading and restore its value)",
		none,
		func(f *faultRun, _ time.Duration) error {
			return f.admin(func(c *api.Client) error {
				_, err := c.KV().Put(&api.KVPair{Key: f.h.key, Value: []byte("chaos: plain PUT")}, nil)
				return err
			})
		}},
	{kindFreezeProxy, "freeze the leader's proxy (connections accepted, never answered) for DemoteAfter + 0.5-3s, then unfreeze",
		func(r *rand.Rand, t timings) time.Duration {
			return between(r, t.demoteAfter+500*time.Millisecond, t.demoteAfter+3*time.Second)
		},
		func(f *faultRun, d time.Duration) error {
			f.inject(fmt.Sprintf("frozen for %s", fmtDur(d)))
			f.host.proxy.Freeze()
			f.sleep(d)
			f.host.proxy.Unfreeze()
			f.heal()
			return nil
		}},
	{kindDropConns, "drop every connection of the leader's proxy, 1-6 times 250ms apart",
		func(r *rand.Rand, _ timings) time.Duration {
			return time.Duration(1+r.Intn(6)) * 250 * time.Millisecond
		},
		func(f *faultRun, d time.Duration) error {
			n := int(d / (250 * time.Millisecond))
			f.inject(fmt.Sprintf("%d drops", n))
			for i := 0; i < n; i++ {
				if i > 0 {
					f.sleep(250 * time.Millisecond)
				}
				f.host.proxy.DropAll()
			}
			f.heal()
			return nil
		}},
}

func pauseLeader(f *faultRun, d time.Duration) error {
	f.inject(fmt.Sprintf("SIGSTOP for %s", fmtDur(d)))
	if err := f.host.pause(); err != nil {
		return err
	}
	f.sleep(d)
	f.host.resume()
	f.heal()
	return nil
}

func kindByName(name string) (kind, bool) {
	for _, k := range allKinds() {
		if k.name == name {
			return k, true
		}
	}
	return kind{}, false
}
