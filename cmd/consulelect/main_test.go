package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/testkit"
	"github.com/consulelect/consulelect/leader"
)

var bin string // the consulelect binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "consulelect-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "consulelect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := 0
	func() {
		defer os.RemoveAll(dir)
		if err := goleak.Find(consultest.LeakOptions()...); err != nil {
			panic(err)
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// cli runs the binary against agent and returns stdout, stderr and the
// exit code.
func cli(t *testing.T, agent *consultest.Agent, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+agent.HTTPAddr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitCode()
	}
	t.Fatalf("running %v: %v", args, err)
	return "", "", -1
}

func startElector(t *testing.T, client *api.Client, cfg leader.Config) *leader.Elector {
	t.Helper()
	e, err := leader.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
	})
	return e
}

// status, handoff and resign against real electors, with the exit codes
// scripts rely on.
func TestStatusAndHandOff(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "cli/status"
	if _, _, code := cli(t, srv, "status", key); code != exitNotNow {
		t.Errorf("status with nobody leading: exit %d, want %d", code, exitNotNow)
	}
	if _, _, code := cli(t, srv, "status"); code != exitUsage {
		t.Errorf("status without KEY: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := cli(t, srv, "frobnicate"); code != exitUsage {
		t.Errorf("an unknown command: exit %d, want %d", code, exitUsage)
	}
	if _, errOut, code := cli(t, srv, "run", "-h"); code != exitOK || !strings.Contains(errOut, "-grace") {
		t.Errorf("run -h: exit %d, %s", code, errOut)
	}
	a := startElector(t, client, leader.Config{Key: key, Identity: "alpha", Priority: 2, Version: "1.2.0"})
	consultest.WaitFor(t, 10*time.Second, "alpha to lead", a.IsLeader)
	b := startElector(t, client, leader.Config{Key: key, Identity: "beta", Priority: 1})
	deadline := time.Now().Add(10 * time.Second)
	for !(a.IsLeader() && len(a.Status().Candidates) == 2 && len(b.Status().Candidates) == 2) {
		if time.Now().After(deadline) {
			t.Fatalf("alpha does not lead with both in its line: %+v\nbeta: %+v", a.Status(), b.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, _, code := cli(t, srv, "status", key)
	for _, want := range []string{"leader:", "alpha", "why:", "fencing token:", "live candidates (2)", "beta", "1.2.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Errorf("status: exit %d", code)
	}
	out, _, _ = cli(t, srv, "status", "-json", key)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Leader == nil || st.Leader.ID != "alpha" || len(st.Candidates) != 2 || st.Token == 0 {
		t.Errorf("status -json: %v\n%s", err, out)
	}

	if _, errOut, code := cli(t, srv, "handoff", key, "-to", "nobody"); code != exitNotNow || !strings.Contains(errOut, "nobody") {
		t.Errorf("handoff to an unknown candidate: exit %d, %s", code, errOut)
	}
	out, errOut, code := cli(t, srv, "handoff", key, "-to", "beta")
	if code != exitOK || !strings.Contains(out, "beta leads") {
		t.Errorf("handoff -to beta: exit %d, %s%s", code, out, errOut)
	}
	// The CLI reports the key's holder; beta's elector learns of its
	// acquire from the transaction's answer, a round trip later.
	consultest.WaitFor(t, 5*time.Second, "beta to lead after the handoff", b.IsLeader)
	out, _, code = cli(t, srv, "resign", key)
	if code != exitOK || !strings.Contains(out, "alpha leads") {
		t.Errorf("resign: exit %d, %s", code, out)
	}
}

// watch prints one line per change of leader.
func TestWatch(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "cli/watch"
	a := startElector(t, client, leader.Config{Key: key, Identity: "alpha"})
	consultest.WaitFor(t, 10*time.Second, "alpha to lead", a.IsLeader)
	cmd := exec.Command(bin, "watch", key)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+srv.HTTPAddr)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	startElector(t, client, leader.Config{Key: key, Identity: "beta"})
	time.Sleep(300 * time.Millisecond)
	if err := a.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "alpha leads") || !strings.Contains(lines[len(lines)-1], "beta leads") {
		t.Errorf("watch printed:\n%s", out.String())
	}
}

// runProc is a `consulelect run` in the background.
type runProc struct {
	cmd  *exec.Cmd
	out  testkit.SyncBuffer
	done chan struct{}
	code int
}

func startRun(t *testing.T, agent *consultest.Agent, args ...string) *runProc {
	t.Helper()
	p := &runProc{cmd: exec.Command(bin, append([]string{"run"}, args...)...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+agent.HTTPAddr)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		err := p.cmd.Wait()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			p.code = exit.ExitCode()
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *runProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		t.Fatalf("run did not exit within %v:\n%s", d, p.out.String())
		return -1
	}
}

// Two runs on one key: one command at a time, each with a higher token
// in its environment, and each run exits with its command's status.
func TestRunMutualExclusion(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	log := filepath.Join(t.TempDir(), "log")
	script := `echo "start $CONSULELECT_TOKEN" >> ` + log + `; sleep 0.5; echo "end $CONSULELECT_TOKEN" >> ` + log + `; exit 7`
	p1 := startRun(t, srv, "-id", "one", "cli/run", "--", "sh", "-c", script)
	p2 := startRun(t, srv, "-id", "two", "cli/run", "--", "sh", "-c", script)
	for _, p := range []*runProc{p1, p2} {
		if code := p.wait(t, 30*time.Second); code != 7 {
			t.Errorf("run exited %d, want the command's 7:\n%s", code, p.out.String())
		}
	}
	b, _ := os.ReadFile(log)
	lines := strings.Fields(strings.ReplaceAll(string(b), "\n", " "))
	// start T1 end T1 start T2 end T2
	if len(lines) != 8 || lines[0] != "start" || lines[2] != "end" || lines[4] != "start" || lines[6] != "end" ||
		lines[1] != lines[3] || lines[5] != lines[7] {
		t.Fatalf("the commands overlapped or did not run:\n%s", b)
	}
	t1, _ := strconv.Atoi(lines[1])
	t2, _ := strconv.Atoi(lines[5])
	if t1 <= 0 || t2 <= t1 {
		t.Errorf("tokens %d then %d: want positive and increasing", t1, t2)
	}
}

// A run whose agent hangs stops its command at the demote deadline (+
// 250ms), before the other run's command starts: unlike `consul lock`,
// whose command goes on while a successor acts.
func TestRunStopsCommandWhenAgentHangs(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	dir := t.TempDir()
	alive, started := filepath.Join(dir, "alive"), filepath.Join(dir, "started")
	// The first command records, every 20ms, that it still runs.
	loop := `while true; do date +%s%N > ` + alive + `.tmp; mv ` + alive + `.tmp ` + alive + `; sleep 0.02; done`
	p1 := startRun(t, agent, "-id", "on-agent", "cli/hung", "--", "sh", "-c", loop)
	consultest.WaitFor(t, 15*time.Second, "the first command to run", func() bool { _, err := os.Stat(alive); return err == nil })
	p2 := startRun(t, srv, "-id", "on-server", "cli/hung", "--", "sh", "-c", `date +%s%N > `+started+`; sleep 30`)
	time.Sleep(500 * time.Millisecond) // p2 follows
	agent.Pause(t)
	if code := p1.wait(t, 20*time.Second); code != exitLost {
		t.Errorf("the cut-off run exited %d, want %d:\n%s", code, exitLost, p1.out.String())
	}
	consultest.WaitFor(t, 20*time.Second, "the second command to start", func() bool { _, err := os.Stat(started); return err == nil })
	agent.Resume(t)
	last, first := readNanos(t, alive), readNanos(t, started)
	t.Logf("the cut-off command's last sign of life came %v before the successor's command started", first.Sub(last))
	if !last.Before(first) {
		t.Errorf("the cut-off command ran %v after the successor's started", last.Sub(first))
	}
	_ = p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.wait(t, 20*time.Second)
}

func readNanos(t *testing.T, path string) time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, n)
}

// Signals: SIGUSR1 is forwarded to the command; SIGTERM stops it (it gets
// SIGTERM) and run exits with its status; SIGKILL of run kills the command
// too (parent-death signal), so no orphan goes on acting as leader.
func TestRunSignals(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := `trap 'echo usr1 >> ` + log + `' USR1; trap 'echo term >> ` + log + `; exit 3' TERM; echo ready >> ` + log + `; while true; do sleep 0.05; done`
	p := startRun(t, srv, "cli/signals", "--", "sh", "-c", script)
	consultest.WaitFor(t, 15*time.Second, "the command to run", func() bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), "ready") })
	_ = p.cmd.Process.Signal(syscall.SIGUSR1)
	consultest.WaitFor(t, 5*time.Second, "USR1 forwarded", func() bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), "usr1") })
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 3 {
		t.Errorf("run exited %d after SIGTERM, want the command's 3:\n%s", code, p.out.String())
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "term") {
		t.Errorf("the command did not get SIGTERM: %s", b)
	}

	pidFile := filepath.Join(dir, "pid")
	p = startRun(t, srv, "cli/signals", "--", "sh", "-c", `echo $$ > `+pidFile+`; exec sleep 60`)
	consultest.WaitFor(t, 15*time.Second, "the command to run", func() bool { _, err := os.Stat(pidFile); return err == nil })
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	_ = p.cmd.Process.Kill()
	p.wait(t, 5*time.Second)
	consultest.WaitFor(t, 5*time.Second, "the command to die with run", func() bool { return dead(pid) })
}

// dead reports whether process pid has exited: gone, or a zombie that its
// new parent has not reaped yet (in a container whose init does not reap,
// that can take a while, or forever).
func dead(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z' || b[i+2] == 'X'
	}
	return false
}

// -lock runs the command once under the lock, with the lock's token; a
// missing command gives 127.
func TestRunLock(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	out, _, code := cli(t, srv, "run", "-lock", "-quiet", "cli/lock", "--", "sh", "-c", `echo "$CONSULELECT_MODE $CONSULELECT_TOKEN"`)
	f := strings.Fields(out)
	if code != 0 || len(f) != 2 || f[0] != "lock" || f[1] == "0" {
		t.Errorf("run -lock: exit %d, %q", code, out)
	}
	if _, _, code := cli(t, srv, "run", "-lock", "cli/lock", "--", "/no/such/command"); code != exitNotFound {
		t.Errorf("a missing command: exit %d, want %d", code, exitNotFound)
	}
}

// After a handoff the old leader's run stops its command and campaigns
// again, so the pool of candidates does not shrink with every handoff; it
// runs the command again when leadership comes back.
func TestRunCampaignsAgainAfterHandOff(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	const key = "cli/run-handoff"
	p1 := startRun(t, srv, "-id", "one", key, "--", "sleep", "60")
	consultest.WaitFor(t, 10*time.Second, "one to lead", func() bool { return strings.Contains(p1.out.String(), "leading") })
	p2 := startRun(t, srv, "-id", "two", key, "--", "sleep", "60")
	consultest.WaitFor(t, 10*time.Second, "two in the line", func() bool {
		out, _, _ := cli(t, srv, "status", key)
		return strings.Contains(out, "live candidates (2)")
	})
	if out, errOut, code := cli(t, srv, "handoff", key, "-to", "two"); code != exitOK {
		t.Fatalf("handoff -to two: exit %d, %s%s", code, out, errOut)
	}
	consultest.WaitFor(t, 10*time.Second, "two to lead", func() bool { return strings.Contains(p2.out.String(), "leading") })
	consultest.WaitFor(t, 5*time.Second, "one to campaign again", func() bool {
		return strings.Contains(p1.out.String(), "campaigning again")
	})
	select {
	case <-p1.done:
		t.Fatalf("one's run exited %d after the handoff:\n%s", p1.code, p1.out.String())
	default:
	}
	if out, errOut, code := cli(t, srv, "handoff", key, "-to", "one"); code != exitOK {
		t.Fatalf("handoff -to one: exit %d, %s%s", code, out, errOut)
	}
	consultest.WaitFor(t, 10*time.Second, "one to lead again", func() bool {
		return strings.Count(p1.out.String(), "leading") == 2
	})
	for _, p := range []*runProc{p1, p2} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(t, 20*time.Second)
	}
}

// Mistakes a user makes are refused with a hint: a command given without
// "--", and a negative priority (it would never lead, so run would wait
// forever in silence). version prints the binary's version.
func TestRunRefusesWhatCannotWork(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	if _, errOut, code := cli(t, srv, "run", "k", "echo", "hi"); code != exitUsage || !strings.Contains(errOut, "put the command after --") {
		t.Errorf("run k echo hi: exit %d, %s", code, errOut)
	}
	if _, errOut, code := cli(t, srv, "run", "-priority", "-1", "k", "--", "true"); code != exitUsage || !strings.Contains(errOut, "never leads") {
		t.Errorf("run -priority -1: exit %d, %s", code, errOut)
	}
	if out, _, code := cli(t, srv, "version"); code != exitOK || !strings.HasPrefix(out, "consulelect ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// run -lock -n N holds one of N slots of the semaphore on a prefix, as
// consul lock -n does: three runs with -n 2 overlap two at a time, never
// three.
func TestRunSemaphore(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	log := filepath.Join(t.TempDir(), "log")
	script := `echo start >> ` + log + `; sleep 1; echo end >> ` + log
	var ps []*runProc
	for _, id := range []string{"a", "b", "c"} {
		ps = append(ps, startRun(t, srv, "-id", id, "-lock", "-n", "2", "cli/sem", "--", "sh", "-c", script))
	}
	for _, p := range ps {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Errorf("run exited %d:\n%s", code, p.out.String())
		}
	}
	b, _ := os.ReadFile(log)
	in, most := 0, 0
	for _, l := range strings.Fields(string(b)) {
		if l == "start" {
			in++
		} else {
			in--
		}
		most = max(most, in)
	}
	if most != 2 || strings.Count(string(b), "end") != 3 {
		t.Errorf("at most %d commands at once (want 2, the limit), log:\n%s", most, b)
	}
	if _, errOut, code := cli(t, srv, "run", "-n", "2", "cli/sem", "--", "true"); code != exitUsage || !strings.Contains(errOut, "-lock") {
		t.Errorf("-n without -lock: exit %d, %s", code, errOut)
	}
}
