package leader_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/leader"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   leader.Config
		field string // named in the error
	}{
		{"empty key", leader.Config{}, "Key"},
		{"leading slash", leader.Config{Key: "/a"}, "Key"},
		{"trailing slash", leader.Config{Key: "a/"}, "Key"},
		{"query in key", leader.Config{Key: "a?b"}, "Key"},
		{"negative timing", leader.Config{Key: "a", RequestTimeout: -time.Second}, "RequestTimeout"},
		{"lock delay over consul's limit", leader.Config{Key: "a", LockDelay: 61 * time.Second}, "LockDelay"},
		{"demote after not below lock delay", leader.Config{Key: "a", LockDelay: 2 * time.Second, DemoteAfter: 3 * time.Second}, "DemoteAfter"},
		{"margin too thin", leader.Config{Key: "a", LockDelay: 10 * time.Second, DemoteAfter: 9500 * time.Millisecond}, "LockDelay"},
		{"confirm interval too long", leader.Config{Key: "a", ConfirmInterval: time.Second}, "ConfirmInterval"},
		{"check ttl too short", leader.Config{Key: "a", CheckTTL: 100 * time.Millisecond}, "CheckTTL"},
		{"session ttl under consul's minimum", leader.Config{Key: "a", SessionTTL: 5 * time.Second}, "SessionTTL"},
		{"deregister under consul's minimum", leader.Config{Key: "a", DeregisterCriticalAfter: 30 * time.Second}, "DeregisterCriticalAfter"},
		{"follower wait over consul's limit", leader.Config{Key: "a", FollowerWait: 11 * time.Minute}, "FollowerWait"},
		{"service name with slash", leader.Config{Key: "a", ServiceName: "a/b"}, "ServiceName"},
		{"confirm interval below its minimum", leader.Config{Key: "a", ConfirmInterval: time.Nanosecond}, "ConfirmInterval"},
		{"permanent error retry below its minimum", leader.Config{Key: "a", PermanentErrorRetry: time.Nanosecond}, "PermanentErrorRetry"},
		{"request timeout below its minimum", leader.Config{Key: "a", RequestTimeout: time.Millisecond}, "RequestTimeout"},
		{"follower wait below its minimum", leader.Config{Key: "a", FollowerWait: 10 * time.Millisecond}, "FollowerWait"},
		{"stop timeout below its minimum", leader.Config{Key: "a", StopTimeout: time.Millisecond}, "StopTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leader.New(client, tt.cfg)
			if !errors.Is(err, consulelect.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
	if _, err := leader.New(nil, leader.Config{Key: "a"}); !errors.Is(err, consulelect.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
}

// The defaults satisfy every rule, and the safety inequality with room.
func TestDefaultsAreValid(t *testing.T) {
	client, _ := api.NewClient(api.DefaultConfig())
	e, err := leader.New(client, leader.Config{Key: "a"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.Config()
	if cfg.Identity == "" {
		t.Error("no default identity")
	}
	if cfg.LockDelay-cfg.DemoteAfter < max(leader.MinSafetyMargin, cfg.LockDelay/10) {
		t.Errorf("defaults break the safety inequality")
	}
	if st := e.Status(); st.Role != leader.RoleStopped || st.Key != "a" {
		t.Errorf("status of a new elector: %+v", st)
	}
}

// A nil logger or backoff means the default; it never panics later.
func TestNilOptionsMeanDefaults(t *testing.T) {
	client, _ := api.NewClient(api.DefaultConfig())
	if _, err := leader.New(client, leader.Config{Key: "a"}, leader.WithLogger(nil), leader.WithMetrics(leader.Metrics{})); err != nil {
		t.Fatalf("New with nil options: %v", err)
	}
}

// A Group's config is checked on its own fields (a long ConfirmInterval
// is fine for a group whose electors demote late enough); each elector is
// checked against the group's shared values, and a field that differs
// from the group's is refused instead of silently overridden.
func TestGroupConfigRules(t *testing.T) {
	client, _ := api.NewClient(api.DefaultConfig())
	g, err := leader.NewGroup(client, leader.GroupConfig{ConfirmInterval: time.Second})
	if err != nil {
		t.Fatalf("NewGroup with ConfirmInterval 1s: %v", err)
	}
	if _, err := leader.NewGroup(client, leader.GroupConfig{CheckTTL: time.Millisecond}); !errors.Is(err, consulelect.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "CheckTTL") || !strings.Contains(err.Error(), "GroupConfig") {
		t.Errorf("NewGroup with CheckTTL 1ms: %v, want an error naming GroupConfig's CheckTTL", err)
	}
	if _, err := leader.New(client, leader.Config{Key: "k"}, leader.WithGroup(g)); !errors.Is(err, consulelect.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "ConfirmInterval") {
		t.Errorf("default DemoteAfter with the group's 1s ConfirmInterval: %v, want an error naming ConfirmInterval", err)
	}
	ok := leader.Config{Key: "k", LockDelay: 4 * time.Second, DemoteAfter: 3 * time.Second}
	if _, err := leader.New(client, ok, leader.WithGroup(g)); err != nil {
		t.Errorf("DemoteAfter 3s with the group's 1s ConfirmInterval: %v", err)
	}
	same := ok
	same.ConfirmInterval, same.ServiceName = time.Second, leader.DefaultServiceName
	if _, err := leader.New(client, same, leader.WithGroup(g)); err != nil {
		t.Errorf("fields equal to the group's: %v", err)
	}
	for _, tt := range []struct {
		field string
		cfg   func(*leader.Config)
	}{
		{"ConfirmInterval", func(c *leader.Config) { c.ConfirmInterval = 900 * time.Millisecond }},
		{"CheckTTL", func(c *leader.Config) { c.CheckTTL = 2 * time.Second }},
		{"ServiceName", func(c *leader.Config) { c.ServiceName = "other" }},
		{"RequestTimeout", func(c *leader.Config) { c.RequestTimeout = time.Second }},
		{"PermanentErrorRetry", func(c *leader.Config) { c.PermanentErrorRetry = time.Minute }},
		{"DeregisterCriticalAfter", func(c *leader.Config) { c.DeregisterCriticalAfter = 2 * time.Minute }},
		{"Datacenter", func(c *leader.Config) { c.Datacenter = "dc9" }},
	} {
		cfg := ok
		tt.cfg(&cfg)
		if _, err := leader.New(client, cfg, leader.WithGroup(g)); !errors.Is(err, consulelect.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s differing from the group's: %v, want an error naming it", tt.field, err)
		}
	}
}
