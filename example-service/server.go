package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/leader"
)

// httpServer serves the service's endpoints:
//
//	GET /role     the elector's status as JSON (always 200)
//	GET /leader   200 on the leader, 429 on standbys
//	GET /healthz  liveness: fails only for a zombie leader
//	GET /ledger   the ledger's records as JSON
//	GET /metrics  Prometheus metrics (leader_election_master_status, consulelect_*, Go, process)
type httpServer struct {
	srv  *http.Server
	mu   sync.Mutex
	addr string
	done chan struct{}
}

// Addr is the address the server listens on (useful with port 0).
func (s *httpServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func newHTTPServer(lc fx.Lifecycle, o options, h leader.Handlers, l *ledger, m *metrics, log hclog.Logger) *httpServer {
	mux := http.NewServeMux()
	mux.Handle("GET /role", h.Status)
	mux.Handle("GET /leader", h.LeaderOnly)
	mux.Handle("GET /healthz", h.Liveness)
	mux.Handle("GET /metrics", m)
	mux.HandleFunc("GET /ledger", func(w http.ResponseWriter, r *http.Request) {
		recs, err := l.read(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(recs)
	})
	s := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, done: make(chan struct{})}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", o.listen)
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.addr = ln.Addr().String()
			s.mu.Unlock()
			log.Info("listening", "addr", s.Addr())
			go func() {
				defer close(s.done)
				if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server", "error", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			err := s.srv.Shutdown(ctx)
			<-s.done
			return err
		},
	})
	return s
}
