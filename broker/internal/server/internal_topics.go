package server

// What the group and transaction coordinators share: access to the
// partitions of their internal topic, its creation on first need, and the
// ticker that drives their deadlines.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// internalLog gives a coordinator the partitions of its internal topic
// (__consumer_offsets, __transaction_state): the group.Log and txn.Log
// interfaces, plus AppendTrusted for batches the coordinator built that the
// produce path's producer checks must not see.
type internalLog struct {
	s     *Server
	topic string
}

func (l internalLog) partition(p int32) (*partition, error) {
	_, part := l.s.parts.partition(l.topic, p)
	if part == nil {
		return nil, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, l.topic, p)
	}
	return part, nil
}

// Append stores a coordinator batch and wakes fetchers of the partition.
func (l internalLog) Append(p int32, b []byte) (int64, error) { return l.append(p, b, false) }

// AppendTrusted stores a coordinator batch without the produce path's
// producer checks (transactional offset commits), as Kafka appends
// coordinator records.
func (l internalLog) AppendTrusted(p int32, b []byte) (int64, error) { return l.append(p, b, true) }

func (l internalLog) append(p int32, b []byte, trusted bool) (int64, error) {
	part, err := l.partition(p)
	if err != nil {
		return 0, err
	}
	appendFn := part.log.Append
	if trusted {
		appendFn = part.log.AppendTrusted
	}
	res, err := appendFn(b, part.epoch())
	if err != nil {
		return 0, err
	}
	part.notify()
	return res.BaseOffset, nil
}

// Scan reads a partition from its start to its current end, batch by batch.
func (l internalLog) Scan(p int32, fn func([]byte) error) error {
	part, err := l.partition(p)
	if err != nil {
		return err
	}
	off, end := part.log.StartOffset(), part.log.EndOffset()
	for off < end {
		// A fresh buffer per read: decoded records may alias it.
		b, err := part.log.Read(off, 1<<20, end, true, nil)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return nil
		}
		next := off
		for one, err := range batch.Split(b) {
			if err != nil {
				return err
			}
			h, err := batch.ParseHeader(one)
			if err != nil {
				return err
			}
			if h.LastOffset() < off {
				continue // the batch holding off started before it
			}
			if err := fn(one); err != nil {
				return err
			}
			next = h.LastOffset() + 1
		}
		if next == off {
			return fmt.Errorf("server: scanning %s-%d made no progress at offset %d", l.topic, p, off)
		}
		off = next
	}
	return nil
}

// partitionCount is the number of partitions topic has, 0 if it does not
// exist.
func (s *Server) partitionCount(topic string) int32 {
	t := s.parts.topic(topic)
	if t == nil {
		return 0
	}
	s.parts.mu.RLock()
	defer s.parts.mu.RUnlock()
	return int32(len(t.parts))
}

// ensureInternalTopic creates a coordinator's compacted internal topic if
// it does not exist yet, then runs load (which loads its partitions into
// the coordinator); loaded says whether that already happened. mu
// serializes creation and loading for that topic.
func (s *Server) ensureInternalTopic(mu *sync.Mutex, topic string, partitions int32, segmentBytes int, loaded func() bool, load func() error) error {
	if s.parts.topic(topic) != nil && loaded() {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	if s.parts.topic(topic) == nil {
		configs := map[string]string{
			"cleanup.policy":   "compact",
			"segment.bytes":    strconv.Itoa(segmentBytes),
			"compression.type": "producer",
		}
		if _, err := s.parts.create(topic, partitions, 1, configs, false); err != nil {
			return fmt.Errorf("server: creating %s: %w", topic, err)
		}
	}
	return load()
}

// startTicker calls tick every interval until ctx is done, in a goroutine
// wg waits for.
func startTicker(ctx context.Context, wg *sync.WaitGroup, every time.Duration, tick func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick()
			}
		}
	}()
}
