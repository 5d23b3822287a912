package lifecycle

// allDone returns a channel that is closed once every channel in chans is
// closed (at once if there are none). It waits for them in a goroutine of
// its own, which closes the channel as its last act: that goroutine ends
// when the last of chans closes, and not before, so it lives exactly as
// long as what it waits for, and has ended by the time a receiver can see
// the channel closed (but for that final return).
func allDone(chans []<-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range chans {
			<-c
		}
	}()
	return done
}

// closedChan returns a channel that is already closed.
func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
