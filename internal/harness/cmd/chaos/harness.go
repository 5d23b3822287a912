package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/netns"
)

// harness is one chaos run: the Consul cluster, the candidate hosts, the
// watcher and the fault ledger.
type harness struct {
	cfg     config
	ctx     context.Context // cancelled by Ctrl-C/SIGTERM
	tb      testing.TB
	dir     string
	key     string
	t       timings
	rng     *rand.Rand
	led     *ledger
	net     *netns.Net // nil without -netns
	servers []*consultest.Agent
	hosts   []*host
	watch   *watcher      // the election key
	lockWs  []*watcher    // the mutex's key and the semaphore's prefix
	admins  []*api.Client // one per server
	idle    []func()      // close the admin clients' idle connections
	procWG  sync.WaitGroup
	started time.Time
}

const (
	electionKey = "chaos/leader"
	// lockKey and semPrefix are the mutex and the semaphore the candidates
	// take beside the elector (-locks); the semaphore's limit is one less
	// than the candidates, so that it matters.
	lockKey   = "chaos/lock"
	semPrefix = "chaos/sem"
	// firstHostIP is the last byte of the first candidate host's address;
	// consultest's Cluster uses 127.0.0.11 and up for the servers.
	firstHostIP = 21
)

// How long the candidates' lock loops keep a lock, and pause between a
// release and the next acquire (drawn uniformly in each range). A share of
// the holds is long, so that faults also hit holders that keep holding
// through them (past DemoteAfter) rather than only holders about to
// unlock.
const (
	lockHoldMin   = 20 * time.Millisecond
	lockHoldMax   = 200 * time.Millisecond
	lockLongShare = 0.1
	lockLongMin   = time.Second
	lockLongMax   = 4 * time.Second
	lockPauseMin  = 20 * time.Millisecond
	lockPauseMax  = 200 * time.Millisecond
)

// semLimit is the limit of the candidates' semaphore.
func (h *harness) semLimit() int { return h.cfg.candidates - 1 }

// setup builds the candidate and starts the cluster, one client agent and
// proxy per host, the watcher and the candidates.
func (h *harness) setup() error {
	bin := filepath.Join(h.dir, "candidate")
	build := exec.Command("go", "build", "-o", bin, "github.com/consulelect/consulelect/internal/harness/cmd/candidate")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the candidate: %v\n%s", err, out)
	}
	led, err := createLedger(filepath.Join(h.dir, "faults.jsonl"))
	if err != nil {
		return err
	}
	h.led = led
	settings := &runSettings{
		Seed: h.cfg.seed, Candidates: h.cfg.candidates, Key: h.key,
		LockDelay: int64(h.t.lockDelay), DemoteAfter: int64(h.t.demoteAfter),
		ConfirmInterval: int64(h.t.confirmInterval), CheckTTL: int64(h.t.checkTTL),
		Netns: h.cfg.netns, NetnsWhy: h.cfg.netnsWhy, Machine: machine(), Go: runtime.Version(),
	}
	if h.cfg.locks {
		settings.LockKey, settings.SemPrefix, settings.SemLimit = lockKey, semPrefix, h.semLimit()
		settings.HoldMin, settings.HoldMax = int64(lockHoldMin), int64(lockHoldMax)
		settings.PauseMin, settings.PauseMax = int64(lockPauseMin), int64(lockPauseMax)
		settings.LongShare, settings.LongMin, settings.LongMax = lockLongShare, int64(lockLongMin), int64(lockLongMax)
	}
	h.led.add(record{Ev: evRun, Mono: mono(), Settings: settings})
	if err := consultest.Catch(h.startConsul); err != nil {
		return err
	}
	for _, s := range h.servers {
		cfg := s.Config()
		c, err := api.NewClient(cfg)
		if err != nil {
			return err
		}
		h.admins = append(h.admins, c)
		h.idle = append(h.idle, cfg.Transport.CloseIdleConnections)
	}
	if h.watch, err = startWatcher(h.servers, h.key, "", h.led); err != nil {
		return err
	}
	if h.cfg.locks {
		for _, t := range []struct{ key, use string }{{lockKey, useMutex}, {semPrefix, useSemaphore}} {
			w, err := startWatcher(h.servers, t.key, t.use, h.led)
			if err != nil {
				return err
			}
			h.lockWs = append(h.lockWs, w)
		}
	}
	for _, c := range h.hosts {
		c.bin, c.args = bin, h.candidateArgs(c.id)
		if err := c.spawn(); err != nil {
			return err
		}
	}
	return nil
}

// startConsul starts the servers and the candidate hosts' agents and
// proxies: on loopback addresses, or with -netns each in a network
// namespace of its own (the candidate process runs in its host's namespace
// too, and reaches its proxy on the harness's own address on the net).
func (h *harness) startConsul() {
	opts := consultest.Options{NodeName: "server"}
	if h.cfg.netns {
		h.net = netns.New(h.tb)
		opts.Net = h.net
	}
	h.servers = consultest.Cluster(h.tb, 3, opts)
	for i := 0; i < h.cfg.candidates; i++ {
		id := fmt.Sprintf("cand-%d", i+1)
		o := consultest.Options{Bind: fmt.Sprintf("127.0.0.%d", firstHostIP+i), NodeName: "host-" + id}
		proxyOn := "127.0.0.1"
		if h.net != nil {
			o.Host = h.net.Host("host-" + id)
			proxyOn = h.net.RootIP()
		}
		a := consultest.ClientAgent(h.tb, h.servers[0], o)
		h.hosts = append(h.hosts, &host{id: id, agent: a, proxy: consultest.NewProxyOn(h.tb, proxyOn, a.HTTPAddr),
			log: filepath.Join(h.dir, id+".log"), led: h.led, procWG: &h.procWG})
	}
}

func (h *harness) candidateArgs(id string) []string {
	args := []string{"-key", h.key, "-id", id, "-ledger", filepath.Join(h.dir, id+".jsonl"),
		"-lock-delay", h.t.lockDelay.String(), "-demote-after", h.t.demoteAfter.String(),
		"-confirm-interval", h.t.confirmInterval.String(), "-check-ttl", h.t.checkTTL.String(),
		"-write-interval", "100ms"}
	if h.cfg.locks {
		args = append(args, "-lock-key", lockKey, "-sem-prefix", semPrefix, "-sem-limit", strconv.Itoa(h.semLimit()),
			"-hold-min", lockHoldMin.String(), "-hold-max", lockHoldMax.String(),
			"-long-hold-share", strconv.FormatFloat(lockLongShare, 'g', -1, 64),
			"-long-hold-min", lockLongMin.String(), "-long-hold-max", lockLongMax.String(),
			"-pause-min", lockPauseMin.String(), "-pause-max", lockPauseMax.String())
	}
	return args
}

// adminDo runs op with a client of the first server that answers.
func (h *harness) adminDo(op func(*api.Client) error) error {
	var err error
	for i, c := range h.admins {
		if !h.servers[i].Running() {
			continue
		}
		if err = op(c); err == nil {
			return nil
		}
	}
	return err
}

// leader returns the host whose candidate leads now: it said so on its
// stdout, it is not paused, and the watcher sees its session holding the
// key with a consulelect value (so an overwritten value has been restored),
// in a state no older than raft index since.
func (h *harness) leader(since uint64) (c *host, pid int, token uint64, session string, ok bool) {
	v := h.watch.view()
	if !v.exists || v.session == "" || v.holder == "" || v.index < since {
		return nil, 0, 0, "", false
	}
	for _, c := range h.hosts {
		p, leading, paused, token, session := c.state()
		if p != nil && leading && !paused && session == v.session {
			return c, p.pid, token, session, true
		}
	}
	return nil, 0, 0, "", false
}

// awaitLeader waits up to timeout for a leader (see leader) in a state of
// the key at least as recent as now.
func (h *harness) awaitLeader(timeout time.Duration) (c *host, pid int, token uint64, session string, ok bool) {
	deadline := time.Now().Add(timeout)
	since := h.keyIndex(deadline)
	for h.ctx.Err() == nil && time.Now().Before(deadline) {
		if c, pid, token, session, ok = h.leader(since); ok {
			return c, pid, token, session, true
		}
		h.sleep(10 * time.Millisecond)
	}
	return nil, 0, 0, "", false
}

// keyIndex reads the key's index now (consistently), so that the harness
// does not take the watcher's view from before a fault for the state after
// it. It returns 0 if Consul does not answer before deadline.
func (h *harness) keyIndex(deadline time.Time) uint64 {
	for h.ctx.Err() == nil && time.Now().Before(deadline) {
		var index uint64
		err := h.adminDo(func(c *api.Client) error {
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			defer cancel()
			_, meta, err := c.KV().Get(h.key, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
			if err == nil {
				index = meta.LastIndex
			}
			return err
		})
		if err == nil {
			return index
		}
		h.sleep(100 * time.Millisecond)
	}
	return 0
}

// sleep waits d, or less if the run is interrupted.
func (h *harness) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.ctx.Done():
	}
}

// teardown ends the measured run and stops every process: the candidates
// gracefully (SIGTERM, so their ledgers end cleanly), then the watcher; it
// reads the audit of accepted writes before the agents are stopped by the
// caller's cleanup.
func (h *harness) teardown() {
	if h.led == nil {
		return
	}
	h.led.add(record{Ev: evEndRun, Mono: mono()})
	var wg sync.WaitGroup
	for _, c := range h.hosts {
		wg.Add(1)
		go func(c *host) {
			defer wg.Done()
			c.terminate(20 * time.Second)
		}(c)
	}
	wg.Wait()
	h.procWG.Wait()
	if h.watch != nil {
		h.watch.stop()
	}
	for _, w := range h.lockWs {
		w.stop()
	}
	if len(h.admins) > 0 {
		if err := h.readAudit(); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: reading the audit of accepted writes: %v\n", err)
		}
	}
	for _, f := range h.idle {
		f()
	}
}
