package leader_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leader.New(client, tt.cfg)
			if !errors.Is(err, leader.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
	if _, err := leader.New(nil, leader.Config{Key: "a"}); !errors.Is(err, leader.ErrInvalidConfig) {
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
	if cfg.LockDelay-cfg.DemoteAfter < leader.SafetyMargin(cfg.LockDelay) {
		t.Errorf("defaults break the safety inequality")
	}
	if st := e.Status(); st.Role != leader.RoleStopped || st.Key != "a" {
		t.Errorf("status of a new elector: %+v", st)
	}
}
