package meta

import (
	"errors"
	"sync"
	"testing"
)

func TestProducerIDsNeverReused(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 600 { // more than a block per goroutine
				id, err := s.NextProducerID(1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] || id < 0 {
					t.Errorf("producer id %d handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if s, err = OpenStore(dir); err != nil {
			t.Fatal(err)
		}
		id, err := s.NextProducerID(1)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("round %d: producer id %d reused after a restart", round, id)
		}
		seen[id] = true
		if round == 0 {
			if err := s.rewrite(); err != nil { // the compacted form keeps the mark
				t.Fatal(err)
			}
		}
		s.Close()
	}
}

func TestProducerIDsRecordMustAdvance(t *testing.T) {
	im := NewImage()
	if err := im.Apply(Record{ProducerIDs: &ProducerIDs{NextProducerID: 1000}}); err != nil {
		t.Fatal(err)
	}
	if err := im.Apply(Record{ProducerIDs: &ProducerIDs{NextProducerID: 1000}}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("a block that does not advance: %v", err)
	}
	if im.NextProducerID() != 1000 {
		t.Fatal(im.NextProducerID())
	}
}
