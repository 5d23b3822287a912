package consultest

import (
	"encoding/json"
	"os"
)

// agentConfig returns the JSON configuration of a.
func (a *Agent) agentConfig() map[string]any {
	cfg := map[string]any{
		"node_name":      a.Name,
		"datacenter":     a.Datacenter,
		"data_dir":       a.DataDir,
		"bind_addr":      a.Bind,
		"client_addr":    a.Bind,
		"advertise_addr": a.Bind,
		"ports": map[string]any{
			"http":     a.ports.HTTP,
			"https":    -1,
			"grpc":     -1,
			"grpc_tls": -1,
			"dns":      a.ports.DNS,
			"server":   a.ports.Server,
			"serf_lan": a.ports.SerfLAN,
			"serf_wan": a.ports.SerfWAN,
		},
		"server":               a.Server,
		"log_level":            "info",
		"disable_update_check": true,
		"enable_script_checks": false,
		// Stop (SIGTERM) makes a client agent leave the cluster gracefully;
		// servers just shut down and stay raft voters.
		"leave_on_terminate":      !a.Server,
		"skip_leave_on_interrupt": a.Server,
		"connect":                 map[string]any{"enabled": false},
	}
	if len(a.retryJoin) > 0 {
		cfg["retry_join"] = a.retryJoin
		cfg["retry_interval"] = "250ms"
	}
	if a.bootstrapExpect > 0 {
		cfg["bootstrap_expect"] = a.bootstrapExpect
		cfg["performance"] = map[string]any{"raft_multiplier": 1}
	}
	if a.ACL {
		tokens := map[string]any{"agent": RootToken}
		if a.Server {
			tokens["initial_management"] = RootToken
		}
		cfg["acl"] = map[string]any{
			"enabled":                  true,
			"default_policy":           "deny",
			"down_policy":              "extend-cache",
			"enable_token_persistence": false,
			"tokens":                   tokens,
		}
	}
	for k, v := range a.extra {
		cfg[k] = v
	}
	return cfg
}

// writeConfig writes the configuration of a to a.ConfigFile.
func (a *Agent) writeConfig() error {
	b, err := json.MarshalIndent(a.agentConfig(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(a.ConfigFile, b, 0o600)
}
