package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Store is a single node's durable metadata log: an append-only file of
// framed records (length, CRC-32C, JSON) replayed into an [Image] at open.
// A torn last frame (a crash mid-write) is dropped. Each Append is fsynced
// before it returns, so an acknowledged CreateTopics survives power loss.
type Store struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	img     *Image
	records int
	// idMu guards ids, the producer ids reserved but not handed out yet
	// (producerids.go); it is taken before mu.
	idMu sync.Mutex
	ids  idBlock
}

// OpenStore opens or creates the metadata log in dir, replays it and
// rewrites it compactly when it has grown much larger than the image.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	path := filepath.Join(dir, "metadata.log")
	img := NewImage()
	n := 0
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("meta: %w", err)
	}
	valid := 0
	for len(data)-valid >= 8 {
		size := int(binary.BigEndian.Uint32(data[valid:]))
		crc := binary.BigEndian.Uint32(data[valid+4:])
		if size > len(data)-valid-8 {
			break
		}
		body := data[valid+8 : valid+8+size]
		if crc32.Checksum(body, castagnoli) != crc {
			break
		}
		var r Record
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("meta: record %d of %s: %w", n, path, err)
		}
		if err := img.Apply(r); err != nil {
			return nil, fmt.Errorf("meta: replaying record %d of %s: %w", n, path, err)
		}
		n++
		valid += 8 + size
	}
	s := &Store{path: path, img: img, records: n}
	if valid != len(data) || n > 2*len(img.byName)+64 {
		// Rewrite: drops a torn tail and old records.
		if err := s.rewrite(); err != nil {
			return nil, err
		}
	} else {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
		s.f = f
	}
	return s, nil
}

func frame(dst []byte, r Record) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("meta: encoding record: %w", err)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	return append(dst, body...), nil
}

func (s *Store) rewrite() error {
	var buf bytes.Buffer
	recs := s.img.Snapshot()
	for _, r := range recs {
		b, err := frame(nil, r)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	tmp := s.path + ".tmp"
	if err := writeSynced(tmp, buf.Bytes()); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	s.f, s.records = f, len(recs)
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("meta: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("meta: %w", err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	return nil
}

// Append applies the records to the image and makes them durable. Either
// all records apply and are stored, or none: a record that does not apply
// leaves both image and file unchanged.
func (s *Store) Append(recs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("meta: store closed")
	}
	// Check on a scratch image first so that a failing record applies nothing.
	scratch := NewImage()
	for _, r := range s.img.Snapshot() {
		_ = scratch.Apply(r)
	}
	var buf []byte
	for _, r := range recs {
		if err := scratch.Apply(r); err != nil {
			return err
		}
		var err error
		if buf, err = frame(buf, r); err != nil {
			return err
		}
	}
	if _, err := s.f.Write(buf); err != nil {
		return fmt.Errorf("meta: writing %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("meta: syncing %s: %w", s.path, err)
	}
	s.img = scratch
	s.records += len(recs)
	return nil
}

// View calls fn with the current image under the store's lock. fn must not
// keep the image or call back into the store.
func (s *Store) View(fn func(*Image)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.img)
}

// Close closes the file. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("meta: %w", err)
	}
	return nil
}
