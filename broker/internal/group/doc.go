// Package group is the broker's classic group coordinator: consumer group
// membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed
// offsets, and the records that persist both in the compacted internal
// topic __consumer_offsets, in Apache Kafka's own formats
// (kmsg.OffsetCommitKey/Value, kmsg.GroupMetadataKey/Value), so that
// tools which read that topic decode them.
//
// # Design
//
// A [Coordinator] owns the groups of every __consumer_offsets partition it
// has loaded ([Coordinator.Load] replays a partition; [Coordinator.Unload]
// drops it, for when leadership moves). It is free of server types: the
// broker hands it a [Log] to append batches to and to scan partitions from
// the start. All state sits behind one mutex; a request that must wait for
// a rebalance (JoinGroup, SyncGroup) parks on a channel outside the lock and
// returns when its context ends.
//
// Time never moves by itself inside the package: every deadline (session
// timeouts, rebalance timeouts, the initial rebalance delay, offset
// retention) is checked by [Coordinator.Tick] against the injected clock
// ([Config.Now]). The broker calls Tick on a short interval; tests advance a
// fake clock and call Tick, so they are deterministic.
//
// The protocol semantics follow Kafka's GroupCoordinator / ClassicGroup:
// which error each request gets in each group state, the protocol vote,
// static membership (group.instance.id) with no rebalance for a restart
// within the session timeout, and Kafka 2.1+ offset expiry for empty groups.
package group
