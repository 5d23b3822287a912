package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// change is one line of watch -json.
type change struct {
	At     time.Time      `json:"at"`
	Key    string         `json:"key"`
	Leader *leader.Holder `json:"leader"`
}

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	key, err := parse(fs, args, stderr, "watch [-json] KEY")
	if err != nil {
		return err
	}
	client, err := newClient()
	if err != nil {
		return err
	}
	var index uint64
	first, last := true, ""
	for {
		pair, meta, err := client.KV().Get(key, (&api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Minute}).WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: done
			}
			fmt.Fprintf(stderr, "consulelect watch: %v; retrying\n", err)
			if !pause(ctx, time.Second) {
				return nil
			}
			index = 0
			continue
		}
		if meta.LastIndex < index {
			index = 0
		} else {
			index = max(meta.LastIndex, 1)
		}
		h := holderOf(pair)
		id := ""
		if h != nil {
			id = h.Session
		}
		if !first && id == last {
			continue
		}
		first, last = false, id
		now := time.Now().UTC()
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(change{At: now, Key: key, Leader: h})
			continue
		}
		fmt.Fprintf(stdout, "%s  %s\n", now.Format("2006-01-02T15:04:05.000Z"), describe(h))
	}
}

// holderOf decodes a key's holder as leader.Lookup does; nil when free.
func holderOf(p *api.KVPair) *leader.Holder {
	if p == nil || p.Session == "" {
		return nil
	}
	var h leader.Holder
	if json.Unmarshal(p.Value, &h) != nil || h.ID == "" || p.Flags != api.LockFlagValue {
		h = leader.Holder{Foreign: true}
	}
	h.Session, h.ModifyIndex = p.Session, p.ModifyIndex
	return &h
}

func describe(h *leader.Holder) string {
	switch {
	case h == nil:
		return "nobody leads"
	case h.Foreign:
		return "held by a client other than consulelect (session " + h.Session + ")"
	case h.Why != "":
		return fmt.Sprintf("%s leads (token %d): %s", h.ID, h.ModifyIndex, h.Why)
	default:
		return fmt.Sprintf("%s leads (token %d)", h.ID, h.ModifyIndex)
	}
}

// pause waits d or until ctx ends; it reports whether d elapsed.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
