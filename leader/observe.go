package leader

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// Observe returns a channel that receives the key's holder as this
// elector sees it: at once, then at every change (nil when nobody holds
// it). Intermediate values may be skipped if the reader is slow; the
// latest is always delivered. The channel is fed by a goroutine of its own
// and closed once ctx ends, so drain it until closed.
func (e *Elector) Observe(ctx context.Context) <-chan *Holder {
	ch := make(chan *Holder)
	go func() {
		defer close(ch)
		first, last := true, ""
		for {
			h, changed := e.state.holder()
			if id := holderKey(h); first || id != last {
				select {
				case ch <- h:
					first, last = false, id
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func holderKey(h *Holder) string {
	if h == nil {
		return ""
	}
	return h.Session + "/" + h.ID
}

// Lookup reads who holds key, for processes that do not campaign
// themselves. It returns nil when nobody holds the key.
func Lookup(ctx context.Context, client *api.Client, key string) (*Holder, error) {
	pair, _, err := client.KV().Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("lookup %q: %w", key, err)
	}
	h, ok := holderOf(pair)
	if !ok {
		return nil, nil
	}
	return &h, nil
}
