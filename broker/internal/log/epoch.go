package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

const epochCheckpointName = "leader-epoch-checkpoint"

// epochEntry says that epoch's first offset is start.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the leader-epoch history of the partition, kept in the
// file Kafka calls leader-epoch-checkpoint (version 0, a count, then
// "epoch startOffset" lines). Followers use it through OffsetForLeaderEpoch
// to find where their log diverges from the leader's.
type epochCache struct {
	path    string
	entries []epochEntry
}

func loadEpochCache(dir string) (*epochCache, error) {
	c := &epochCache{path: filepath.Join(dir, epochCheckpointName)}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log: reading %s: %w", c.path, err)
	}
	// A malformed checkpoint is dropped and rebuilt from the batches, since
	// every batch carries its leader epoch.
	entries, ok := parseEpochs(b)
	if ok {
		c.entries = entries
	}
	return c, nil
}

func parseEpochs(b []byte) ([]epochEntry, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if len(lines) < 2 || string(lines[0]) != "0" {
		return nil, false
	}
	n, err := strconv.Atoi(string(lines[1]))
	if err != nil || n != len(lines)-2 {
		return nil, false
	}
	var out []epochEntry
	for _, l := range lines[2:] {
		f := bytes.Fields(l)
		if len(f) != 2 {
			return nil, false
		}
		e, err1 := strconv.ParseInt(string(f[0]), 10, 32)
		s, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 != nil || err2 != nil || e < 0 || s < 0 || len(out) > 0 && (int32(e) <= out[len(out)-1].epoch || s < out[len(out)-1].start) {
			return nil, false
		}
		out = append(out, epochEntry{epoch: int32(e), start: s})
	}
	return out, true
}

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// assign records that epoch starts at offset if it is newer than the latest
// epoch; it reports whether the cache changed.
func (c *epochCache) assign(epoch int32, offset int64) bool {
	if epoch < 0 || epoch <= c.latest() {
		return false
	}
	c.entries = append(c.entries, epochEntry{epoch: epoch, start: offset})
	return true
}

// truncateFromEnd drops epochs that start at or after end (the log was
// truncated to end).
func (c *epochCache) truncateFromEnd(end int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= end {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart forgets epochs that end before start and moves the
// start of the epoch that contains start up to it, as Kafka does when the
// log start offset advances.
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].start <= start {
		i++
	}
	changed := i > 0
	c.entries = c.entries[i:]
	if len(c.entries) > 0 && c.entries[0].start < start {
		c.entries[0].start = start
		changed = true
	}
	return changed
}

// endOffsetFor answers OffsetForLeaderEpoch exactly as Kafka's
// LeaderEpochFileCache.endOffsetFor does.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	if epoch < 0 {
		return -1, -1
	}
	if len(c.entries) > 0 && c.latest() == epoch {
		return epoch, logEnd
	}
	hi := -1
	for i, e := range c.entries {
		if e.epoch > epoch {
			hi = i
			break
		}
	}
	if hi < 0 {
		return -1, -1
	}
	if hi == 0 {
		return epoch, c.entries[0].start
	}
	return c.entries[hi-1].epoch, c.entries[hi].start
}

// write persists the cache with write-to-temp, fsync and rename, so a crash
// leaves the old or the new file, never half of one.
func (c *epochCache) write() error {
	var b []byte
	b = append(b, "0\n"...)
	b = strconv.AppendInt(b, int64(len(c.entries)), 10)
	b = append(b, '\n')
	for _, e := range c.entries {
		b = strconv.AppendInt(b, int64(e.epoch), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.start, 10)
		b = append(b, '\n')
	}
	return writeFileAtomic(c.path, b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("log: writing %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("log: writing %s: %w", path, err)
	}
	return nil
}

func readInt64File(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	return v, err == nil
}

func writeInt64File(path string, v int64) error {
	return writeFileAtomic(path, strconv.AppendInt(nil, v, 10))
}
