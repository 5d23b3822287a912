package consultest

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// Config returns a new api config that points at the agent's HTTP API, with
// Token RootToken when ACLs are enabled. Each call returns a config with its
// own pooled http.Transport; call Transport.CloseIdleConnections when done
// (or ignore the idle connections with LeakOptions).
func (a *Agent) Config() *api.Config {
	cfg := api.DefaultConfig()
	cfg.Address = a.HTTPAddr
	cfg.Scheme = "http"
	cfg.Datacenter = ""
	cfg.HttpAuth = nil
	cfg.TokenFile = ""
	cfg.Token = ""
	if a.ACL {
		cfg.Token = RootToken
	}
	cfg.TLSConfig = api.TLSConfig{}
	cfg.Namespace = ""
	cfg.Partition = ""
	return cfg
}

// Client returns an api client for the agent (see Config). Its idle
// connections are closed in t.Cleanup.
func (a *Agent) Client(t testing.TB) *api.Client {
	t.Helper()
	return newClient(t, a.Config())
}

// newClient returns an api client for cfg whose idle connections are closed
// in t.Cleanup.
func newClient(t testing.TB, cfg *api.Config) *api.Client {
	t.Helper()
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("consultest: api.NewClient: %v", err)
	}
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	return c
}
