package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// errDD marks a dd run that failed or printed nothing we can read.
var errDD = errors.New("benchcmp: dd")

// diskResult is the fdatasync'd sequential write bandwidth of one disk.
type diskResult struct {
	Bytes   int64
	Elapsed time.Duration
}

// MiBPerSec is the bandwidth in MiB/s, the unit package perf reports in,
// so the produce/disk ratio compares like with like.
func (d diskResult) MiBPerSec() float64 {
	if d.Elapsed <= 0 {
		return 0
	}
	return float64(d.Bytes) / (1 << 20) / d.Elapsed.Seconds()
}

// measureDisk writes mib MiB of zeros into dir with dd conv=fdatasync, the
// cost of a log that forces every byte to stable storage once, and
// removes the file again.
func measureDisk(ctx context.Context, dir string, mib int) (diskResult, error) {
	path := filepath.Join(dir, "ddtest")
	defer os.Remove(path)
	cmd := exec.CommandContext(ctx, "dd", "if=/dev/zero", "of="+path, "bs=1M",
		"count="+strconv.Itoa(mib), "conv=fdatasync")
	// dd's summary is localised (decimal commas, translated words); C
	// keeps it parseable.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return diskResult{}, fmt.Errorf("%w: %w: %s", errDD, err, bytes.TrimSpace(out.Bytes()))
	}
	return parseDD(out.String())
}

// ddSummary matches GNU dd's last line, e.g.
// "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.1 s, 511 MB/s", and
// busybox/BSD's "1073741824 bytes transferred in 2.1 secs (511 bytes/sec)".
var ddSummary = regexp.MustCompile(`(?m)^(\d+) bytes\b.*?(?:copied, |transferred in )([0-9.]+(?:e[-+]?\d+)?) s`)

// parseDD reads the byte count and the elapsed time from dd's summary.
// It uses those two exact figures rather than the rounded rate dd prints
// ("511 MB/s" has three significant digits and a unit that changes with
// the speed).
func parseDD(out string) (diskResult, error) {
	m := ddSummary.FindStringSubmatch(out)
	if m == nil {
		return diskResult{}, fmt.Errorf("%w: no summary line in %q", errDD, out)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return diskResult{}, fmt.Errorf("%w: byte count %q: %w", errDD, m[1], err)
	}
	secs, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return diskResult{}, fmt.Errorf("%w: seconds %q: %w", errDD, m[2], err)
	}
	if n <= 0 || secs <= 0 {
		return diskResult{}, fmt.Errorf("%w: nothing measured in %q", errDD, out)
	}
	return diskResult{Bytes: n, Elapsed: time.Duration(secs * float64(time.Second))}, nil
}
