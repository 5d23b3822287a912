package consultest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestProxy(t *testing.T) {
	t.Parallel()
	a := DevServer(t, Options{Bind: "127.0.0.6"})
	p := NewProxy(t, a.HTTPAddr)
	kv := newClient(t, p.Config(a)).KV()
	get := func(kv *api.KV, d time.Duration) (*api.QueryMeta, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, meta, err := kv.Get("k", (&api.QueryOptions{}).WithContext(ctx))
		return meta, err
	}
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}

	// Frozen: an existing connection and a new one both hang.
	p.Freeze()
	start := time.Now()
	if _, err := get(kv, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("through frozen proxy: err %v, want deadline exceeded", err)
	}
	fresh := newClient(t, p.Config(a)).KV()
	if _, err := get(fresh, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("new connection through frozen proxy: err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("frozen requests took %v", d)
	}
	p.Unfreeze()
	if _, err := get(kv, 5*time.Second); err != nil {
		t.Fatalf("after unfreeze: %v", err)
	}
	if _, err := get(fresh, 5*time.Second); err != nil {
		t.Fatalf("after unfreeze, second client: %v", err)
	}

	// DropAll ends an in-flight blocking query on a fresh connection
	// promptly.
	meta, err := get(kv, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	blocking := func(kv *api.KV) <-chan error {
		errc := make(chan error, 1)
		go func() {
			_, _, err := kv.Get("k", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-errc:
			t.Fatalf("blocking query returned early: %v", err)
		default:
		}
		return errc
	}
	errc := blocking(newClient(t, p.Config(a)).KV())
	p.DropAll()
	dropped := time.Now()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("blocking query through a dropped connection succeeded")
		}
		t.Logf("blocking query failed %v after DropAll: %v", time.Since(dropped).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("blocking query still running 5s after DropAll")
	}

	// On a reused keep-alive connection, net/http retries the GET once on
	// a new connection: the second DropAll ends it.
	errc = blocking(kv)
	accepted := p.accepted.Load()
	p.DropAll()
	select {
	case err := <-errc:
		t.Logf("blocking query on a reused connection failed after one DropAll: %v", err)
	case <-time.After(time.Second):
		t.Logf("blocking query on a reused connection survived DropAll (retried on a new connection: %d new)", p.accepted.Load()-accepted)
		p.DropAll()
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("blocking query through a dropped connection succeeded")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("blocking query still running 5s after the second DropAll")
		}
	}
	if _, err := get(kv, 5*time.Second); err != nil {
		t.Fatalf("after DropAll: %v", err)
	}
}
