// Package meta holds the cluster metadata image: topics, their partitions and
// replica assignments, leaders, leader epochs, topic config overrides and
// dynamic broker configs.
//
// The image changes only by applying [Record]s, and [Image.Apply] is
// deterministic: no clocks, no I/O, no goroutines. Today a single node keeps
// the records in a local file ([Store]); the replicated controller will feed
// the very same records through a Raft log, so the state machine does not
// change when replication arrives.
package meta

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
)

// Sentinel errors returned by [Image.Apply].
var (
	ErrTopicExists   = errors.New("meta: topic already exists")
	ErrUnknownTopic  = errors.New("meta: unknown topic")
	ErrBadRecord     = errors.New("meta: malformed record")
	ErrPartitionsLow = errors.New("meta: partitions can only be added")
	// ErrProducerIDsExhausted is returned when no producer id block is
	// left below math.MaxInt64.
	ErrProducerIDsExhausted = errors.New("meta: producer ids exhausted")
)

// TopicID is a topic's 16-byte UUID, as Kafka's topic IDs (KIP-516).
type TopicID [16]byte

// Partition is one partition's assignment and leadership.
type Partition struct {
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leaderEpoch"`
}

// Topic is one topic in the image. Configs holds only the overrides set on
// the topic; everything else comes from the broker's configuration.
type Topic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Internal   bool              `json:"internal,omitempty"`
	Partitions []Partition       `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

func (t *Topic) clone() *Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = Partition{
			Replicas:    slices.Clone(p.Replicas),
			ISR:         slices.Clone(p.ISR),
			Leader:      p.Leader,
			LeaderEpoch: p.LeaderEpoch,
		}
	}
	c.Configs = maps.Clone(t.Configs)
	return &c
}

// Record is one change to the image. Exactly one field is set.
type Record struct {
	CreateTopic   *Topic               `json:"createTopic,omitempty"`
	DeleteTopic   *DeleteTopic         `json:"deleteTopic,omitempty"`
	AddPartitions *AddPartitions       `json:"addPartitions,omitempty"`
	TopicConfig   *TopicConfig         `json:"topicConfig,omitempty"`
	Leader        *PartitionLeadership `json:"leader,omitempty"`
	BrokerConfig  *BrokerConfig        `json:"brokerConfig,omitempty"`
	ProducerIDs   *ProducerIDs         `json:"producerIds,omitempty"`
}

// ProducerIDs is Kafka's ProducerIdsRecord: a broker reserved the producer
// ids below NextProducerID (a block of [ProducerIDBlockSize]). Only the
// high-water mark is kept, so a restart never hands out an id twice, at
// the cost of skipping the unused rest of a block.
type ProducerIDs struct {
	Broker         int32 `json:"broker"`
	NextProducerID int64 `json:"nextProducerId"`
}

// DeleteTopic removes a topic.
type DeleteTopic struct {
	ID TopicID `json:"id"`
}

// AddPartitions appends partitions to a topic.
type AddPartitions struct {
	ID         TopicID     `json:"id"`
	Partitions []Partition `json:"partitions"`
}

// TopicConfig replaces a topic's config overrides with Configs.
type TopicConfig struct {
	ID      TopicID           `json:"id"`
	Configs map[string]string `json:"configs"`
}

// BrokerConfig replaces the dynamic configs of one broker resource, named
// as Kafka names them: a node id ("1") for that broker's own settings, or
// "" for the cluster-wide default every broker falls back to. An empty
// Configs removes the resource's dynamic configs. The configs live in the
// metadata log, not in server.properties, so that (as with Kafka's KRaft
// ConfigRecords) every broker sees the cluster default and a change
// survives restarts.
type BrokerConfig struct {
	Broker  string            `json:"broker"`
	Configs map[string]string `json:"configs"`
}

// PartitionLeadership sets a partition's leader, epoch and ISR.
type PartitionLeadership struct {
	ID          TopicID `json:"id"`
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leaderEpoch"`
	ISR         []int32 `json:"isr"`
}

// Image is the metadata state. The zero value is not usable; see [NewImage].
// An Image is not safe for concurrent mutation; readers get copies from
// [Image.Topic] and [Image.Topics].
type Image struct {
	byName map[string]*Topic
	byID   map[TopicID]*Topic
	// brokers holds the dynamic configs per broker resource name ("" is
	// the cluster default); resources without configs are absent.
	brokers map[string]map[string]string
	// nextProducerID is the first producer id no broker has reserved.
	nextProducerID int64
}

// NewImage returns an empty image.
func NewImage() *Image {
	return &Image{byName: map[string]*Topic{}, byID: map[TopicID]*Topic{}, brokers: map[string]map[string]string{}}
}

// Apply applies one record. It fails, changing nothing, when the record does
// not fit the image (a topic that exists already, an unknown topic ID).
func (im *Image) Apply(r Record) error {
	switch {
	case r.CreateTopic != nil:
		t := r.CreateTopic
		if t.Name == "" {
			return fmt.Errorf("%w: topic without name", ErrBadRecord)
		}
		if _, ok := im.byName[t.Name]; ok {
			return fmt.Errorf("%w: %s", ErrTopicExists, t.Name)
		}
		if _, ok := im.byID[t.ID]; ok {
			return fmt.Errorf("%w: topic id of %s", ErrTopicExists, t.Name)
		}
		c := t.clone()
		im.byName[c.Name] = c
		im.byID[c.ID] = c
	case r.DeleteTopic != nil:
		t, ok := im.byID[r.DeleteTopic.ID]
		if !ok {
			return ErrUnknownTopic
		}
		delete(im.byID, t.ID)
		delete(im.byName, t.Name)
	case r.AddPartitions != nil:
		t, ok := im.byID[r.AddPartitions.ID]
		if !ok {
			return ErrUnknownTopic
		}
		add := (&Topic{Partitions: r.AddPartitions.Partitions}).clone()
		t.Partitions = append(t.Partitions, add.Partitions...)
	case r.TopicConfig != nil:
		t, ok := im.byID[r.TopicConfig.ID]
		if !ok {
			return ErrUnknownTopic
		}
		t.Configs = maps.Clone(r.TopicConfig.Configs)
	case r.Leader != nil:
		l := r.Leader
		t, ok := im.byID[l.ID]
		if !ok {
			return ErrUnknownTopic
		}
		if l.Partition < 0 || int(l.Partition) >= len(t.Partitions) {
			return fmt.Errorf("%w: partition %d of %s", ErrBadRecord, l.Partition, t.Name)
		}
		p := &t.Partitions[l.Partition]
		p.Leader, p.LeaderEpoch, p.ISR = l.Leader, l.LeaderEpoch, slices.Clone(l.ISR)
	case r.BrokerConfig != nil:
		bc := r.BrokerConfig
		if bc.Broker != "" && !isNodeID(bc.Broker) {
			return fmt.Errorf("%w: broker config resource %q is neither \"\" nor a node id", ErrBadRecord, bc.Broker)
		}
		if len(bc.Configs) == 0 {
			delete(im.brokers, bc.Broker)
		} else {
			im.brokers[bc.Broker] = maps.Clone(bc.Configs)
		}
	case r.ProducerIDs != nil:
		if r.ProducerIDs.NextProducerID <= im.nextProducerID {
			return fmt.Errorf("%w: producer id block ending at %d does not move past %d", ErrBadRecord, r.ProducerIDs.NextProducerID, im.nextProducerID)
		}
		im.nextProducerID = r.ProducerIDs.NextProducerID
	default:
		return fmt.Errorf("%w: empty record", ErrBadRecord)
	}
	return nil
}

// Topic returns a copy of the named topic.
func (im *Image) Topic(name string) (*Topic, bool) {
	t, ok := im.byName[name]
	if !ok {
		return nil, false
	}
	return t.clone(), true
}

// TopicByID returns a copy of the topic with that ID.
func (im *Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := im.byID[id]
	if !ok {
		return nil, false
	}
	return t.clone(), true
}

// Topics returns copies of every topic, sorted by name.
func (im *Image) Topics() []*Topic {
	out := make([]*Topic, 0, len(im.byName))
	for _, t := range im.byName {
		out = append(out, t.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BrokerConfigs returns a copy of the dynamic configs of a broker resource:
// a node id, or "" for the cluster default. It is empty, never nil, when
// none are set.
func (im *Image) BrokerConfigs(broker string) map[string]string {
	out := maps.Clone(im.brokers[broker])
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// Snapshot returns records that rebuild the image from empty.
func (im *Image) Snapshot() []Record {
	var out []Record
	for _, t := range im.Topics() {
		out = append(out, Record{CreateTopic: t})
	}
	for _, name := range slices.Sorted(maps.Keys(im.brokers)) {
		out = append(out, Record{BrokerConfig: &BrokerConfig{Broker: name, Configs: maps.Clone(im.brokers[name])}})
	}
	if im.nextProducerID > 0 {
		out = append(out, Record{ProducerIDs: &ProducerIDs{NextProducerID: im.nextProducerID}})
	}
	return out
}

// NextProducerID returns the first producer id not yet reserved.
func (im *Image) NextProducerID() int64 { return im.nextProducerID }

// isNodeID reports whether s is a node id as Kafka writes one: a
// non-negative decimal int32 with no sign or leading zeros.
func isNodeID(s string) bool {
	n, err := strconv.ParseInt(s, 10, 32)
	return err == nil && n >= 0 && strconv.FormatInt(n, 10) == s
}
