// Package consulelectprom reports what consulelect's electors (package
// leader) and lock sessions (package lock) measure to Prometheus, through
// github.com/prometheus/client_golang. It is a module of its own, so that
// the core module does not depend on client_golang.
//
// The package is named consulelectprom, not prometheus, because code that
// uses it nearly always imports client_golang's prometheus package too
// (for the Registerer it passes to New).
//
// Wire it up with one Metrics per process (per Registerer):
//
//	m, err := consulelectprom.New(reg)
//	e, err := leader.New(client, cfg, leader.WithMetrics(m.Leader()))
//	m.Watch(e) // status 0 while standby, and the time left to the deadline
//	s, err := lock.NewSession(client, lockCfg, lock.WithMetrics(m.Lock()))
//
// # Metrics
//
// Electors, by election key (label key; the status gauge uses client-go's
// name and label, so that dashboards and alerts written for Kubernetes
// leader election work unchanged):
//
//	leader_election_master_status{name}                  gauge: 1 while this process leads the key, else 0
//	consulelect_leader_terms_started_total{key}           counter: terms begun
//	consulelect_leader_terms_ended_total{key,reason}      counter: terms ended, by reason
//	consulelect_leader_confirm_rtt_seconds{key}           histogram: round trip of each confirmation
//	consulelect_leader_time_to_deadline_seconds{key}      gauge: time left to the term's deadline (0 when not leading; Watch)
//	consulelect_leader_consul_errors_total{key,class}     counter: failed Consul requests, class permanent or transient
//	consulelect_leader_handoffs_total{key,cause}          counter: handoffs, cause priority, version, operator or balance
//	consulelect_leader_stragglers{key}                    gauge: leader work still running after its term
//
// Lock sessions, by lock key (a semaphore's prefix):
//
//	consulelect_lock_held{key}                            gauge: locks and semaphore slots held now
//	consulelect_lock_wait_seconds{key}                    histogram: how long each Lock or Acquire took
//	consulelect_lock_releases_total{key,reason}           counter: holds ended, by reason
//	consulelect_lock_consul_errors_total{class}           counter: failed Consul requests, class permanent or transient
//
// An elector's reason is one of stopped, resigned, leader_work_failed,
// handed_off, session_invalidated, key_released, key_deleted, key_taken,
// lock_lost, consul_unreachable or other (the leader package's Err*
// reasons, told apart with errors.Is); a lock's reason one of unlocked,
// closed, session_invalidated, key_released, key_deleted, key_taken,
// lock_lost, consul_unreachable or other.
//
// # Cardinality
//
// Labels carry only the keys given to the library and small fixed sets of
// words: never session IDs, fencing tokens, identities or error texts. An
// election key is the application's own, and a Group's keys are as many
// as the Group has. Lock keys can be per entity (Session.Do with
// "billing/charge-42"): map them to a bounded label with WithLockKeyLabel.
package consulelectprom
