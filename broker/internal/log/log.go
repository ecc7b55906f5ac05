// Package log stores one partition's log on disk: a directory of segments
// (<20-digit base offset>.log) with a sparse offset index (.index) and a
// sparse time index (.timeindex), laid out as Kafka lays them out.
//
// Batches are stored byte for byte as the producer sent them; Append patches
// only the base offset, the partition leader epoch and, for LogAppendTime
// topics, the max timestamp. Read serves whole batches from the segment
// files with pread, so fetches run concurrently with each other and with
// appends. Nothing on the append or read path looks at individual records.
//
// Usage:
//
//	l, err := log.Open(dir, cfg, log.WithLogger(logger))
//	res, err := l.Append(batchBytes, leaderEpoch)   // one batch per call
//	buf, err = l.Read(offset, maxBytes, highWatermark, true, buf[:0])
//	_, err = l.EnforceRetention(time.Now())         // periodically
//	err = l.Close()
//
// Durability follows Kafka: an acknowledged append is in the page cache,
// which survives a kill -9. Config.FlushMessages and Config.FlushMs ask for
// fsync; concurrent appenders then share one fsync (group commit). On Open
// after an unclean shutdown the segments after the last flushed point are
// scanned and the log is cut at the first torn or corrupt batch.
package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// Names of the bookkeeping files in a partition directory.
const (
	cleanMarkerName   = ".clean"
	startOffsetName   = "log-start-offset"
	recoveryPointName = "recovery-point-offset"
)

// Sentinel errors. Errors returned to a produce or fetch handler also wrap a
// kerr code.
var (
	// ErrClosed is returned by every method after Close or Delete; it is
	// wrapped with kerr.KafkaStorageError.
	ErrClosed = errors.New("log: closed")
)

// Config is a partition's storage configuration, with Kafka's topic-config
// meanings. Zero and negative values fall back to Kafka's defaults where a
// zero would make no sense (see [DefaultConfig]).
type Config struct {
	SegmentBytes         int64  // roll when the active segment would exceed this (segment.bytes, default 1 GiB)
	SegmentMs            int64  // roll when the active segment's first batch is older than this (segment.ms, 7 days)
	RetentionMs          int64  // delete segments whose largest timestamp is older; -1 = keep forever
	RetentionBytes       int64  // delete oldest segments while the log is bigger; -1 = no limit
	IndexIntervalBytes   int64  // bytes between sparse index entries (4096)
	SegmentIndexBytes    int64  // max index file size (10 MiB); roll when full
	FlushMessages        int64  // fsync after this many messages; math.MaxInt64 = leave to the OS
	FlushMs              int64  // fsync when unflushed data is older than this; math.MaxInt64 = never
	MaxMessageBytes      int32  // largest batch accepted (max.message.bytes, 1048588) → kerr.MessageTooLarge
	TimestampType        string // "CreateTime" or "LogAppendTime"
	TimestampBeforeMaxMs int64  // message.timestamp.before.max.ms (CreateTime) → kerr.InvalidTimestamp
	TimestampAfterMaxMs  int64  // message.timestamp.after.max.ms (CreateTime) → kerr.InvalidTimestamp
	// CompactOnly is cleanup.policy=compact without delete: EnforceRetention
	// then ignores RetentionMs and RetentionBytes, as Kafka does, and
	// compaction alone bounds the log.
	CompactOnly bool
	// ProducerIDExpirationMs is producer.id.expiration.ms: EnforceRetention
	// forgets an idempotent producer whose latest batch is older (default
	// one day).
	ProducerIDExpirationMs int64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * 3600 * 1000,
		RetentionMs:          7 * 24 * 3600 * 1000,
		RetentionBytes:       -1,
		IndexIntervalBytes:   4096,
		SegmentIndexBytes:    10 << 20,
		FlushMessages:        math.MaxInt64,
		FlushMs:              math.MaxInt64,
		MaxMessageBytes:      1048588,
		TimestampType:        "CreateTime",
		TimestampBeforeMaxMs: math.MaxInt64,
		TimestampAfterMaxMs:  math.MaxInt64,

		ProducerIDExpirationMs: 24 * 3600 * 1000,
	}
}

// normalize replaces unusable zero values with defaults.
func (c Config) normalize() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.SegmentIndexBytes < indexEntrySize*2 {
		c.SegmentIndexBytes = max(d.SegmentIndexBytes, c.SegmentIndexBytes)
		if c.SegmentIndexBytes < indexEntrySize*2 {
			c.SegmentIndexBytes = d.SegmentIndexBytes
		}
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = d.FlushMessages
	}
	if c.FlushMs <= 0 {
		c.FlushMs = d.FlushMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.TimestampType == "" {
		c.TimestampType = d.TimestampType
	}
	if c.TimestampBeforeMaxMs <= 0 {
		c.TimestampBeforeMaxMs = d.TimestampBeforeMaxMs
	}
	if c.TimestampAfterMaxMs <= 0 {
		c.TimestampAfterMaxMs = d.TimestampAfterMaxMs
	}
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = d.ProducerIDExpirationMs
	}
	return c
}

func (c *Config) syncMode() bool {
	return c.FlushMessages != math.MaxInt64 || c.FlushMs != math.MaxInt64
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
	now    func() time.Time
}

// WithLogger sets where recovery and truncation are reported. Default: a
// logger that discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock replaces time.Now, for tests of time-based roll, retention and
// LogAppendTime. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// AppendResult describes an appended batch.
type AppendResult struct {
	BaseOffset     int64 // offset assigned to the first record
	LastOffset     int64 // offset of the last record
	LogAppendTime  int64 // the broker time stamped on the batch, or -1 for CreateTime topics
	LogStartOffset int64
	Records        int32
	// Duplicate is set when the batch repeats one of its idempotent
	// producer's last batches: nothing was appended, and the offsets are
	// those of the first append (Kafka answers such a retry with success).
	Duplicate bool
}

// Log is one partition's log. It is safe for concurrent use: appends and
// structural changes are serialized by amu, while readers only take mu's
// read lock long enough to find the bytes they need and then pread without
// any lock.
type Log struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time

	// amu serializes Append, roll, retention, truncation, flush of indexes
	// and Close. Fields below marked (amu) are owned by it.
	amu       sync.Mutex
	cfg       Config      // (amu) also read under mu by SetConfig
	epochs    *epochCache // (amu, and mu for EndOffsetForEpoch)
	unflushed int64       // (amu) messages appended since the last fsync request
	oldest    time.Time   // (amu) when the oldest unflushed append happened
	recovery  int64       // (amu) offset below which everything is fsynced
	// producers is the idempotent producer state (producerstate.go).
	producers map[int64]*producerEntry // (amu)
	// ongoing maps a producer id to the first offset of its open
	// transaction (txn.go); unstable publishes the smallest of them (-1
	// when none) to readers without a lock.
	ongoing  map[int64]int64 // (amu)
	unstable atomic.Int64
	// tmu guards the aborted-transaction index, read by fetches and the
	// cleaner; it is taken after amu and mu and nothing is taken under it.
	tmu     sync.RWMutex
	aborted []abortedEntry // (tmu) ordered by LastOffset

	// mu publishes what readers see.
	mu       sync.RWMutex
	segs     []*segment
	start    int64
	end      int64
	size     int64
	gen      uint64 // bumped when bytes in place may change (truncation, deletion)
	writeSeq uint64 // count of appends published, for group commit
	closed   bool

	sync syncState
	// syncs counts group-commit fsyncs and syncHook runs before each; both
	// exist for tests of group commit.
	syncs    atomic.Int64
	syncHook func()
	// txnDirty is set when the aborted-transaction index got bytes that
	// no fsync has covered yet (txn.go); txnSyncs counts the index fsyncs,
	// for tests.
	txnDirty atomic.Bool
	txnSyncs atomic.Int64
	// txnSyncMu serialises syncTxnIndex; txnRewrite is set when an
	// append to the index file failed, until repairTxnIndexLocked
	// rewrote it from memory.
	txnSyncMu  sync.Mutex
	txnRewrite atomic.Bool
	// rollPending is set when segments below the active one may hold data
	// at or above the recovery point that no fsync has covered yet: by roll
	// and by an Open that left the recovery point below the active
	// segment. FlushRolled clears it (flushrolled.go).
	rollPending atomic.Bool
	rolledHook  func() // tests: runs in FlushRolled before its fsyncs, with no lock held

	// cleanMu serializes compaction rounds (clean.go); it is taken before
	// amu. cpMu guards the cleaner checkpoint cp and is taken last.
	cleanMu   sync.Mutex
	cpMu      sync.Mutex
	cp        cleanerState
	truncs    atomic.Uint64           // Truncate calls, so a round knows its range may hold new data
	cleanHook func(step string) error // tests: stop a round as a crash would
}

// Open opens the partition log in dir, creating the directory when missing
// and recovering after an unclean shutdown.
func Open(dir string, cfg Config, opts ...Option) (*Log, error) {
	o := options{logger: slog.New(slog.DiscardHandler), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log: creating %s: %w", dir, err)
	}
	l := &Log{dir: dir, logger: o.logger, now: o.now, cfg: cfg.normalize()}
	l.sync.cond.L = &l.sync.mu
	l.unstable.Store(-1)
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.close()
		}
		return nil, err
	}
	return l, nil
}

func (l *Log) load() error {
	clean := false
	if err := os.Remove(filepath.Join(l.dir, cleanMarkerName)); err == nil {
		clean = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("log: removing clean marker: %w", err)
	}
	var err error
	if l.epochs, err = loadEpochCache(l.dir); err != nil {
		return err
	}
	if finished, err := recoverCleanerSwap(l.dir); err != nil {
		return err
	} else if finished {
		l.logger.Info("log recovery finished an interrupted cleaner swap", "dir", l.dir)
	}
	l.loadCleanerState()
	bases, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	start, hasStart := readInt64File(filepath.Join(l.dir, startOffsetName))
	recovery, hasRecovery := readInt64File(filepath.Join(l.dir, recoveryPointName))
	if !hasRecovery || clean {
		recovery = 0
	}
	now := l.now()
	if len(bases) == 0 {
		base := max(start, 0)
		s, err := openSegment(l.dir, base, now)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		l.start, l.end, l.recovery = base, base, base
		if err := l.writeStart(); err != nil {
			return err
		}
		return l.loadProducers(l.end)
	}
	interval := l.cfg.IndexIntervalBytes
	for i, base := range bases {
		s, err := openSegment(l.dir, base, now)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		last := i == len(bases)-1
		// A segment must be scanned when the previous run may have left a
		// torn or unflushed tail in it: after an unclean shutdown, every
		// segment that holds offsets at or after the recovery point.
		needScan := !clean && (last || bases[i+1] > recovery)
		if !needScan && s.loadIndexes() {
			if last && len(s.index) > 0 { // find the end: scan from the last indexed batch
				e := s.index[len(s.index)-1]
				s.index = s.index[:len(s.index)-1]
				s.idxWritten = min(s.idxWritten, len(s.index))
				s.sinceIndex = interval
				if _, err := s.scan(int64(e.pos), interval, false, false); err != nil {
					return err
				}
			}
			continue
		}
		s.index, s.tindex, s.idxWritten, s.tidxWritten, s.sinceIndex = nil, nil, 0, 0, 0
		s.maxTs, s.maxTsOff = -1, -1
		if needScan {
			l.logger.Info("log recovery: validating segment after an unclean shutdown", "dir", l.dir, "segment", base)
		}
		res, err := s.scan(0, interval, true, needScan)
		if err != nil {
			return err
		}
		s.maybeTimeEntry() // the segment's max must be in its time index for the next clean open
		if err := s.rewriteIndexes(); err != nil {
			return err
		}
		for _, e := range res.epochs {
			l.epochs.assign(e.epoch, e.start)
		}
		if res.truncated {
			l.logger.Warn("log recovery truncated a torn or corrupt tail",
				"dir", l.dir, "segment", base, "position", s.size, "cause", res.cause)
			// Nothing after a cut can be trusted: drop the later segments.
			for _, b := range bases[i+1:] {
				l.logger.Warn("log recovery removed a segment after the truncation point", "dir", l.dir, "segment", b)
				for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					if err := os.Remove(segName(l.dir, b, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("log: removing segment %d: %w", b, err)
					}
				}
			}
			break
		}
	}
	// Offsets: each segment ends where the next begins; the active one ends
	// after its last batch.
	act := l.segs[len(l.segs)-1]
	l.end = act.next
	for _, s := range l.segs {
		l.size += s.size
	}
	l.start = l.segs[0].base
	if hasStart && start > l.start {
		l.start = min(start, l.end)
	}
	l.recovery = min(max(recovery, l.start), l.end)
	if l.recovery < act.base {
		l.rollPending.Store(true)
	}
	if l.epochs.truncateFromEnd(l.end) || l.epochs.truncateFromStart(l.start) {
		if err := l.epochs.write(); err != nil {
			return err
		}
	}
	if err := l.writeStart(); err != nil {
		return err
	}
	// After an unclean shutdown only what lies below the recovery point is
	// known to be on disk; producer snapshots and aborted-index entries
	// past it are re-derived from the recovered segments, as Kafka
	// rebuilds the producer state and transaction index of the segments it
	// recovers.
	trusted := l.end
	if !clean {
		trusted = l.recovery
	}
	return l.loadProducers(trusted)
}

func (l *Log) writeStart() error {
	return writeInt64File(filepath.Join(l.dir, startOffsetName), l.start)
}

func storageErr(err error) error {
	return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
}

// Append validates one magic-v2 batch with the produce rules of
// [batch.Validate] plus the topic's size and timestamp limits, assigns it
// the offsets from EndOffset on, stamps leaderEpoch (and the append time
// for LogAppendTime topics) into it in place, and writes it to the active
// segment with one write. The caller's slice is modified. Errors wrap kerr
// codes: MESSAGE_TOO_LARGE, CORRUPT_MESSAGE, INVALID_RECORD,
// INVALID_TIMESTAMP, KAFKA_STORAGE_ERROR.
//
// With FlushMessages or FlushMs set, the append that crosses the threshold
// waits for an fsync that it shares with concurrent appenders.
func (l *Log) Append(b []byte, leaderEpoch int32) (AppendResult, error) {
	return l.append(b, leaderEpoch, false, nil)
}

// AppendTrusted appends a batch the broker wrote itself (a transaction
// marker, a coordinator record) or replicated: it checks only what
// recovery checks ([batch.Verify]: size, magic, CRC) and that b is one
// batch, so control batches and any timestamps are accepted. Otherwise it
// is [Log.Append].
func (l *Log) AppendTrusted(b []byte, leaderEpoch int32) (AppendResult, error) {
	return l.append(b, leaderEpoch, true, nil)
}

// append appends b under the append lock, after check (when not nil)
// accepted it under the same lock, then waits for the fsync the flush
// settings ask for.
func (l *Log) append(b []byte, leaderEpoch int32, trusted bool, check func() error) (AppendResult, error) {
	l.amu.Lock()
	if check != nil {
		if err := check(); err != nil {
			l.amu.Unlock()
			return AppendResult{LogAppendTime: -1}, err
		}
	}
	res, seq, needSync, err := l.appendLocked(b, leaderEpoch, trusted)
	l.amu.Unlock()
	if err != nil {
		return res, err
	}
	if needSync {
		if err := l.syncTo(seq); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (l *Log) appendLocked(b []byte, leaderEpoch int32, trusted bool) (AppendResult, uint64, bool, error) {
	res := AppendResult{LogAppendTime: -1}
	if l.isClosed() {
		return res, 0, false, storageErr(ErrClosed)
	}
	cfg := &l.cfg
	var h batch.Header
	var err error
	if trusted {
		var one []byte
		if h, one, err = batch.Verify(b); err != nil {
			return res, 0, false, err
		}
		if len(one) != len(b) || h.LastOffsetDelta < 0 {
			return res, 0, false, fmt.Errorf("%w: a trusted append takes exactly one batch", kerr.InvalidRecord)
		}
	} else {
		if len(b) > int(cfg.MaxMessageBytes) {
			return res, 0, false, fmt.Errorf("%w: the record batch size is %d bytes, which exceeds the maximum configured value of %d", kerr.MessageTooLarge, len(b), cfg.MaxMessageBytes)
		}
		if h, err = batch.Validate(b); err != nil {
			return res, 0, false, err
		}
	}
	now := l.now()
	nowMs := now.UnixMilli()
	// LogValidator.validateTimestamp: producers may not set LogAppendTime,
	// and CreateTime timestamps must lie within the configured bounds. The
	// check uses the batch's first and max timestamps, not every record's.
	if h.TimestampType() == batch.LogAppendTime && !trusted {
		return res, 0, false, fmt.Errorf("%w: producer should not set timestamp type to LogAppendTime", kerr.InvalidTimestamp)
	}
	logAppend := cfg.TimestampType == "LogAppendTime"
	if !logAppend && !trusted {
		for _, ts := range [2]int64{h.FirstTimestamp, h.MaxTimestamp} {
			if ts < 0 {
				continue
			}
			if d := nowMs - ts; d > cfg.TimestampBeforeMaxMs || -d > cfg.TimestampAfterMaxMs {
				return res, 0, false, fmt.Errorf("%w: timestamp %d is out of range: more than %d ms before or %d ms after %d", kerr.InvalidTimestamp, ts, cfg.TimestampBeforeMaxMs, cfg.TimestampAfterMaxMs, nowMs)
			}
		}
	}
	if h.IsTransactional() && h.ProducerID < 0 && !trusted {
		return res, 0, false, fmt.Errorf("%w: a transactional batch needs a producer id", kerr.InvalidRecord)
	}
	if h.ProducerID >= 0 && !trusted {
		dup, err := l.checkProducer(&h)
		if err != nil {
			return res, 0, false, err
		}
		if dup != nil {
			res.BaseOffset, res.LastOffset, res.Records, res.Duplicate = dup.firstOffset, dup.lastOffset, h.NumRecords, true
			l.mu.RLock()
			res.LogStartOffset = l.start
			l.mu.RUnlock()
			return res, 0, false, nil
		}
	}
	act := l.segs[len(l.segs)-1]
	msgTs := h.MaxTimestamp
	if logAppend {
		msgTs = nowMs
	}
	if l.needsRoll(act, &h, nowMs, msgTs) {
		if act, err = l.roll(now); err != nil {
			return res, 0, false, err
		}
	}
	base := l.end
	batch.SetBaseOffset(b, base)
	batch.SetPartitionLeaderEpoch(b, leaderEpoch)
	if logAppend {
		batch.SetLogAppendTime(b, nowMs)
		h.MaxTimestamp = nowMs
		res.LogAppendTime = nowMs
	}
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch
	pos := act.size
	if n, err := act.log.WriteAt(b, pos); err != nil {
		if n > 0 { // leave no partial batch behind for the next append to follow
			_ = act.log.Truncate(pos)
		}
		return res, 0, false, storageErr(fmt.Errorf("log: writing segment %d: %w", act.base, err))
	}
	if pos == 0 {
		act.firstTs = h.MaxTimestamp
	}
	act.dirty = true
	m := noMarker
	if h.IsControl() {
		m = parseMarker(b)
	}
	if ab := l.noteProducer(&h, m); ab != nil {
		// The marker is in the segment; an entry lost here is re-derived
		// from it by the next Open, so the append still succeeds.
		if err := l.appendTxnIndex(ab); err != nil {
			l.logger.Warn("log: could not append to the transaction index", "dir", l.dir, "err", err)
		}
	}
	l.mu.Lock()
	act.noteBatch(&h, pos, cfg.IndexIntervalBytes)
	l.end = h.LastOffset() + 1
	l.size += int64(len(b))
	l.writeSeq++
	seq := l.writeSeq
	start := l.start
	l.mu.Unlock()

	if l.epochs.latest() < leaderEpoch {
		l.mu.Lock()
		l.epochs.assign(leaderEpoch, base)
		l.mu.Unlock()
		if err := l.epochs.write(); err != nil {
			return res, 0, false, storageErr(err)
		}
	}
	res.BaseOffset, res.LastOffset, res.LogStartOffset, res.Records = base, h.LastOffset(), start, h.NumRecords

	needSync := false
	if cfg.syncMode() {
		if l.unflushed == 0 {
			l.oldest = now
		}
		l.unflushed += int64(h.NumRecords)
		if l.unflushed >= cfg.FlushMessages || now.Sub(l.oldest).Milliseconds() >= cfg.FlushMs {
			l.unflushed = 0
			needSync = true
		}
	}
	return res, seq, needSync, nil
}

// needsRoll applies Kafka's LogSegment.shouldRoll: size, age, full index, or
// relative offsets that would not fit the index's 32 bits.
func (l *Log) needsRoll(s *segment, h *batch.Header, nowMs, msgTs int64) bool {
	if s.size == 0 {
		return false
	}
	cfg := &l.cfg
	return s.size+int64(h.Size()) > cfg.SegmentBytes ||
		s.size+int64(h.Size()) > math.MaxUint32 ||
		s.waitedForRoll(nowMs, msgTs) >= cfg.SegmentMs ||
		int64(len(s.index)+1)*indexEntrySize > cfg.SegmentIndexBytes ||
		int64(len(s.tindex)+1)*timeIndexEntrySize > cfg.SegmentIndexBytes ||
		l.end+int64(h.LastOffsetDelta)-s.base > math.MaxInt32
}

// roll closes out the active segment and starts a new one at the end
// offset. With fsync configured the old segment is synced now, so group
// commit only ever has to sync the active segment.
func (l *Log) roll(now time.Time) (*segment, error) {
	old := l.segs[len(l.segs)-1]
	l.mu.Lock()
	old.maybeTimeEntry()
	l.mu.Unlock()
	if err := old.writeIndexes(); err != nil {
		return nil, storageErr(err)
	}
	if err := l.writeSnapshot(); err != nil {
		return nil, storageErr(err)
	}
	if l.cfg.syncMode() {
		if err := old.sync(); err != nil {
			return nil, storageErr(err)
		}
	}
	s, err := openSegment(l.dir, l.end, now)
	if err != nil {
		return nil, storageErr(err)
	}
	if s.size != 0 { // a leftover file at this base cannot be ours
		if err := s.log.Truncate(0); err != nil {
			s.close()
			return nil, storageErr(err)
		}
		s.size = 0
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.rollPending.Store(true) // FlushRolled fsyncs the old segments and moves the recovery point
	return s, nil
}

func (l *Log) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// Read returns whole batches starting with the batch that contains offset,
// appended to dst[:0] (its capacity is reused). It stops before any batch
// whose last offset is >= maxOffset (the high watermark, exclusive) and
// after at most maxBytes, except that with minOneBatch a first batch larger
// than maxBytes is returned alone. offset == EndOffset gives an empty
// result; offset outside [StartOffset, EndOffset] an error wrapping
// kerr.OffsetOutOfRange. A read racing a truncation or segment deletion
// returns an error wrapping kerr.KafkaStorageError or consistent data; one
// racing the cleaner's swap of a segment is retried here on the new one.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool, dst []byte) ([]byte, error) {
	for try := 0; ; try++ {
		out, err := l.read(offset, maxBytes, maxOffset, minOneBatch, dst)
		if err == nil || try == 2 || !errors.Is(err, os.ErrClosed) || l.isClosed() {
			return out, err
		}
		dst = out // the segment was closed under the read: swapped out by the cleaner
	}
}

func (l *Log) read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool, dst []byte) ([]byte, error) {
	dst = dst[:0]
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return dst, storageErr(ErrClosed)
	}
	start, end, gen := l.start, l.end, l.gen
	if offset < start || offset > end {
		l.mu.RUnlock()
		return dst, fmt.Errorf("%w: offset %d is outside [%d, %d]", kerr.OffsetOutOfRange, offset, start, end)
	}
	if offset == end || offset >= maxOffset {
		l.mu.RUnlock()
		return dst, nil
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	if i < 0 {
		i = 0
	}
	s := l.segs[i]
	pos, limit := s.lookup(offset), s.size
	l.mu.RUnlock()

	// Find the batch that contains offset: walk headers from the index entry.
	// Compaction leaves gaps, so the first batch at or after offset may be
	// in a later segment.
	var hb [batch.HeaderSize]byte
	var first batch.Header
	for {
		if pos+batch.HeaderSize > limit {
			l.mu.RLock()
			j := sort.Search(len(l.segs), func(j int) bool { return l.segs[j].base > s.base })
			if j == len(l.segs) || l.gen != gen {
				l.mu.RUnlock()
				return dst, l.raced(gen, fmt.Errorf("log: offset %d not found in segment %d", offset, s.base))
			}
			s = l.segs[j]
			pos, limit = 0, s.size
			l.mu.RUnlock()
			continue
		}
		if _, err := s.log.ReadAt(hb[:], pos); err != nil {
			return dst, l.raced(gen, err)
		}
		h, _ := batch.ParseHeader(hb[:])
		if h.Length < batch.HeaderSize-batch.LogOverhead || pos+int64(h.Size()) > limit {
			return dst, l.raced(gen, fmt.Errorf("log: bad batch header in segment %d at %d", s.base, pos))
		}
		if h.LastOffset() >= offset {
			first = h
			break
		}
		pos += int64(h.Size())
	}
	if first.LastOffset() >= maxOffset {
		return dst, nil
	}
	n := min(int64(maxBytes), limit-pos)
	if n < int64(first.Size()) {
		if !minOneBatch {
			return dst, nil
		}
		n = int64(first.Size())
	}
	if int64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if _, err := s.log.ReadAt(dst, pos); err != nil && !errors.Is(err, io.EOF) {
		return dst[:0], l.raced(gen, err)
	}
	// Trim to whole batches below maxOffset.
	keep := 0
	for len(dst)-keep >= batch.HeaderSize { // header checks only: no error values on the hot path
		h, _ := batch.ParseHeader(dst[keep:])
		if h.Length < batch.HeaderSize-batch.LogOverhead || h.Size() > len(dst)-keep ||
			h.LastOffset() >= maxOffset || (keep == 0 && h.BaseOffset != first.BaseOffset) {
			break
		}
		keep += h.Size()
	}
	dst = dst[:keep]
	l.mu.RLock()
	changed := l.gen != gen
	l.mu.RUnlock()
	if changed {
		return dst[:0], storageErr(fmt.Errorf("log: segment %d changed during the read", s.base))
	}
	return dst, nil
}

// raced turns an I/O error into a storage error, noting whether the log
// changed underneath (in which case the client simply retries).
func (l *Log) raced(gen uint64, err error) error {
	l.mu.RLock()
	changed := l.gen != gen || l.closed
	l.mu.RUnlock()
	if changed {
		return storageErr(fmt.Errorf("log: read raced a truncation or deletion: %w", err))
	}
	return storageErr(err)
}

// StartOffset returns the log start offset: the first readable offset.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// EndOffset returns the log end offset, the next offset Append assigns.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

// Size returns the bytes of all segment files, for DescribeLogDirs.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// SetConfig changes the configuration; it applies from the next append or
// retention check.
func (l *Log) SetConfig(cfg Config) {
	l.amu.Lock()
	l.cfg = cfg.normalize()
	l.amu.Unlock()
}

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// Close writes the indexes, fsyncs the log, records a clean shutdown and
// closes the files. It is idempotent.
func (l *Log) Close() error {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		return nil
	}
	err := l.flushLocked()
	if err == nil {
		err = l.writeSnapshot()
	}
	l.mu.Lock()
	l.closed = true
	l.gen++
	segs := l.segs
	l.mu.Unlock()
	for _, s := range segs {
		err = errors.Join(err, s.close())
	}
	if err == nil {
		err = writeFileAtomic(filepath.Join(l.dir, cleanMarkerName), nil)
	}
	return err
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	err := l.Close()
	if rerr := os.RemoveAll(l.dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("log: removing %s: %w", l.dir, rerr))
	}
	return err
}
