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
