package main

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/consul/api"
)

// counter counts the HTTP requests a client sends, split into those the
// local agent answers itself (/v1/agent/...) and those it forwards to the
// servers (KV, sessions, transactions, ...), and acquire attempts (raft
// writes that try to take the lock).
type counter struct {
	local, server, acquires atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/agent/"):
		c.local.Add(1)
	default:
		c.server.Add(1)
	}
	if r.URL.Path == "/v1/txn" || (r.Method == http.MethodPut && r.URL.Query().Has("acquire")) {
		c.acquires.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// countedClient returns a client for cfg whose requests c counts.
func countedClient(cfg *api.Config, c *counter) *api.Client {
	cc := *cfg
	cc.HttpClient = &http.Client{Transport: c}
	client, err := api.NewClient(&cc)
	if err != nil {
		panic(err)
	}
	return client
}
