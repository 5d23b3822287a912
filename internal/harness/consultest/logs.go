package consultest

import (
	"bytes"
	"io"
	"os"
	"strings"
)

// logTail returns the last n lines of the agent's log file.
func (a *Agent) logTail(n int) string {
	b, err := os.ReadFile(a.LogFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// bindConflict reports whether the log of the current (or last) run of the
// agent says that an address was already in use.
func (a *Agent) bindConflict() bool {
	a.mu.Lock()
	p := a.proc
	a.mu.Unlock()
	if p == nil {
		return false
	}
	f, err := os.Open(a.LogFile)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(p.logStart, io.SeekStart); err != nil {
		return false
	}
	b, err := io.ReadAll(f)
	return err == nil && strings.Contains(string(b), "address already in use")
}
