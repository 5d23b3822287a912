package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// candidate is a live candidate for a key as the catalog lists it.
type candidate struct {
	Identity  string `json:"identity"`
	ServiceID string `json:"service_id"`
	Priority  int    `json:"priority"`
	Version   string `json:"version,omitempty"`
	Leads     bool   `json:"leads"`
}

// statusJSON is what status -json prints.
type statusJSON struct {
	Key        string         `json:"key"`
	Leader     *leader.Holder `json:"leader"`
	Token      uint64         `json:"fencing_token,omitempty"`
	Candidates []candidate    `json:"candidates"`
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	service := fs.String("service-name", leader.DefaultServiceName, "the electors' ServiceName, for the line of candidates")
	key, err := parse(fs, args, stderr, "status [-json] [-service-name NAME] KEY")
	if err != nil {
		return err
	}
	client, err := newClient()
	if err != nil {
		return err
	}
	h, err := leader.Lookup(ctx, client, key)
	if err != nil {
		return err
	}
	cands, cerr := liveCandidates(ctx, client, *service, key, h)
	st := statusJSON{Key: key, Leader: h, Candidates: cands}
	if h != nil {
		st.Token = h.ModifyIndex
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		printStatus(stdout, st, cerr)
	}
	if h == nil {
		return notNow{fmt.Errorf("nobody leads %q", key)}
	}
	return nil
}

// liveCandidates lists the passing candidates for key.
func liveCandidates(ctx context.Context, client *api.Client, service, key string, h *leader.Holder) ([]candidate, error) {
	q := &api.QueryOptions{Filter: fmt.Sprintf("Service.Meta.consulelect_key == %q", key)}
	entries, _, err := client.Health().Service(service, "", true, q.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := []candidate{}
	for _, en := range entries {
		m := en.Service.Meta
		p, _ := strconv.Atoi(m["consulelect_priority"])
		out = append(out, candidate{Identity: m["consulelect_identity"], ServiceID: en.Service.ID, Priority: p,
			Version: m["consulelect_version"], Leads: h != nil && h.ServiceID == en.Service.ID})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].Identity < out[j].Identity
	})
	return out, nil
}

func printStatus(w io.Writer, st statusJSON, cerr error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "key:\t%s\n", st.Key)
	if h := st.Leader; h == nil {
		fmt.Fprintf(tw, "leader:\tnobody\n")
	} else if h.Foreign {
		fmt.Fprintf(tw, "leader:\ta client other than consulelect (session %s)\n", h.Session)
	} else {
		fmt.Fprintf(tw, "leader:\t%s (host %s, pid %d)\n", h.ID, h.Hostname, h.PID)
		if !h.Since.IsZero() {
			fmt.Fprintf(tw, "since:\t%s (%s ago)\n", h.Since.Format(time.RFC3339Nano), time.Since(h.Since).Round(time.Millisecond))
		}
		if h.Why != "" {
			fmt.Fprintf(tw, "why:\t%s\n", h.Why)
		}
		if h.Address != "" {
			fmt.Fprintf(tw, "address:\t%s\n", h.Address)
		}
		fmt.Fprintf(tw, "session:\t%s\n", h.Session)
		fmt.Fprintf(tw, "fencing token:\t%d\n", st.Token)
		fmt.Fprintf(tw, "deadline:\tknown to the leader only (its status endpoint)\n")
	}
	tw.Flush()
	if cerr != nil {
		fmt.Fprintf(w, "\ncandidates: unknown (%v)\n", cerr)
		return
	}
	fmt.Fprintf(w, "\nlive candidates (%d):\n", len(st.Candidates))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  \tIDENTITY\tPRIORITY\tVERSION\tSERVICE ID\n")
	for _, c := range st.Candidates {
		mark := ""
		if c.Leads {
			mark = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", mark, c.Identity, c.Priority, c.Version, c.ServiceID)
	}
	tw.Flush()
}
