package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/cmd/sluice/internal/perf"
)

func TestParseDD(t *testing.T) {
	for _, tc := range []struct {
		name  string
		out   string
		bytes int64
		secs  float64
	}{
		{"gnu MB/s", "1024+0 records in\n1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.10354 s, 510 MB/s\n", 1 << 30, 2.10354},
		{"gnu GB/s", "1024+0 records in\n1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.9 s, 1.2 GB/s\n", 1 << 30, 0.9},
		{"gnu small", "1+0 records in\n1+0 records out\n1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.00312 s, 336 MB/s\n", 1 << 20, 0.00312},
		{"gnu exponent", "1048576 bytes (1.0 MB, 1.0 MiB) copied, 9.5e-05 s, 11 GB/s\n", 1 << 20, 9.5e-05},
		{"busybox", "1024+0 records in\n1024+0 records out\n1073741824 bytes transferred in 2.5 secs (429496729 bytes/sec)\n", 1 << 30, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := parseDD(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			want := time.Duration(tc.secs * float64(time.Second))
			if d.Bytes != tc.bytes || d.Elapsed != want {
				t.Fatalf("got %d bytes in %s, want %d in %s", d.Bytes, d.Elapsed, tc.bytes, want)
			}
		})
	}
	for _, bad := range []string{
		"",
		"dd: failed to open 'x': Permission denied\n",
		"0+0 records in\n0+0 records out\n0 bytes copied, 0.0001 s, 0 B/s\n",
		"1024 bytes (1 kB) copied, 0 s, inf B/s\n",
	} {
		if _, err := parseDD(bad); !errors.Is(err, errDD) {
			t.Errorf("parseDD(%q) = %v, want errDD", bad, err)
		}
	}
}

func TestDiskMiBPerSec(t *testing.T) {
	d := diskResult{Bytes: 512 << 20, Elapsed: time.Second}
	if got := d.MiBPerSec(); got != 512 {
		t.Fatalf("MiBPerSec = %v, want 512", got)
	}
	if got := (diskResult{Bytes: 1}).MiBPerSec(); got != 0 {
		t.Fatalf("zero elapsed: MiBPerSec = %v, want 0", got)
	}
}

func TestMeasureDisk(t *testing.T) {
	dir := t.TempDir()
	d, err := measureDisk(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bytes != 2<<20 || d.MiBPerSec() <= 0 {
		t.Fatalf("got %+v", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "ddtest")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ddtest left behind: %v", err)
	}
	if _, err := measureDisk(context.Background(), filepath.Join(dir, "missing"), 1); !errors.Is(err, errDD) {
		t.Fatalf("dd into a missing dir: %v, want errDD", err)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.records != defaultRecords || o.e2eDuration != defaultE2EDuration || o.partitions != 6 || o.recordSize != 1024 {
		t.Fatalf("defaults: %+v", o)
	}
	if got := o.targets(); len(got) != 3 || got[0] != targetSluice || got[1] != targetKfake || got[2] != targetNull {
		t.Fatalf("targets = %v", got)
	}
	o, err = parseFlags([]string{"-records", "10", "-e2e-duration", "1s", "-only", "kfake"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.records != 10 || o.e2eDuration != time.Second || len(o.targets()) != 1 || o.targets()[0] != targetKfake {
		t.Fatalf("parsed: %+v", o)
	}
	if o.modeRecords != defaultModeRecords || o.txnRecords != defaultTxnRecords || o.profileProduceOnly {
		t.Fatalf("mode defaults: %+v", o)
	}
	if o, err := parseFlags([]string{"-profile-phase", "produce", "-txn-records", "7"}, io.Discard); err != nil || !o.profileProduceOnly || o.txnRecords != 7 {
		t.Fatalf("-profile-phase produce: %v %+v", err, o)
	}
	for _, args := range [][]string{
		{"-records", "0"},
		{"-mode-records", "0"},
		{"-txn-records", "-1"},
		{"-profile-phase", "consume"},
		{"-only", "kafka"},
		{"-e2e-duration", "0s"},
		{"-e2e-rate", "-1"},
		{"-record-size", "4"},
		{"-cpuprofile", "x.prof", "-only", "kfake"},
		{"-warmup", "-1s"},
		{"extra"},
		{"-nosuchflag"},
	} {
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want errUsage", args, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

// results builds measured results with the given figures, in MiB/s and
// latency.
func results(sProd, kProd, sCons, kCons float64, sP99, kP99 time.Duration) map[string]*targetResult {
	mk := func(name string, prod, cons float64, p99 time.Duration) *targetResult {
		return &targetResult{
			name:    name,
			produce: &perf.ProduceResult{MBPerSec: prod, RecordsPerSec: prod * 1024},
			consume: &perf.ConsumeResult{MBPerSec: cons, RecordsPerSec: cons * 1024},
			idem:    &perf.ProduceResult{MBPerSec: prod / 2},
			txn:     &perf.ProduceResult{MBPerSec: prod / 4},
			e2e:     &perf.E2EResult{Latency: perf.Latency{P50: p99 / 4, P99: p99}},
		}
	}
	return map[string]*targetResult{
		targetSluice: mk(targetSluice, sProd, sCons, sP99),
		targetKfake:  mk(targetKfake, kProd, kCons, kP99),
	}
}

func rowByMetric(t *testing.T, rs []row, metric string) row {
	t.Helper()
	for _, r := range rs {
		if r.metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q in %+v", metric, rs)
	return row{}
}

func TestRowsVerdicts(t *testing.T) {
	disk := &diskResult{Bytes: 600 << 20, Elapsed: time.Second} // 600 MiB/s
	rs := rows(results(300, 100, 250, 100, 2*time.Millisecond, 4*time.Millisecond), disk, 500)
	if len(rs) != 9 {
		t.Fatalf("%d rows, want 9", len(rs))
	}
	for metric, want := range map[string]row{
		rowPlainMB:     {sluice: "300.0", kfake: "100.0", ratio: "3.00x", met: "yes"},
		rowPlainRecs:   {sluice: "307200", kfake: "102400", ratio: "3.00x", met: "yes"},
		"consume MB/s": {sluice: "250.0", kfake: "100.0", ratio: "2.50x", met: "no"},
		// The idempotent and transactional rows compare but carry no
		// target.
		rowIdemMB:     {sluice: "150.0", kfake: "50.0", ratio: "3.00x", met: na},
		rowTxnMB(500): {sluice: "75.0", kfake: "25.0", ratio: "3.00x", met: na},
		"e2e p50":     {sluice: "0.50 ms", kfake: "1.00 ms", ratio: "0.50x", met: na},
		"e2e p99":     {sluice: "2.00 ms", kfake: "4.00 ms", ratio: "0.50x", met: "yes"},
		// The disk share is the plain produce's.
		"plain produce / disk fdatasync bandwidth": {sluice: "50%", kfake: "17%", ratio: na, met: "yes"},
	} {
		got := rowByMetric(t, rs, metric)
		got.metric, got.target = "", ""
		if got != want {
			t.Errorf("%s: got %+v, want %+v", metric, got, want)
		}
	}

	rs = rows(results(299, 100, 400, 100, 2100*time.Microsecond, 4*time.Millisecond), disk, 500)
	for metric, want := range map[string]string{
		rowPlainMB:          "no",
		"consume records/s": "yes",
		"e2e p99":           "no",
		"plain produce / disk fdatasync bandwidth": "no",
	} {
		if got := rowByMetric(t, rs, metric).met; got != want {
			t.Errorf("%s: met = %q, want %q", metric, got, want)
		}
	}
}

func TestRowsMissing(t *testing.T) {
	// Only Sluice measured, its consume failed, no disk figure: every
	// comparison is unknown rather than a guess.
	res := results(300, 100, 250, 100, time.Millisecond, time.Millisecond)
	delete(res, targetKfake)
	res[targetSluice].consume = nil
	rs := rows(res, nil, 10)
	for _, r := range rs {
		if r.met != na || r.ratio != na {
			t.Errorf("%s: met %q ratio %q, want %s", r.metric, r.met, r.ratio, na)
		}
		if r.kfake != na {
			t.Errorf("%s: kfake %q, want %s", r.metric, r.kfake, na)
		}
	}
	if got := rowByMetric(t, rs, "consume MB/s").sluice; got != na {
		t.Errorf("failed consume shows %q", got)
	}
	if got := rowByMetric(t, rs, rowPlainMB).sluice; got != "300.0" {
		t.Errorf("produce shows %q", got)
	}
}

func TestRowsTxnUnsupported(t *testing.T) {
	// kfake skipped the transactional phase and Sluice's failed: the
	// cells say which is which.
	res := results(300, 100, 250, 100, time.Millisecond, time.Millisecond)
	res[targetKfake].txn, res[targetKfake].noTxn = nil, true
	res[targetSluice].txn = nil
	r := rowByMetric(t, rows(res, nil, 10), rowTxnMB(10))
	if r.sluice != na || r.kfake != unsupported || r.ratio != na || r.met != na {
		t.Errorf("transactional row %+v", r)
	}
}

func TestWriteReport(t *testing.T) {
	res := results(300, 100, 250, 100, time.Millisecond, 3*time.Millisecond)
	res[targetKfake].errs = []error{errors.New("phase failed: kfake consume: boom")}
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	e := env{goVersion: "go1.26.8", numCPU: 2, gomaxprocs: 2, cpuModel: "Test CPU", date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	writeReport(&buf, e, o, &diskResult{Bytes: 1 << 30, Elapsed: 2 * time.Second}, res)
	out := buf.String()
	for _, want := range []string{
		"2026-01-02 03:04 UTC",
		"Go 1.26.8, 2 CPUs (GOMAXPROCS 2), Test CPU",
		"disk: 512.0 MiB/s",
		"| metric | Sluice | kfake | Sluice/kfake | target | met? |",
		"| produce MB/s (plain, not idempotent) | 300.0 | 100.0 | 3.00x | ≥ 3x kfake | yes |",
		"| produce MB/s (idempotent) | 150.0 | 50.0 | 3.00x | — | — |",
		"| produce MB/s (transactional, 10000 records per txn) | 75.0 | 25.0 | 3.00x | — | — |",
		"| e2e p99 | 1.00 ms | 3.00 ms | 0.33x | ≤ 0.5x kfake | yes |",
		"| plain produce / disk fdatasync bandwidth | 59% | 20% | — | ≥ 50% (Sluice) | yes |",
		"1000000 records each, same settings; a transaction commits every 10000 records",
		"- phase failed: kfake consume: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := parseCPUModel(info, "amd64"); got != "AMD EPYC 7B13" {
		t.Fatalf("got %q", got)
	}
	if got := parseCPUModel("processor\t: 0\nBogoMIPS\t: 50.00\n", "arm64"); got != "arm64" {
		t.Fatalf("fallback: got %q", got)
	}
}

// smallRun is a run small enough for a unit test: a few thousand records
// and a one-second latency phase.
func smallRun(dir string, extra ...string) []string {
	return append([]string{
		"-records", "3000", "-mode-records", "2000", "-txn-records", "500", "-e2e-duration", "1s", "-e2e-rate", "1000",
		"-warmup", "200ms", "-disk-mib", "1", "-dir", dir, "-phase-timeout", "30s",
	}, extra...)
}

// TestRunKfake runs the whole program against kfake alone and checks the
// table shows kfake's figures and no verdicts (there is nothing to
// compare with).
func TestRunKfake(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := mainErr(context.Background(), smallRun(t.TempDir(), "-only", "kfake"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	rs := tableRows(t, stdout.String())
	for _, metric := range []string{rowPlainMB, rowPlainRecs, "consume MB/s", "consume records/s", rowIdemMB, "e2e p50", "e2e p99"} {
		r, ok := rs[metric]
		if !ok {
			t.Fatalf("no %q row:\n%s", metric, stdout.String())
		}
		if r[0] != na || r[1] == na || r[4] != na {
			t.Errorf("%s: cells %q, want Sluice and met? empty, kfake measured", metric, r)
		}
	}
	if r := rs[rowTxnMB(500)]; r[0] != na || r[1] != unsupported {
		t.Errorf("transactional row: cells %q, want kfake unsupported", r)
	}
	if !strings.Contains(stderr.String(), "kfake: stopping") {
		t.Errorf("progress lacks the stop:\n%s", stderr.String())
	}
}

// TestRunSluiceProfile runs the whole program against Sluice alone with a
// CPU profile and checks the data dir is removed afterwards.
func TestRunSluiceProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	var stdout, stderr bytes.Buffer
	err := mainErr(context.Background(), smallRun(dir, "-only", "sluice", "-cpuprofile", prof), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	rs := tableRows(t, stdout.String())
	if r := rs["consume records/s"]; r[0] == na || r[1] != na {
		t.Errorf("consume records/s: cells %q", r)
	}
	for _, metric := range []string{rowIdemMB, rowTxnMB(500)} {
		if r := rs[metric]; r[0] == na || r[0] == unsupported || r[1] != na {
			t.Errorf("%s: cells %q, want a Sluice figure", metric, r)
		}
	}
	if r := rs["plain produce / disk fdatasync bandwidth"]; r[0] == na || r[4] == na {
		t.Errorf("disk row: cells %q, want a Sluice share and a verdict", r)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("CPU profile: %v, %v", fi, err)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind in the data dir's parent: %v", left)
	}
}

// TestRunFails checks that a failing phase makes the run fail: with a
// -dir that does not exist, neither dd nor Sluice can start.
func TestRunFails(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	var stdout, stderr bytes.Buffer
	err := mainErr(context.Background(), smallRun(missing, "-only", "sluice"), &stdout, &stderr)
	if !errors.Is(err, errPhase) || !errors.Is(err, errDD) || !errors.Is(err, errStart) {
		t.Fatalf("err = %v, want errPhase wrapping errDD and errStart", err)
	}
	if !strings.Contains(stdout.String(), "Failed phases") {
		t.Errorf("report does not list the failures:\n%s", stdout.String())
	}
}

// tableRows maps each table row's metric to its other five cells.
func tableRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	rs := map[string][]string{}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		// 6 cells in the main table, 4 in the client's-ceiling one.
		if len(cells) != 6 && len(cells) != 4 {
			t.Fatalf("row with %d cells: %q", len(cells), line)
		}
		rs[cells[0]] = cells[1:]
	}
	return rs
}

// TestCeilingRows checks the client's-ceiling table: null/kfake bounds
// every Sluice/kfake ratio, Sluice/null says how close Sluice is to it.
func TestCeilingRows(t *testing.T) {
	res := results(300, 100, 250, 100, time.Millisecond, time.Millisecond)
	if cs := ceilingRows(res); cs != nil {
		t.Fatalf("ceiling rows without a null measurement: %+v", cs)
	}
	res[targetNull] = &targetResult{name: targetNull, produce: &perf.ProduceResult{MBPerSec: 400}}
	cs := ceilingRows(res)
	want := []ceilingRow{
		{mode: "plain (not idempotent)", null: "400.0", nullPerKfake: "4.00x", sluicePerNull: "0.75x"},
		// The null broker's idempotent phase failed: nothing to compare.
		{mode: "idempotent", null: na, nullPerKfake: na, sluicePerNull: na},
	}
	if len(cs) != len(want) || cs[0] != want[0] || cs[1] != want[1] {
		t.Fatalf("ceiling rows %+v, want %+v", cs, want)
	}
}

// TestRunNull runs the whole program against the null broker alone: the
// produce phases run and fill the ceiling table, the phases that read
// back are not run and the main table shows nothing for them.
func TestRunNull(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := mainErr(context.Background(), smallRun(t.TempDir(), "-only", "null"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	rs := tableRows(t, stdout.String())
	for _, mode := range []string{"plain (not idempotent)", "idempotent"} {
		r, ok := rs[mode]
		if !ok || r[0] == na {
			t.Fatalf("ceiling row %q: %q\n%s", mode, r, stdout.String())
		}
		if v, err := strconv.ParseFloat(r[0], 64); err != nil || v <= 0 {
			t.Errorf("ceiling row %q: null MB/s %q", mode, r[0])
		}
	}
	for _, metric := range []string{"consume MB/s", "e2e p99", rowTxnMB(500)} {
		if r := rs[metric]; r[0] != na || r[1] != na {
			t.Errorf("%s: cells %q, want nothing measured", metric, r)
		}
	}
	if strings.Contains(stderr.String(), "consume") {
		t.Errorf("the null broker ran a consume phase:\n%s", stderr.String())
	}
}

// TestDropTopic checks on both brokers that the topic of a finished phase
// is really gone, so the next phase starts on an empty broker.
func TestDropTopic(t *testing.T) {
	for _, name := range []string{targetSluice, targetKfake} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b, err := startTarget(ctx, name, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := b.stop(); err != nil {
					t.Error(err)
				}
			}()
			brokers := []string{b.addr}
			if _, err := perf.Produce(ctx, perf.ProduceConfig{Brokers: brokers, Topic: "drop-me", NumRecords: 100, Partitions: 2}); err != nil {
				t.Fatal(err)
			}
			if err := dropTopic(ctx, brokers, "drop-me"); err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			topics, err := kadm.NewClient(cl).ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if topics.Has("drop-me") {
				t.Fatalf("topic still listed: %v", topics.Names())
			}
			if err := dropTopic(ctx, brokers, "drop-me"); err == nil {
				t.Fatal("deleting a missing topic succeeded")
			}
		})
	}
}
