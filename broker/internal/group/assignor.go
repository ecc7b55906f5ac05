package group

import (
	"cmp"
	"slices"
)

// Server-side assignors of the consumer protocol (KIP-848), by the names
// clients ask for in ConsumerGroupHeartbeat.ServerAssignor and Kafka's
// group.consumer.assignors lists.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// topicID is a topic's UUID, as the consumer protocol names topics.
type topicID = [16]byte

// TopicInfo is what the coordinator needs to know of a topic to assign its
// partitions.
type TopicInfo struct {
	ID         [16]byte
	Partitions int32
}

// assignment is a member's partitions per topic id, each list sorted.
type assignment map[topicID][]int32

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for t, ps := range a {
		out[t] = slices.Clone(ps)
	}
	return out
}

func (a assignment) has(t topicID, p int32) bool {
	_, ok := slices.BinarySearch(a[t], p)
	return ok
}

func (a assignment) add(t topicID, p int32) {
	ps := a[t]
	if i, ok := slices.BinarySearch(ps, p); !ok {
		a[t] = slices.Insert(ps, i, p)
	}
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) equal(b assignment) bool {
	if a.count() != b.count() {
		return false
	}
	for t, ps := range a {
		if !slices.Equal(ps, b[t]) {
			return false
		}
	}
	return true
}

// assignMember is one member as an assignor sees it: its id and the
// existing topics it subscribes to (sorted).
type assignMember struct {
	id     string
	topics []string
}

// partKey is one partition by topic name, the unit the assignors move.
type partKey struct {
	topic string
	p     int32
}

// assign runs the named assignor. prev is the previous target assignment,
// which the uniform assignor keeps where it stays balanced.
func assign(name string, members []assignMember, topics map[string]TopicInfo, prev map[string]assignment) map[string]assignment {
	slices.SortFunc(members, func(a, b assignMember) int { return cmp.Compare(a.id, b.id) })
	var owner map[partKey]string
	if name == AssignorRange {
		owner = assignRange(members, topics)
	} else {
		owner = assignUniform(members, topics, prev)
	}
	out := make(map[string]assignment, len(members))
	for _, m := range members {
		out[m.id] = assignment{}
	}
	for k, id := range owner {
		out[id].add(topics[k.topic].ID, k.p)
	}
	return out
}

// assignRange is Kafka's range assignor per topic: the members subscribed
// to a topic, sorted by member id, each take a contiguous range, the first
// ones one partition more when the count does not divide evenly.
func assignRange(members []assignMember, topics map[string]TopicInfo) map[partKey]string {
	byTopic := map[string][]string{}
	for _, m := range members {
		for _, t := range m.topics {
			byTopic[t] = append(byTopic[t], m.id)
		}
	}
	owner := map[partKey]string{}
	for t, ids := range byTopic {
		n := topics[t].Partitions
		per, extra := n/int32(len(ids)), n%int32(len(ids))
		p := int32(0)
		for i, id := range ids {
			k := per
			if int32(i) < extra {
				k++
			}
			for range k {
				owner[partKey{t, p}] = id
				p++
			}
		}
	}
	return owner
}

// assignUniform is a sticky, balanced assignment in the spirit of Kafka's
// UniformAssignor: every member keeps the partitions it had in the
// previous target when it still subscribes to them, new partitions go to
// the eligible member with the fewest, and partitions then move from the
// most to the least loaded eligible member until no member has two more
// than another member that could take one of its partitions. Each move
// lowers the sum of squared counts, so the loop ends.
func assignUniform(members []assignMember, topics map[string]TopicInfo, prev map[string]assignment) map[partKey]string {
	byID := map[topicID]string{}
	for name, ti := range topics {
		byID[ti.ID] = name
	}
	eligible := map[string][]string{} // topic → member ids (sorted)
	subscribed := map[string]map[string]bool{}
	for _, m := range members {
		subscribed[m.id] = map[string]bool{}
		for _, t := range m.topics {
			eligible[t] = append(eligible[t], m.id)
			subscribed[m.id][t] = true
		}
	}
	var all []partKey
	for t := range eligible {
		for p := range topics[t].Partitions {
			all = append(all, partKey{t, p})
		}
	}
	slices.SortFunc(all, func(a, b partKey) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.p, b.p))
	})
	owner := map[partKey]string{}
	count := map[string]int{}
	for _, m := range members {
		tids := make([]topicID, 0, len(prev[m.id]))
		for tid := range prev[m.id] {
			tids = append(tids, tid)
		}
		slices.SortFunc(tids, func(a, b topicID) int { return slices.Compare(a[:], b[:]) })
		for _, tid := range tids {
			name, ok := byID[tid]
			if !ok || !subscribed[m.id][name] {
				continue
			}
			for _, p := range prev[m.id][tid] {
				k := partKey{name, p}
				if _, taken := owner[k]; taken || p >= topics[name].Partitions {
					continue
				}
				owner[k] = m.id
				count[m.id]++
			}
		}
	}
	least := func(ids []string) string {
		best := ids[0]
		for _, id := range ids[1:] {
			if count[id] < count[best] {
				best = id
			}
		}
		return best
	}
	for _, k := range all {
		if _, ok := owner[k]; !ok {
			id := least(eligible[k.topic])
			owner[k] = id
			count[id]++
		}
	}
	for moved := true; moved; {
		moved = false
		for _, k := range all {
			from := owner[k]
			to := least(eligible[k.topic])
			if count[to] < count[from]-1 {
				owner[k] = to
				count[from]--
				count[to]++
				moved = true
			}
		}
	}
	return owner
}
