package main

import (
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// crash: the holder process is SIGKILLed; how long until a waiting
// candidate (in this process) leads.
func benchCrashOurs(cfg *api.Config, profile string, n int) (sample, error) {
	client := countedClient(cfg, &counter{})
	var s sample
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("bench/crash/ours-%s-%d", profile, i)
		victim, err := startChild("ours", key, cfg.Address, profile)
		if err != nil {
			return nil, err
		}
		c := profileConfig(profile)
		c.Key, c.Identity = key, "survivor"
		e, stop := ours(client, c)
		if err := waitUntil(10*time.Second, func() bool { return e.Status().Leader != nil }); err != nil {
			stop()
			victim.kill()
			return nil, err
		}
		t0 := victim.kill()
		err = waitUntil(60*time.Second, e.IsLeader)
		if err == nil {
			s = append(s, e.Term().Started().Sub(t0))
		}
		stop()
		if err != nil {
			return nil, fmt.Errorf("ours crash %d: %w", i, err)
		}
	}
	return s, nil
}

func benchCrashAPILock(cfg *api.Config, n int) (sample, error) {
	client := countedClient(cfg, &counter{})
	var s sample
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("bench/crash/apilock-%d", i)
		victim, err := startChild("apilock", key, cfg.Address, "")
		if err != nil {
			return nil, err
		}
		waiter := lockAsync(client, key)
		time.Sleep(50 * time.Millisecond)
		t0 := victim.kill()
		select {
		case at := <-waiter.held:
			s = append(s, at.Sub(t0))
		case <-time.After(3 * time.Minute):
			waiter.release()
			return nil, fmt.Errorf("api.Lock crash %d: no failover within 3m", i)
		}
		waiter.release()
	}
	return s, nil
}
