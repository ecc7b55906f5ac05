package perf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrConfig marks an invalid configuration value.
var ErrConfig = errors.New("perf: invalid config")

// ParseAcks maps Kafka's acks names ("all" or "-1", "1", "0") to kgo.
// The empty string means "all", Kafka's default since 3.0.
func ParseAcks(s string) (kgo.Acks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1", "leader":
		return kgo.LeaderAck(), nil
	case "0", "none":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("%w: acks %q: use all, 1 or 0", ErrConfig, s)
}

// ParseCompression maps Kafka's compression.type names (none, gzip,
// snappy, lz4, zstd) to a kgo codec. The empty string means none.
func ParseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "uncompressed":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%w: compression %q: use none, gzip, snappy, lz4 or zstd", ErrConfig, s)
}
