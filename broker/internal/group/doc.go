// Package group is the broker's group coordinator for both group
// protocols. The classic protocol: consumer group
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
//
// # The consumer protocol (KIP-848)
//
// [Coordinator.ConsumerHeartbeat] and [Coordinator.ConsumerDescribe] follow
// Kafka 4's GroupMetadataManager: the group epoch moves on every
// membership, subscription or topic change (the coordinator polls
// [Config.Topics]); the target assignment is computed at that epoch by a
// server-side assignor ("uniform", sticky and balanced, or "range"); and
// each member converges to its target through Kafka's
// CurrentAssignmentBuilder, so a partition reaches its new owner only after
// the old owner revoked it. Such a group shares the group id namespace and
// the offsets of the classic groups (a [group] with a non-nil consumer
// part) and is stored with Kafka's record types 3, 5, 6, 7 and 8.
// Subscription regexes are Go RE2 matched against the whole topic name,
// like RE2/J's matches(); Java-only syntax (lookaround, possessive
// quantifiers, backreferences) is rejected as INVALID_REGULAR_EXPRESSION.
// There is no online migration between the protocols: a classic JoinGroup
// to a consumer group with members gets INCONSISTENT_GROUP_PROTOCOL, a
// consumer heartbeat to a classic group with members GROUP_ID_NOT_FOUND
// (Kafka with group.consumer.migration.policy=disabled); empty groups
// switch protocol keeping their offsets.
package group
