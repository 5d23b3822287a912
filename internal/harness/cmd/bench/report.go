package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/consulelect/consulelect/leader"
)

type herdRow struct {
	n            int
	ours, theirs herdResult
}

// report collects the measurements and renders them.
type report struct {
	quick                             bool
	consulVersion                     string
	handoffOurs, handoffTheirs        sample
	lossOurs, lossTheirs              sample
	crashOurs, crashFast, crashTheirs sample
	partOurs, partTheirs              []partitionTrial
	idleOurs, idleTheirs              idleRates
	herd                              []herdRow
	scaleN                            int
	scaleOurs, scaleTheirs            scaleResult
	mutex                             mutexReport
	sem                               semReport
	lockFaults                        lockFaultsReport
	strategy                          strategyReport
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks: consulelect vs Consul's api.Lock\n\n")
	if r.quick {
		w("**Quick mode: too few trials to quote.**\n\n")
	}
	w("Measured by `make bench` (`go run ./internal/harness/cmd/bench`) on %s: %s, Go %s, %s; one Consul dev server plus one client agent on loopback, both implementations in the same run. ",
		time.Now().UTC().Format("2006-01-02"), machine(), strings.TrimPrefix(runtime.Version(), "go"), r.consulVersion)
	w("consulelect runs with its defaults (LockDelay %v, DemoteAfter %v, ConfirmInterval %v, CheckTTL %v) unless a row says otherwise; api.Lock with its defaults (session TTL 15s, lock-delay 15s). These machines are shared and noisy: quote medians and ratios.\n\n",
		leader.DefaultLockDelay, leader.DefaultDemoteAfter, leader.DefaultConfirmInterval, leader.DefaultCheckTTL)
	w("| row | consulelect | api.Lock | ratio | target |\n|---|---|---|---|---|\n")
	durRow := func(name string, o, t sample, target string) {
		if len(o) == 0 && len(t) == 0 {
			return
		}
		w("| %s p50 (n=%d/%d) | %s | %s | %s | %s |\n", name, len(o), len(t), fmtDur(o.P50()), fmtDur(t.P50()),
			ratio(float64(o.P50()), float64(t.P50())), target)
		w("| %s p99 | %s | %s | %s | |\n", name, fmtDur(o.P99()), fmtDur(t.P99()), ratio(float64(o.P99()), float64(t.P99())))
	}
	durRow("graceful handoff", r.handoffOurs, r.handoffTheirs, "p50 ≤ 3ms, p99 ≤ 10ms")
	durRow("loss detection (session destroyed)", r.lossOurs, r.lossTheirs, "p50 ≤ api.Lock's")
	if len(r.crashOurs)+len(r.crashTheirs) > 0 {
		w("| crash failover median, defaults (n=%d/%d) | %s | %s | %s | ≤ 4s |\n", len(r.crashOurs), len(r.crashTheirs),
			fmtDur(r.crashOurs.P50()), fmtDur(r.crashTheirs.P50()), ratio(float64(r.crashOurs.P50()), float64(r.crashTheirs.P50())))
		w("| crash failover median, fast profile¹ (n=%d) | %s | | %s | |\n", len(r.crashFast), fmtDur(r.crashFast.P50()),
			ratio(float64(r.crashFast.P50()), float64(r.crashTheirs.P50())))
	}
	r.partitionRows(w)
	r.idleRows(w)
	for _, h := range r.herd {
		w("| herd, %d waiting: acquire attempts per handoff | %.1f | %.1f | %s | ≤ 5 at 50 |\n", h.n, h.ours.attempts, h.theirs.attempts, ratio(h.ours.attempts, h.theirs.attempts))
		w("| herd, %d waiting: handoff p50 | %s | %s | %s | |\n", h.n, fmtDur(h.ours.latency.P50()), fmtDur(h.theirs.latency.P50()),
			ratio(float64(h.ours.latency.P50()), float64(h.theirs.latency.P50())))
	}
	if r.scaleN > 0 {
		o, t := r.scaleOurs, r.scaleTheirs
		w("| scale, %d keys: time until all lead | %s | %s | %s | |\n", r.scaleN, fmtDur(o.settle), fmtDur(t.settle), ratio(float64(o.settle), float64(t.settle)))
		w("| scale, %d keys: CPU at steady state (one core = 100%%) | %.1f%% | %.1f%% | %s | < 5%% |\n", r.scaleN, 100*o.cpu, 100*t.cpu, ratio(o.cpu, t.cpu))
		w("| scale, %d keys: RSS | %.0f MB² | %.0f MB² | | < 100 MB |\n", r.scaleN, o.rssMB, t.rssMB)
		w("| scale, %d keys: requests/s | %.0f | %.0f | %s | |\n", r.scaleN, o.reqPerSec, t.reqPerSec, ratio(o.reqPerSec, t.reqPerSec))
	}
	r.mutexRows(w)
	r.semRows(w)
	r.lockFaultRows(w)
	w("\n¹ fast profile: LockDelay 1.5s, DemoteAfter 1s, ConfirmInterval 250ms, CheckTTL 600ms (the safety inequality holds: 1.5s − 1s ≥ 250ms).\n")
	w("² RSS of the whole bench process at that point; the two scale runs are sequential in one process, so the api.Lock figure includes what the Go runtime kept from the first run.\n")
	r.mutexNotes(w)
	r.semNotes(w)
	r.lockFaultNotes(w)
	b.WriteString(readingNotes)
	if r.mutex.ran {
		b.WriteString(mutexReadingNotes)
	}
	if r.sem.ran {
		b.WriteString(semReadingNotes)
	}
	if r.lockFaults.ran {
		b.WriteString(lockFaultReadingNotes)
	}
	r.strategyRows(w)
	return b.String()
}

func (r *report) partitionRows(w func(string, ...any)) {
	if len(r.partOurs)+len(r.partTheirs) == 0 {
		return
	}
	stops := func(ps []partitionTrial) string {
		var s []string
		for _, p := range ps {
			if p.oldStop < 0 {
				s = append(s, "never")
			} else {
				s = append(s, fmtDur(p.oldStop))
			}
		}
		return strings.Join(s, ", ")
	}
	starts := func(ps []partitionTrial) string {
		var s []string
		for _, p := range ps {
			s = append(s, fmtDur(p.newStart))
		}
		return strings.Join(s, ", ")
	}
	overlaps := func(ps []partitionTrial) string {
		var s []string
		for _, p := range ps {
			if p.oldStop < 0 {
				s = append(s, "≥ 2s, until the thaw (never told)")
			} else {
				s = append(s, fmtDur(p.overlap()))
			}
		}
		return strings.Join(s, ", ")
	}
	w("| partition (holder's agent SIGSTOPped): old holder stops, per trial | %s | %s | | |\n", stops(r.partOurs), stops(r.partTheirs))
	w("| partition: new holder starts, per trial | %s | %s | | |\n", starts(r.partOurs), starts(r.partTheirs))
	w("| partition: overlap (old stop − new start; ≤ 0 is safe) | %s | %s | | ≤ 0 every trial |\n", overlaps(r.partOurs), overlaps(r.partTheirs))
}

func (r *report) idleRows(w func(string, ...any)) {
	o, t := r.idleOurs, r.idleTheirs
	if o == (idleRates{}) && t == (idleRates{}) {
		return
	}
	w("| idle leader: requests/min to the servers | %.0f | %.0f | %s | ≤ api.Lock |\n", o.leaderServer, t.leaderServer, ratio(o.leaderServer, t.leaderServer))
	w("| idle leader: requests/min answered by the local agent | %.0f | %.0f | | |\n", o.leaderLocal, t.leaderLocal)
	w("| idle follower: requests/min to the servers | %.1f | %.1f | %s | ≤ api.Lock |\n", o.followerServer, t.followerServer, ratio(o.followerServer, t.followerServer))
	w("| idle follower: requests/min answered by the local agent | %.0f | %.0f | | |\n", o.followerLocal, t.followerLocal)
}

func machine() string {
	out, _ := exec.Command("uname", "-sm").Output()
	return fmt.Sprintf("%s, %d cores", strings.TrimSpace(string(out)), runtime.NumCPU())
}

func consulVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "Consul (version unknown)"
	}
	return strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
}

// readingNotes explain the rows; they hold for any run, so they carry no
// numbers.
const readingNotes = `
## Reading the table

- **Handoff and loss detection** are one blocking-query round trip for
  both: a release or a destroyed session wakes the waiting query at once.
  consulelect ends the term first and only then asks Consul whether the
  session was invalidated or the key released (for the term's reason), so
  that lookup is not in the measured time.
- **Crash failover** is CheckTTL + LockDelay for consulelect (the process's
  TTL check goes critical, then lock-delay), and 2 × session TTL + 15s
  lock-delay for api.Lock, whose session outlives the process until its TTL
  expires.
- **Partition.** consulelect's holder ends its term DemoteAfter after its
  last confirmation, before Consul can let anyone else acquire (LockDelay
  after invalidating the session): the overlap is negative. api.Lock's
  holder is never told while its agent is frozen: it keeps "leading" next
  to the new holder until the agent comes back.
- **Idle cost: where we are worse, and why.** A consulelect leader sends
  one consistent read per ConfirmInterval (500ms) to the servers (and
  keeps one blocking query parked to see a loss at once), about 120 a
  minute, where an api.Lock leader renews its session every
  7.5s. That is the price of the demote deadline: a leader that must stop
  before anyone else can start needs a fresh confirmation at least every
  DemoteAfter − ConfirmInterval, and api.Lock, which never demotes itself,
  pays nothing for that and is unsafe in the partition row. The cost is
  per process, not per key, with a leader.Group (scale row), and
  ConfirmInterval can be raised up to DemoteAfter/3 (with DemoteAfter and
  LockDelay raised too) where Consul load matters more than failover time.
  Followers cost almost nothing: a blocking query that Consul wakes only on
  changes, and a check pass every CheckTTL/3 that the local agent answers
  without forwarding.
- **Herd.** api.Lock's waiters all try to acquire when the key is
  released. consulelect followers keep a line (the live candidates from the
  health catalog): the first tries at once, the k-th only if the key is
  still free k × 5ms later.
- **Scale** runs consulelect's electors in one leader.Group, which confirms
  up to 64 terms per consistent read transaction; api.Lock runs one session
  renewal and one monitoring query per lock. Its CPU is mostly the decoding
  of those transactions' answers (every key's value comes back).
`
