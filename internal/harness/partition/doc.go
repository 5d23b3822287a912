// Package partition holds the tests of the elector and the locks under
// real network partitions: every Consul server and every candidate host
// (client agent) in a network namespace of its own (internal/harness/netns), with
// packets dropped between them one way or both. It has no code of its own;
// the tests need root and are skipped, saying why, where network
// namespaces cannot be made.
package partition
