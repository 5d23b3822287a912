package main

import (
	"context"
	"errors"

	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// run is one chaos run: set up, inject, tear down, check, report. It
// returns the exit status.
func run(cfg config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, keep := cfg.dir, cfg.dir != ""
	var err error
	if keep {
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "consulelect-chaos-")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	tb, cleanup := consultest.Standalone()
	h := &harness{cfg: cfg, ctx: ctx, tb: tb, dir: dir, key: electionKey, t: cfg.timings,
		rng: newRand(cfg.seed), started: time.Now()}
	fmt.Fprintf(os.Stderr, "chaos: seed %d (replay with -seed %d), %d faults\n", cfg.seed, cfg.seed, cfg.faults)
	if !cfg.netns {
		fmt.Fprintf(os.Stderr, "chaos: SKIPPING the partition faults (%s): no network namespaces (%s)\n",
			strings.Join(netKindNames(), ", "), cfg.netnsWhy)
	}

	runErr := h.setup()
	if runErr == nil {
		runErr = h.injectAll()
	}
	h.teardown()
	cleanup()
	meta := runMeta{seed: cfg.seed, faultsAsked: cfg.faults, candidates: cfg.candidates,
		elapsed: time.Since(h.started), interrupted: ctx.Err() != nil, runErr: runErr,
		machine: machine(), goVersion: runtime.Version(), consulVersion: consulVersion(tb),
		netns: cfg.netns, netnsWhy: cfg.netnsWhy}
	status := verdictOf(h, dir, meta, cfg.report, cfg.timeline)
	switch {
	case errors.Is(runErr, errLiveness):
		fmt.Fprintln(os.Stderr, "chaos:", runErr)
		status = 1
	case status == 0 && runErr != nil:
		fmt.Fprintln(os.Stderr, "chaos:", runErr)
		status = 2
	case status == 0 && meta.interrupted:
		status = 130
	}
	if status != 0 || keep {
		fmt.Fprintf(os.Stderr, "chaos: ledgers and logs kept in %s\n", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	fmt.Fprintf(os.Stderr, "chaos: done in %v\n", time.Since(h.started).Round(time.Second))
	return status
}

// verdictOf checks the ledgers in dir and prints the report; it returns 1
// on a violation or when the ledgers cannot be read.
func verdictOf(h *harness, dir string, meta runMeta, reportPath, timelinePath string) int {
	if h.led == nil {
		return 2
	}
	_ = h.led.close()
	return checkLedgers(dir, meta, reportPath, timelinePath)
}

// checkLedgers checks the ledgers in dir, prints the report (and writes
// it and the timeline where asked); it returns 1 on a violation or when
// the ledgers cannot be read.
func checkLedgers(dir string, meta runMeta, reportPath, timelinePath string) int {
	var recs []record
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, f := range files {
		r, err := readLedger(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
		recs = append(recs, r...)
	}
	hist, err := buildHistory(recs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: ledgers:", err)
		return 1
	}
	if meta.seed == 0 { // -check: what the run recorded
		st := hist.settings
		meta.seed, meta.candidates, meta.faultsAsked = st.Seed, st.Candidates, len(hist.faults)
		meta.elapsed = time.Duration(hist.last - hist.start)
		meta.netns, meta.netnsWhy = st.Netns, st.NetnsWhy
		for _, f := range hist.faults { // a ledger from before the field
			if k, ok := kindByName(f.kind); ok && k.needsNet() {
				meta.netns = true
			}
		}
		if st.Machine != "" {
			meta.machine, meta.goVersion = st.Machine, st.Go
		}
	}
	v := check(hist)
	md := report(hist, v, meta)
	fmt.Print(md)
	if reportPath != "" {
		if err := writeReport(reportPath, md); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	}
	if timelinePath != "" {
		if err := writeTimeline(timelinePath, hist, v, meta); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: timeline:", err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "chaos: timeline written to %s\n", timelinePath)
	}
	if len(v.violations) > 0 {
		for _, x := range v.violations {
			fmt.Fprintf(os.Stderr, "chaos: VIOLATION %s: %s\n", x.kind, x.msg)
		}
		return 1
	}
	return 0
}

// machine is `uname -sm` and the CPU count.
func machine() string {
	out, err := exec.Command("uname", "-sm").Output()
	if err != nil {
		return fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	}
	return fmt.Sprintf("%s, %d CPUs", strings.TrimSpace(string(out)), runtime.NumCPU())
}

func consulVersion(tb testing.TB) string {
	var bin string
	if err := consultest.Catch(func() { bin = consultest.Binary(tb) }); err != nil {
		return "unknown"
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(first), "Consul ")
}
