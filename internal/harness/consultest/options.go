package consultest

import "github.com/consulelect/consulelect/internal/harness/netns"

// RootToken is the ACL initial management token of every agent started with
// Options.ACL. It is also the agent token of those agents and the token of
// the api configs returned by [Agent.Config] for them.
const RootToken = "c0ffee00-7e57-4000-8000-00000000acl0"

// Options configures an agent started by [DevServer], [ClientAgent] or
// [Cluster]. The zero value is valid.
type Options struct {
	// Bind is the loopback address the agent binds and advertises (HTTP,
	// server RPC and serf). Default "127.0.0.1". Ignored by Cluster, which
	// gives each server its own address.
	Bind string
	// NodeName is the node name. Default: unique, "node-<bind>-<http port>"
	// with dashes for dots. Cluster appends "-<index>" to a given name.
	NodeName string
	// ACL enables ACLs with default_policy "deny"; RootToken is both the
	// initial management token and the agent token.
	ACL bool
	// Datacenter is the datacenter name. Default "dc1" (for ClientAgent: the
	// datacenter of the agent it joins).
	Datacenter string
	// Host runs the agent in that network namespace, bound to its address
	// (Bind is ignored), so that faults can be cut between it and the
	// other hosts of its net. Optional; ignored by Cluster (see Net).
	Host *netns.Host
	// Net gives each server of a Cluster a host of its own on that net,
	// named after the server's node name. Optional.
	Net *netns.Net
	// Extra holds top-level keys merged into the generated JSON agent
	// configuration, overriding generated keys of the same name, e.g.
	// {"gossip_lan": {"probe_interval": "200ms"}}. Optional.
	Extra map[string]any
}

// withDefaults fills the defaults that do not depend on the agent's ports.
func (o Options) withDefaults() Options {
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	if o.Datacenter == "" {
		o.Datacenter = "dc1"
	}
	return o
}
