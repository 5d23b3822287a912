// Package consulelectotel reports what consulelect's electors (package
// leader) and lock sessions (package lock) measure to OpenTelemetry,
// through the metrics API go.opentelemetry.io/otel/metric only: the
// application chooses the SDK and the exporter. It is a module of its
// own, so that the core module does not depend on OpenTelemetry.
//
// The package is named consulelectotel, not otel, because code that uses
// it often imports go.opentelemetry.io/otel too (otel.GetMeterProvider).
//
// Wire it up with one Metrics per process (per MeterProvider):
//
//	m, err := consulelectotel.New(provider)
//	e, err := leader.New(client, cfg, leader.WithMetrics(m.Leader()))
//	m.Watch(e) // status 0 while standby, and the time left to the deadline
//	s, err := lock.NewSession(client, lockCfg, lock.WithMetrics(m.Lock()))
//
// # Instruments
//
// The meter's instrumentation scope is ScopeName. Electors, with the
// attribute key (the election key):
//
//	consulelect.leader.status             Int64ObservableGauge, "1": 1 while this process leads the key, else 0
//	consulelect.leader.terms.started      Int64Counter, "{term}": terms begun
//	consulelect.leader.terms.ended        Int64Counter, "{term}": terms ended, attribute reason
//	consulelect.leader.confirm.duration   Float64Histogram, "s": round trip of each confirmation
//	consulelect.leader.time_to_deadline   Float64ObservableGauge, "s": time left to the term's deadline (0 when not leading; Watch)
//	consulelect.leader.consul.errors      Int64Counter, "{error}": failed Consul requests, attribute class permanent or transient
//	consulelect.leader.handoffs           Int64Counter, "{handoff}": handoffs, attribute cause priority, version, operator or balance
//	consulelect.leader.stragglers         Int64ObservableGauge, "{worker}": leader work still running after its term
//
// Lock sessions, with the attribute key (a semaphore's prefix):
//
//	consulelect.lock.held                 Int64UpDownCounter, "{lock}": locks and semaphore slots held now
//	consulelect.lock.wait.duration        Float64Histogram, "s": how long each Lock or Acquire took
//	consulelect.lock.releases             Int64Counter, "{release}": holds ended, attribute reason
//	consulelect.lock.consul.errors        Int64Counter, "{error}": failed Consul requests, attribute class (no key)
//
// They carry what the Prometheus adapter
// (github.com/consulelect/consulelect/metrics/prometheus) reports, with
// the same attributes as its labels, under OpenTelemetry's names (dots,
// units in the unit, no _total): consulelect.leader.status is its
// leader_election_master_status{name}, consulelect.leader.confirm.duration
// its consulelect_leader_confirm_rtt_seconds, consulelect.lock.wait.duration
// its consulelect_lock_wait_seconds, and every other consulelect.a.b.c its
// consulelect_a_b_c (plus _total for counters, _seconds for "s"). An
// exporter from OpenTelemetry to Prometheus derives names of its own;
// alerts written for client-go's leader_election_master_status need the
// Prometheus adapter.
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
// Attributes carry only the keys given to the library and small fixed
// sets of words: never session IDs, fencing tokens, identities or error
// texts. Lock keys can be per entity (Session.Do with
// "billing/charge-42"): map them to a bounded value with WithLockKeyLabel.
package consulelectotel
