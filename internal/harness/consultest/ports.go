package consultest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ports are the listening ports of one agent.
type ports struct {
	HTTP, Server, SerfLAN, SerfWAN, DNS int
}

var (
	portsMu sync.Mutex
	// handedOut holds every host:port given to an agent by this process, so
	// two agents of one test binary never get the same port even before the
	// first one binds it.
	handedOut = map[string]bool{}
)

// Ports are drawn at random below the kernel's ephemeral range so that they
// do not clash with the source ports of outgoing connections (an agent that
// is restarted must find its ports free again).
const (
	portMin      = 10000
	portMaxLimit = 32768
)

// allocPorts picks the five ports of an agent on host. With probe, every
// port is free for TCP on host, the serf ports for UDP too, and the probes
// are held open until all five ports are chosen. Without it (host is in a
// network namespace of its own, which this process cannot bind in), the
// ports are only distinct from those handed out before.
func allocPorts(host string, probe bool) (ports, error) {
	portsMu.Lock()
	defer portsMu.Unlock()

	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	pick := func(udp bool) (int, error) {
		lo, hi := portRange()
		for try := 0; try < 500; try++ {
			p := lo + rand.IntN(hi-lo)
			addr := net.JoinHostPort(host, strconv.Itoa(p))
			if handedOut[addr] {
				continue
			}
			if !probe {
				handedOut[addr] = true
				return p, nil
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				continue
			}
			if udp {
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					ln.Close()
					continue
				}
				closers = append(closers, func() { pc.Close() })
			}
			closers = append(closers, func() { ln.Close() })
			handedOut[addr] = true
			return p, nil
		}
		return 0, fmt.Errorf("no free port on %s in [%d,%d)", host, lo, hi)
	}
	var ps ports
	var err error
	if ps.HTTP, err = pick(false); err != nil {
		return ps, err
	}
	if ps.Server, err = pick(false); err != nil {
		return ps, err
	}
	if ps.SerfLAN, err = pick(true); err != nil {
		return ps, err
	}
	if ps.SerfWAN, err = pick(true); err != nil {
		return ps, err
	}
	if ps.DNS, err = pick(true); err != nil {
		return ps, err
	}
	return ps, nil
}

// portRange returns [lo, hi): from portMin up to the start of the ephemeral
// port range (at most portMaxLimit).
func portRange() (lo, hi int) {
	lo, hi = portMin, portMaxLimit
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if eph, err := strconv.Atoi(f[0]); err == nil && eph < hi {
				hi = eph
			}
		}
	}
	if hi-lo < 1000 { // unusual ephemeral range: use the range above it
		lo, hi = 61000, 65535
	}
	return lo, hi
}
