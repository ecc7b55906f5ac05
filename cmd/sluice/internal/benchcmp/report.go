package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Targets from the performance issue: Sluice must produce and consume at
// least minSpeedup times as fast as kfake, keep its p99 end-to-end
// latency at most maxP99Ratio of kfake's, and produce at least
// minDiskShare of what the disk takes with fdatasync.
const (
	minSpeedup   = 3.0
	maxP99Ratio  = 0.5
	minDiskShare = 0.5
)

// na fills a cell that has no value: a broker not measured, a phase that
// failed, a row with no target.
const na = "—"

// row is one line of the table.
type row struct {
	metric, sluice, kfake, ratio, target, met string
}

// verdict is the met? cell: yes/no when both figures exist, na otherwise.
func verdict(ok, known bool) string {
	switch {
	case !known:
		return na
	case ok:
		return "yes"
	default:
		return "no"
	}
}

// metric extracts one figure from a broker's results; ok is false when
// the broker or phase was not measured.
type metric func(*targetResult) (v float64, ok bool)

func produceMB(r *targetResult) (float64, bool) {
	if r == nil || r.produce == nil {
		return 0, false
	}
	return r.produce.MBPerSec, true
}

func produceRecs(r *targetResult) (float64, bool) {
	if r == nil || r.produce == nil {
		return 0, false
	}
	return r.produce.RecordsPerSec, true
}

func idemMB(r *targetResult) (float64, bool) {
	if r == nil || r.idem == nil {
		return 0, false
	}
	return r.idem.MBPerSec, true
}

func txnMB(r *targetResult) (float64, bool) {
	if r == nil || r.txn == nil {
		return 0, false
	}
	return r.txn.MBPerSec, true
}

func consumeMB(r *targetResult) (float64, bool) {
	if r == nil || r.consume == nil {
		return 0, false
	}
	return r.consume.MBPerSec, true
}

func consumeRecs(r *targetResult) (float64, bool) {
	if r == nil || r.consume == nil {
		return 0, false
	}
	return r.consume.RecordsPerSec, true
}

func e2eP50(r *targetResult) (float64, bool) {
	if r == nil || r.e2e == nil {
		return 0, false
	}
	return float64(r.e2e.Latency.P50), true
}

func e2eP99(r *targetResult) (float64, bool) {
	if r == nil || r.e2e == nil {
		return 0, false
	}
	return float64(r.e2e.Latency.P99), true
}

// unsupported fills the cell of a phase the broker cannot run.
const unsupported = "unsupported"

// Row names of the produce modes. The targets are on the plain rows: the
// performance issue's produce target is about plain produce.
const (
	rowPlainMB   = "produce MB/s (plain, not idempotent)"
	rowPlainRecs = "produce records/s (plain, not idempotent)"
	rowIdemMB    = "produce MB/s (idempotent)"
)

// rowTxnMB names the transactional row, which says how many records go in
// one transaction.
func rowTxnMB(txnRecords int64) string {
	return fmt.Sprintf("produce MB/s (transactional, %d records per txn)", txnRecords)
}

// rows computes the table from the results by broker name, the disk
// measurement (nil when not measured) and the records per transaction of
// the transactional phase.
func rows(results map[string]*targetResult, disk *diskResult, txnRecords int64) []row {
	s, k := results[targetSluice], results[targetKfake]
	num := func(f string) func(float64) string { return func(v float64) string { return fmt.Sprintf(f, v) } }
	ms := func(v float64) string { return fmt.Sprintf("%.2f ms", time.Duration(v).Seconds()*1000) }

	// compare builds a row whose target is a bound on Sluice/kfake.
	compare := func(name string, m metric, format func(float64) string, target string, ok func(ratio float64) bool) row {
		r := row{metric: name, sluice: na, kfake: na, ratio: na, target: target, met: na}
		sv, sok := m(s)
		kv, kok := m(k)
		if sok {
			r.sluice = format(sv)
		}
		if kok {
			r.kfake = format(kv)
		}
		if sok && kok && kv > 0 {
			ratio := sv / kv
			r.ratio = fmt.Sprintf("%.2fx", ratio)
			if ok != nil {
				r.met = verdict(ok(ratio), true)
			}
		}
		if ok == nil {
			r.target = na
		}
		return r
	}
	atLeast := func(min float64) func(float64) bool { return func(r float64) bool { return r >= min } }
	atMost := func(max float64) func(float64) bool { return func(r float64) bool { return r <= max } }
	speedup := fmt.Sprintf("≥ %gx kfake", minSpeedup)

	txn := compare(rowTxnMB(txnRecords), txnMB, num("%.1f"), "", nil)
	if s != nil && s.noTxn {
		txn.sluice = unsupported
	}
	if k != nil && k.noTxn {
		txn.kfake = unsupported
	}
	out := []row{
		compare(rowPlainMB, produceMB, num("%.1f"), speedup, atLeast(minSpeedup)),
		compare(rowPlainRecs, produceRecs, num("%.0f"), speedup, atLeast(minSpeedup)),
		compare("consume MB/s", consumeMB, num("%.1f"), speedup, atLeast(minSpeedup)),
		compare("consume records/s", consumeRecs, num("%.0f"), speedup, atLeast(minSpeedup)),
		compare(rowIdemMB, idemMB, num("%.1f"), "", nil),
		txn,
		compare("e2e p50", e2eP50, ms, "", nil),
		compare("e2e p99", e2eP99, ms, fmt.Sprintf("≤ %gx kfake", maxP99Ratio), atMost(maxP99Ratio)),
	}

	// The disk row's target applies to Sluice alone: kfake keeps records
	// in memory, its share is shown only for scale.
	d := row{metric: "plain produce / disk fdatasync bandwidth", sluice: na, kfake: na, ratio: na,
		target: fmt.Sprintf("≥ %.0f%% (Sluice)", minDiskShare*100), met: na}
	if disk != nil && disk.MiBPerSec() > 0 {
		bw := disk.MiBPerSec()
		if v, ok := produceMB(s); ok {
			d.sluice = fmt.Sprintf("%.0f%%", v/bw*100)
			d.met = verdict(v/bw >= minDiskShare, true)
		}
		if v, ok := produceMB(k); ok {
			d.kfake = fmt.Sprintf("%.0f%%", v/bw*100)
		}
	}
	return append(out, d)
}

// writeReport prints the environment, the settings and the table in
// Markdown, ready to paste into the README.
func writeReport(w io.Writer, e env, o *options, disk *diskResult, results map[string]*targetResult) {
	fmt.Fprintf(w, "## Sluice vs kfake (%s)\n\n", e.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Go %s, %d CPUs (GOMAXPROCS %d), %s\n", strings.TrimPrefix(e.goVersion, "go"), e.numCPU, e.gomaxprocs, e.cpuModel)
	if disk != nil {
		fmt.Fprintf(w, "- disk: %.1f MiB/s fdatasync'd sequential writes (dd bs=1M count=%d conv=fdatasync)\n", disk.MiBPerSec(), o.diskMiB)
	} else {
		fmt.Fprintf(w, "- disk: not measured\n")
	}
	fmt.Fprintf(w, "- both brokers in process, one after the other, single node, same franz-go client settings (package perf)\n")
	fmt.Fprintf(w, "- plain produce/consume: %d records of %d B, %d partitions, acks=%s, not idempotent, compression=%s, linger %s; consume reads them back directly (no group)\n",
		o.records, o.recordSize, o.partitions, acks, codec, produceLinger)
	fmt.Fprintf(w, "- idempotent and transactional produce: %d records each, same settings; a transaction commits every %d records (Flush + EndTransaction)\n",
		o.modeRecords, o.txnRecords)
	fmt.Fprintf(w, "- e2e: %d records/s offered for %s, linger 0, latency from scheduled send to receipt\n", o.e2eRate, o.e2eDuration)
	fmt.Fprintf(w, "- MB/s are MiB/s; consume rates include client startup\n\n")

	fmt.Fprintln(w, "| metric | Sluice | kfake | Sluice/kfake | target | met? |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range rows(results, disk, o.txnRecords) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.metric, r.sluice, r.kfake, r.ratio, r.target, r.met)
	}
	if cs := ceilingRows(results); cs != nil {
		fmt.Fprintf(w, "\nThe client's ceiling: the same producer against the null broker, which acknowledges every\n")
		fmt.Fprintf(w, "produce request at once and keeps nothing. No broker measured in this process can exceed it,\n")
		fmt.Fprintf(w, "so no Sluice/kfake ratio can exceed null/kfake.\n\n")
		fmt.Fprintln(w, "| produce mode | null MB/s | null/kfake | Sluice/null |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		for _, c := range cs {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.mode, c.null, c.nullPerKfake, c.sluicePerNull)
		}
	}
	if r := results[targetKfake]; r != nil && r.noTxn {
		fmt.Fprintf(w, "\n%s: kfake at this version does not serve transactions (InitProducerId with a transactional id).\n", unsupported)
	}
	var failed []string
	for _, name := range []string{targetSluice, targetKfake, targetNull} {
		if r := results[name]; r != nil {
			for _, err := range r.errs {
				failed = append(failed, err.Error())
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed phases (%s means not measured):\n\n", na)
		for _, f := range failed {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
}

// ceilingRow is one line of the client's-ceiling table.
type ceilingRow struct {
	mode, null, nullPerKfake, sluicePerNull string
}

// ceilingRows compares the produce rates with the null broker's, or
// returns nil when the null broker was not measured.
func ceilingRows(results map[string]*targetResult) []ceilingRow {
	n := results[targetNull]
	if n == nil {
		return nil
	}
	ratio := func(a, b float64, aok, bok bool) string {
		if !aok || !bok || b <= 0 {
			return na
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	var out []ceilingRow
	for _, m := range []struct {
		mode string
		get  metric
	}{{"plain (not idempotent)", produceMB}, {"idempotent", idemMB}} {
		nv, nok := m.get(n)
		kv, kok := m.get(results[targetKfake])
		sv, sok := m.get(results[targetSluice])
		c := ceilingRow{mode: m.mode, null: na, nullPerKfake: ratio(nv, kv, nok, kok), sluicePerNull: ratio(sv, nv, sok, nok)}
		if nok {
			c.null = fmt.Sprintf("%.1f", nv)
		}
		out = append(out, c)
	}
	return out
}

// parseCPUModel returns the first "model name" of a /proc/cpuinfo text,
// or fallback when there is none (arm64 kernels often omit it).
func parseCPUModel(cpuinfo, fallback string) string {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return fallback
}
