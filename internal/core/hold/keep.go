package hold

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// A Keeper confirms a hold until its context ends: consistent reads paced
// by a Confirmer (each answer that shows the lock held moves the deadline
// to the read's send time plus DemoteAfter), beside a blocking query that
// wakes the moment the lock's keys change, so that a loss is acted on
// within one round trip. S is what one read returns (a key, or the keys
// under a prefix).
type Keeper[S any] struct {
	Interval    time.Duration // between confirming reads (ConfirmInterval)
	DemoteAfter time.Duration // a read older than this confirms nothing
	Wait        time.Duration // of the blocking query
	Index       uint64        // where the blocking query starts (the acquire's index)
	Start       time.Time     // send time of the acquire, which confirmed the hold
	Clock       Clock
	NewBackoff  func() backoff.BackOff
	// Read reads the lock's keys, blocking while their index is still
	// index (up to wait; 0 returns at once); consistent reads are
	// answered by the Consul leader after it confirmed its leadership.
	Read func(ctx context.Context, index uint64, wait time.Duration, consistent bool) (S, uint64, error)
	// Judge applies one answer: it ends the hold if the lock is lost and,
	// when confirm (a consistent read sent at sent), confirms it if held.
	Judge func(snap S, sent time.Time, confirm bool)
	// Failed and Recovered are the Confirmer's.
	Failed    func(err error, first bool)
	Recovered func()
}

// Run confirms and watches until ctx (the hold's context) ends.
func (k *Keeper[S]) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.watch(ctx)
	}()
	c := &Confirmer{Interval: k.Interval, Gap: k.Interval / 10, Clock: k.Clock, Start: k.Start,
		Timeout: func() time.Duration { return k.DemoteAfter },
		Read: func(rctx context.Context, sent time.Time) error {
			snap, _, err := k.Read(rctx, 0, 0, true)
			if err == nil {
				k.Judge(snap, sent, true)
			}
			return err
		},
		Failed: k.Failed, Recovered: k.Recovered}
	c.Run(ctx)
	<-done
}

// watch follows the keys with blocking queries (default consistency: they
// only ever end a hold, never confirm one). After an error it starts again
// from a fresh read.
func (k *Keeper[S]) watch(ctx context.Context) {
	b := k.NewBackoff()
	index := k.Index
	for ctx.Err() == nil {
		snap, next, err := k.Read(ctx, index, k.Wait, false)
		if err != nil {
			d := b.NextBackOff()
			if d < 0 || d > k.Interval {
				d = k.Interval
			}
			if !Sleep(ctx, k.Clock, d) {
				return
			}
			index = 0
			continue
		}
		b.Reset()
		index = next
		k.Judge(snap, time.Time{}, false)
	}
}
