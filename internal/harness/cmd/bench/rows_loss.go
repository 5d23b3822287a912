package main

import (
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// loss: an operator destroys the holder's session; how long until the
// holder knows (ours: term ctx cancelled; api.Lock: its lost channel
// closed). A fresh key per trial, so no lock-delay is in the way.
func benchLoss(cfg *api.Config, n int) (ourS, theirS sample, err error) {
	client := countedClient(cfg, &counter{})
	for i := 0; i < n; i++ {
		e, stop := ours(client, leader.Config{Key: fmt.Sprintf("bench/loss/ours-%d", i), Identity: "holder"})
		if err := waitUntil(10*time.Second, e.IsLeader); err != nil {
			stop()
			return nil, nil, err
		}
		term := e.Term()
		time.Sleep(20 * time.Millisecond) // the loss watch is parked
		// The holder's session as an operator finds it, read the same way
		// as for api.Lock below (which also leaves both with a warm
		// connection for the destroy).
		info, _, err := client.KV().Get(term.Key(), nil)
		if err != nil || info == nil || info.Session != term.Session() {
			stop()
			return nil, nil, fmt.Errorf("our key: %+v, %v", info, err)
		}
		t0 := time.Now()
		if _, err := client.Session().Destroy(info.Session, nil); err != nil {
			stop()
			return nil, nil, err
		}
		<-term.Done()
		ourS = append(ourS, term.Ended().Sub(t0))
		stop()
	}
	for i := 0; i < n; i++ {
		l := lockAsync(client, fmt.Sprintf("bench/loss/apilock-%d", i))
		<-l.held
		time.Sleep(20 * time.Millisecond)
		info, _, err := client.KV().Get(fmt.Sprintf("bench/loss/apilock-%d", i), nil)
		if err != nil || info == nil {
			return nil, nil, fmt.Errorf("api.Lock key: %v", err)
		}
		t0 := time.Now()
		if _, err := client.Session().Destroy(info.Session, nil); err != nil {
			return nil, nil, err
		}
		select {
		case <-l.lost:
			theirS = append(theirS, time.Since(t0))
		case <-time.After(30 * time.Second):
			return nil, nil, fmt.Errorf("api.Lock never noticed the destroyed session")
		}
		l.release()
	}
	return ourS, theirS, nil
}
