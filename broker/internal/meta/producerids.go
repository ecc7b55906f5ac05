package meta

import (
	"fmt"
	"math"
)

// ProducerIDBlockSize is how many producer ids one durable reservation
// covers, as Kafka's ProducerIdManager blocks: one fsynced metadata record
// per thousand InitProducerId calls instead of one per call.
const ProducerIDBlockSize = 1000

// idBlock is the part of a reserved block not handed out yet.
type idBlock struct{ next, end int64 }

// NextProducerID hands out a producer id that was never handed out before,
// not even before a restart: ids come from a block reserved by a durable
// [ProducerIDs] record, and a new block is reserved (and fsynced) when the
// current one is used up. broker is recorded as the reserving node.
func (s *Store) NextProducerID(broker int32) (int64, error) {
	s.idMu.Lock() // one reservation at a time; s.mu is taken by Append
	defer s.idMu.Unlock()
	if s.ids.next < s.ids.end {
		id := s.ids.next
		s.ids.next++
		return id, nil
	}
	var start int64
	s.View(func(im *Image) { start = im.NextProducerID() })
	if start > math.MaxInt64-ProducerIDBlockSize {
		return -1, ErrProducerIDsExhausted
	}
	if err := s.Append(Record{ProducerIDs: &ProducerIDs{Broker: broker, NextProducerID: start + ProducerIDBlockSize}}); err != nil {
		return -1, fmt.Errorf("meta: reserving producer ids: %w", err)
	}
	s.ids = idBlock{next: start + 1, end: start + ProducerIDBlockSize}
	return start, nil
}
