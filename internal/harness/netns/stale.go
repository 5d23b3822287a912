package netns

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// ownName matches the namespaces and root links of this package and
// captures the creating process's pid.
var ownName = regexp.MustCompile(`^` + prefix + `(\d+)(n\d+)?(-|$)`)

// cleanStale removes the namespaces and root links made by processes that
// are no longer running (a harness killed before its cleanup ran).
func cleanStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && staleName(f[0]) {
				_ = ip("netns", "del", f[0])
			}
		}
	}
	out, err = exec.Command("ip", "-o", "link", "show").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			// "7: ce123@if2: <...>"
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if staleName(name) {
				_ = ip("link", "del", name)
			}
		}
	}
}

// staleName reports whether name is one of ours whose process is gone.
func staleName(name string) bool {
	m := ownName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid == os.Getpid() {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// freeSubnet returns S such that no address of the root namespace is in
// 10.77.S.0/24.
func freeSubnet() (int, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("ip -4 -o addr show: %w", err)
	}
	for s := 1; s < 255; s++ {
		if !strings.Contains(string(out), fmt.Sprintf(" 10.77.%d.", s)) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no free subnet in 10.77.0.0/16")
}
