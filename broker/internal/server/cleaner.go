package server

import (
	"slices"
	"time"

	"github.com/sluicehq/sluice/broker/internal/config"
	plog "github.com/sluicehq/sluice/broker/internal/log"
)

// runCleaner is the log cleaner's loop: it compacts topics whose
// cleanup.policy includes compact. Serve starts it in its own goroutine and
// Close waits for it; it returns when s.ctx is done.
//
// Like Kafka's single cleaner thread it cleans one log at a time, always the
// one with the highest dirty ratio among those due (LogCleanerManager
// .grabFilthiestCompactedLog), and sleeps log.cleaner.backoff.ms when none
// is due. A log whose round fails is left alone for a while, so it cannot
// starve the others.
func (s *Server) runCleaner() {
	if !s.config().LogCleanerEnable {
		<-s.ctx.Done()
		return
	}
	failed := map[*plog.Log]time.Time{} // owned by this goroutine
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		// Read per round: log.cleaner.backoff.ms may change at run time.
		backoff := max(time.Duration(s.config().LogCleanerBackoffMs)*time.Millisecond, time.Millisecond)
		for s.ctx.Err() == nil && s.cleanFilthiest(failed, 10*backoff+time.Minute) {
		}
		timer.Reset(backoff)
	}
}

// cleanerOptions maps a topic's configs and the broker's cleaner settings
// to a round's options.
func (s *Server) cleanerOptions(cfg *config.Topic) plog.CleanOptions {
	return plog.CleanOptions{
		DeleteRetentionMs:      cfg.DeleteRetentionMs,
		MinCompactionLagMs:     cfg.MinCompactionLagMs,
		MaxCompactionLagMs:     cfg.MaxCompactionLagMs,
		MinCleanableDirtyRatio: cfg.MinCleanableDirtyRatio,
		DedupeBufferBytes:      s.config().LogCleanerDedupeBufferSize,
	}
}

// cleanFilthiest runs one round on the dirtiest due log and reports whether
// it cleaned one.
func (s *Server) cleanFilthiest(failed map[*plog.Log]time.Time, retryAfter time.Duration) bool {
	var (
		best      *partition
		bestOpts  plog.CleanOptions
		bestRatio = -1.0
	)
	now := time.Now()
	for l, until := range failed { // also forgets logs of deleted topics
		if now.After(until) {
			delete(failed, l)
		}
	}
	for _, t := range s.parts.all() {
		s.parts.mu.RLock()
		parts := t.parts
		s.parts.mu.RUnlock()
		cfg := *t.config()
		if !slices.Contains(cfg.CleanupPolicy, "compact") {
			continue
		}
		opts := s.cleanerOptions(&cfg)
		for _, p := range parts {
			if _, ok := failed[p.log]; ok {
				continue
			}
			st, err := p.log.CleanState(opts)
			if err != nil || !st.Due {
				continue
			}
			ratio := st.DirtyRatio
			if st.MaxLagExceeded || st.HorizonPassed {
				ratio += 1 // overdue logs first
			}
			if ratio > bestRatio {
				best, bestOpts, bestRatio = p, opts, ratio
			}
		}
	}
	if best == nil {
		return false
	}
	name := partDirName(best.topic, best.index)
	res, err := best.log.Clean(s.ctx, bestOpts)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("log cleaning failed", "partition", name, "err", err, "retry_in", retryAfter)
			failed[best.log] = now.Add(retryAfter)
		}
		return false
	}
	s.log.Info("log cleaned", "partition", name, "first_dirty", res.FirstDirty, "next_dirty", res.NextDirty,
		"segments_rewritten", res.SegmentsRewritten, "records_removed", res.RecordsRemoved,
		"bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter, "done", res.Done)
	return true
}
