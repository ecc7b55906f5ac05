package meta

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStoreReplaysAndDropsTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := &Topic{Name: "a", ID: TopicID{1}, Partitions: []Partition{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}}
	b := &Topic{Name: "b", ID: TopicID{2}, Configs: map[string]string{"retention.ms": "1000"}}
	if err := s.Append(Record{CreateTopic: a}, Record{CreateTopic: b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Record{AddPartitions: &AddPartitions{ID: a.ID, Partitions: []Partition{{Replicas: []int32{1}, Leader: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Record{DeleteTopic: &DeleteTopic{ID: b.ID}}); err != nil {
		t.Fatal(err)
	}
	// A record that does not apply changes nothing.
	if err := s.Append(Record{CreateTopic: a}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate create: got %v, want ErrTopicExists", err)
	}
	s.Close()

	// Simulate a crash in the middle of writing a record.
	f, err := os.OpenFile(filepath.Join(dir, "metadata.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 50, 1, 2, 3})
	f.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var topics []*Topic
	s.View(func(im *Image) { topics = im.Topics() })
	if len(topics) != 1 || topics[0].Name != "a" || len(topics[0].Partitions) != 2 {
		t.Fatalf("after replay: %+v", topics)
	}
	// The store is usable after dropping the torn tail.
	if err := s.Append(Record{CreateTopic: b}); err != nil {
		t.Fatal(err)
	}
}

func TestImageCopiesAreIndependent(t *testing.T) {
	im := NewImage()
	if err := im.Apply(Record{CreateTopic: &Topic{Name: "x", ID: TopicID{9}, Partitions: []Partition{{Replicas: []int32{1}}}, Configs: map[string]string{"k": "v"}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := im.Topic("x")
	c.Partitions[0].Replicas[0] = 7
	c.Configs["k"] = "changed"
	d, _ := im.Topic("x")
	if d.Partitions[0].Replicas[0] != 1 || d.Configs["k"] != "v" {
		t.Fatalf("image changed through a copy: %+v", d)
	}
	if err := im.Apply(Record{Leader: &PartitionLeadership{ID: TopicID{9}, Partition: 3}}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("bad partition: %v", err)
	}
}

func TestBrokerConfigsReplayAndCompaction(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{BrokerConfig: &BrokerConfig{Broker: "", Configs: map[string]string{"log.retention.ms": "1000"}}},
		{BrokerConfig: &BrokerConfig{Broker: "1", Configs: map[string]string{"message.max.bytes": "2000", "log.retention.ms": "5"}}},
		{BrokerConfig: &BrokerConfig{Broker: "1", Configs: map[string]string{"message.max.bytes": "3000"}}}, // replaces, not merges
		{BrokerConfig: &BrokerConfig{Broker: "2", Configs: map[string]string{"log.retention.ms": "7"}}},
		{BrokerConfig: &BrokerConfig{Broker: "2"}}, // empty removes
	}
	for _, r := range recs {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"x", "-1", "01", " 1"} {
		if err := s.Append(Record{BrokerConfig: &BrokerConfig{Broker: bad, Configs: map[string]string{"a": "b"}}}); !errors.Is(err, ErrBadRecord) {
			t.Errorf("broker %q: got %v, want ErrBadRecord", bad, err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		s.View(func(im *Image) {
			if got := im.BrokerConfigs(""); len(got) != 1 || got["log.retention.ms"] != "1000" {
				t.Errorf("cluster default: %v", got)
			}
			if got := im.BrokerConfigs("1"); len(got) != 1 || got["message.max.bytes"] != "3000" {
				t.Errorf("broker 1: %v", got)
			}
			if got := im.BrokerConfigs("2"); got == nil || len(got) != 0 {
				t.Errorf("broker 2: %v, want empty", got)
			}
			im.BrokerConfigs("1")["message.max.bytes"] = "changed"
			if im.BrokerConfigs("1")["message.max.bytes"] != "3000" {
				t.Error("image changed through a copy")
			}
		})
	}
	check(s)
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(s)
	// The compacted form (a snapshot) keeps broker configs too.
	if err := s.rewrite(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}
