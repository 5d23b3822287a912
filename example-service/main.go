// Command example-service is a small real service wired with consulelect's
// fx module: an HTTP server with the role, leader-only and liveness
// endpoints and Prometheus metrics (consulelect's adapter,
// metrics/prometheus), and a leader-only worker that appends a record to
// a Consul KV ledger every second, fenced by the term (a stale leader's
// write is rejected by Consul, not applied). SIGTERM hands leadership over
// gracefully. It is a module of its own (it depends on client_golang,
// which the core module does not):
//
//	go build -C example-service -o ../bin/example-service . # from the repository root
//
//	example-service -consul-addr 127.0.0.1:8500 -key example-service/leader -id replica-1 -listen 127.0.0.1:8080
//
// Every flag has an environment variable: CONSUL_HTTP_ADDR (and the other
// CONSUL_HTTP_* variables for token and TLS), CONSULELECT_KEY,
// CONSULELECT_ID, LISTEN_ADDR, LEDGER_KEY, LEDGER_INTERVAL, ADVERTISE_SERVICE (the
// service tagged leader or standby: leader.example-service.service.consul
// answers with the leader's address).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/leader"
)

// options are the service's settings.
type options struct {
	consulAddr string
	key        string
	identity   string
	listen     string
	ledgerKey  string
	interval   time.Duration
	logLevel   string
	advertise  string // the service name tagged leader/standby in the catalog ("" for none)
}

func parseOptions(args []string, getenv func(string) string) (options, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	var o options
	fs := flag.NewFlagSet("example-service", flag.ContinueOnError)
	fs.StringVar(&o.consulAddr, "consul-addr", getenv("CONSUL_HTTP_ADDR"), "Consul HTTP address (env CONSUL_HTTP_ADDR)")
	fs.StringVar(&o.key, "key", env("CONSULELECT_KEY", "example-service/leader"), "election key (env CONSULELECT_KEY)")
	fs.StringVar(&o.identity, "id", env("CONSULELECT_ID", fmt.Sprintf("%s-%d", host, os.Getpid())), "identity (env CONSULELECT_ID)")
	fs.StringVar(&o.listen, "listen", env("LISTEN_ADDR", "127.0.0.1:8080"), "HTTP listen address (env LISTEN_ADDR)")
	fs.StringVar(&o.ledgerKey, "ledger-key", env("LEDGER_KEY", "example-service/ledger"), "ledger key (env LEDGER_KEY)")
	interval, err := time.ParseDuration(env("LEDGER_INTERVAL", "1s"))
	if err != nil {
		return o, fmt.Errorf("LEDGER_INTERVAL: %w", err)
	}
	fs.DurationVar(&o.interval, "interval", interval, "ledger append interval (env LEDGER_INTERVAL)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "log level (env LOG_LEVEL)")
	fs.StringVar(&o.advertise, "advertise", env("ADVERTISE_SERVICE", "example-service"),
		"service registered with the tag leader or standby, for leader.<name>.service.consul; empty for none (env ADVERTISE_SERVICE)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.interval <= 0 {
		return o, fmt.Errorf("-interval must be positive, got %v", o.interval)
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	newApp(o).Run() // until SIGTERM/SIGINT; then a graceful handoff
}

// newApp builds the service.
func newApp(o options, extra ...fx.Option) *fx.App { return fx.New(appOptions(o, extra...)...) }

// appOptions are the service's fx options (tests add their own).
func appOptions(o options, extra ...fx.Option) []fx.Option {
	return append([]fx.Option{
		fx.Supply(o),
		fx.Provide(newLogger, newConsulClient, newModuleConfig, newLedger, newMetrics, asLeaderMetrics),
		fx.WithLogger(eventLogger),
		fxmodule.Module,
		fx.Provide(fxmodule.AsWorker(func(l *ledger) *ledger { return l })),
		fx.Invoke(watchElector),
		fx.Provide(newHTTPServer),
		fx.Invoke(func(*httpServer) {}),
	}, extra...)
}

func newLogger(o options) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name: "example-service", Level: hclog.LevelFromString(o.logLevel), Output: os.Stderr,
	}).With("identity", o.identity)
}

// newConsulClient reads the CONSUL_HTTP_* environment (token, TLS), with
// the address from -consul-addr.
func newConsulClient(o options) (*api.Client, error) {
	cfg := api.DefaultConfig()
	if o.consulAddr != "" {
		cfg.Address = o.consulAddr
	}
	return api.NewClient(cfg)
}

func newModuleConfig(o options) (fxmodule.Config, error) {
	cfg := fxmodule.Config{Leader: leader.Config{Key: o.key, Identity: o.identity, Address: o.listen}}
	if o.advertise != "" { // other services find the leader at leader.<name>.service.consul
		host, port, err := net.SplitHostPort(o.listen)
		if err != nil {
			return cfg, fmt.Errorf("-listen %q: %w", o.listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return cfg, fmt.Errorf("-listen %q: %w", o.listen, err)
		}
		cfg.Leader.Advertise = &leader.Advertise{Service: o.advertise, Address: host, Port: p}
	}
	return cfg, nil
}

func newLedger(o options, client *api.Client) *ledger {
	return &ledger{client: client, key: o.ledgerKey, lockKey: o.key, identity: o.identity,
		interval: o.interval, keep: 200}
}
