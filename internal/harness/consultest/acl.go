package consultest

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// ClientWithPolicy creates an ACL policy with rules on srv (started with
// Options.ACL) and a token with only that policy, and returns a client
// of srv that uses the token.
func ClientWithPolicy(t testing.TB, srv *Agent, name, rules string) (*api.Client, *api.ACLPolicy) {
	t.Helper()
	root := srv.Client(t)
	p, _, err := root.ACL().PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := root.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.Token = tok.SecretID
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}
