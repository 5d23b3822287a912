package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// scaleResult describes n elections on distinct keys in this process.
type scaleResult struct {
	settle    time.Duration // until every one leads
	cpu       float64       // fraction of one core at steady state
	rssMB     float64       // resident set at the end of the steady window
	reqPerSec float64       // requests/s at steady state
}

// benchScaleOurs runs n electors in one leader.Group (one check, one
// batched confirmation loop), as the README recommends for many keys.
func benchScaleOurs(cfg *api.Config, n int, window time.Duration) (scaleResult, error) {
	var c counter
	client := countedClient(cfg, &c)
	g, err := leader.NewGroup(client, leader.GroupConfig{})
	if err != nil {
		return scaleResult{}, err
	}
	if err := g.Start(); err != nil {
		return scaleResult{}, err
	}
	defer func() { _ = g.Stop(context.Background()) }() // after the electors' deferred stops
	var es []*leader.Elector
	t0 := time.Now()
	for i := 0; i < n; i++ {
		e, stop := ours(client, leader.Config{Key: fmt.Sprintf("bench/scale/ours-%d", i), Identity: "scale"}, leader.WithGroup(g))
		defer stop()
		es = append(es, e)
	}
	if err := waitUntil(5*time.Minute, func() bool {
		for _, e := range es {
			if !e.IsLeader() {
				return false
			}
		}
		return true
	}); err != nil {
		return scaleResult{}, err
	}
	r := scaleResult{settle: time.Since(t0)}
	r.cpu, r.reqPerSec = steady(&c, window)
	r.rssMB = rssMB()
	return r, nil
}

func benchScaleAPILock(cfg *api.Config, n int, window time.Duration) (scaleResult, error) {
	var c counter
	client := countedClient(cfg, &c)
	t0 := time.Now()
	var ls []*apiLock
	for i := 0; i < n; i++ {
		ls = append(ls, lockAsync(client, fmt.Sprintf("bench/scale/apilock-%d", i)))
	}
	defer func() {
		for _, l := range ls {
			l.release()
		}
	}()
	for _, l := range ls {
		select {
		case <-l.held:
		case <-time.After(5 * time.Minute):
			return scaleResult{}, fmt.Errorf("api.Lock scale: not all held")
		}
	}
	r := scaleResult{settle: time.Since(t0)}
	r.cpu, r.reqPerSec = steady(&c, window)
	r.rssMB = rssMB()
	return r, nil
}

// steady measures this process's CPU (fraction of one core) and the
// request rate over window.
func steady(c *counter, window time.Duration) (cpu, reqPerSec float64) {
	time.Sleep(2 * time.Second) // past the settling burst
	cpu0, req0, t0 := cpuTime(), c.local.Load()+c.server.Load(), time.Now()
	time.Sleep(window)
	el := time.Since(t0)
	return (cpuTime() - cpu0).Seconds() / el.Seconds(), float64(c.local.Load()+c.server.Load()-req0) / el.Seconds()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	return 0
}
