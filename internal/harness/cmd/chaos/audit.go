package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"
)

// readAudit lists the audit keys that the candidates' fenced writes
// created (<key>-writes/<id>/<pid>/<seq>, value the token): exactly the
// writes Consul applied, each with the raft index that applied it
// (CreateIndex). They go into the fault ledger; the checker resolves the
// writes whose answer was lost with them, and checks fencing in raft order.
func (h *harness) readAudit() error {
	var pairs api.KVPairs
	err := h.adminDo(func(c *api.Client) error {
		var err error
		pairs, _, err = c.KV().List(h.key+"-writes/", &api.QueryOptions{RequireConsistent: true})
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range pairs {
		f := strings.Split(strings.TrimPrefix(p.Key, h.key+"-writes/"), "/")
		if len(f) != 3 {
			return fmt.Errorf("unexpected audit key %q", p.Key)
		}
		pid, err1 := strconv.Atoi(f[1])
		seq, err2 := strconv.ParseUint(f[2], 10, 64)
		token, err3 := strconv.ParseUint(string(p.Value), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("unexpected audit entry %q = %q", p.Key, p.Value)
		}
		h.led.add(record{Ev: evAudit, Mono: mono(), ID: f[0], PID: pid, Seq: seq, Token: token, Index: p.CreateIndex})
	}
	h.led.add(record{Ev: evAuditDone, Mono: mono(), Detail: fmt.Sprintf("%d accepted writes", len(pairs))})
	return nil
}
