package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// writePlan writes a reset-plan CSV into a fresh temporary directory and
// returns its path.
func writePlan(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGroupsResetExportAndFromFile(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "3")
	produceRange(t, addr, "orders", 3, 0, 15)
	g := []string{"groups", "reset-offsets", "--group", "billing"}
	mustRun(t, addr, "", append(g, "--topic", "orders", "--to-offset", "10", "--execute")...)
	mustRun(t, addr, "", append(g, "--topic", "orders:1", "--to-offset", "12", "--execute")...)

	// A dry-run export: Kafka's single-group CSV, exactly, and nothing
	// committed.
	out, errOut, err := run(t, addr, "", append(g, "--all-topics", "--shift-by", "-3", "--export")...)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	if want := "orders,0,7\norders,1,9\norders,2,7\n\n"; out != want {
		t.Fatalf("export:\n%q\nwant\n%q", out, want)
	}
	if !strings.Contains(errOut, "Dry run") {
		t.Errorf("export dry run stderr: %q", errOut)
	}
	if got, want := committed(t, addr, "billing", "orders"), map[int32]int64{0: 10, 1: 12, 2: 10}; !maps(got, want) {
		t.Fatalf("dry-run export committed %v, want %v", got, want)
	}
	plan := writePlan(t, out)

	// Move the group elsewhere so the round trip has something to undo.
	mustRun(t, addr, "", append(g, "--topic", "orders", "--to-earliest", "--execute")...)

	// From-file dry run: the plan's offsets, the current ones beside them,
	// nothing committed.
	dry := resetJSON(t, addr, "--group", "billing", "--from-file", plan)
	if dry.Executed || !maps(newOffsets(dry), map[int32]int64{0: 7, 1: 9, 2: 7}) {
		t.Errorf("from-file dry run: %+v", dry)
	}
	for _, r := range dry.Offsets {
		if r.Topic != "orders" || r.Current == nil || *r.Current != 0 {
			t.Errorf("from-file dry run row %+v, want topic orders, current 0", r)
		}
	}
	out = mustRun(t, addr, "", append(g, "--from-file", plan)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[2]), " ") != "billing orders 1 0 9" {
		t.Errorf("from-file dry-run table:\n%s", out)
	}
	if got := committed(t, addr, "billing", "orders"); !maps(got, map[int32]int64{0: 0, 1: 0, 2: 0}) {
		t.Fatalf("from-file dry run committed %v", got)
	}

	// --execute: describe shows exactly the exported offsets.
	mustRun(t, addr, "", append(g, "--from-file", plan, "--execute")...)
	if got, want := committed(t, addr, "billing", "orders"), map[int32]int64{0: 7, 1: 9, 2: 7}; !maps(got, want) {
		t.Errorf("after from-file --execute: committed %v, want %v", got, want)
	}

	// --export with --execute prints what it committed; a file naming one
	// partition resets only it; offsets outside the log are clamped as
	// --to-offset clamps them; stdin works as "-"; Kafka's multi-group form
	// is read for --group's lines only.
	out = mustRun(t, addr, "", append(g, "--from-file", writePlan(t, "orders,2,100\n"), "--execute", "--export")...)
	if out != "orders,2,15\n\n" {
		t.Errorf("export of an executed from-file: %q", out)
	}
	if got, want := committed(t, addr, "billing", "orders"), map[int32]int64{0: 7, 1: 9, 2: 15}; !maps(got, want) {
		t.Errorf("after a one-partition file: committed %v, want %v", got, want)
	}
	mustRun(t, addr, "orders,0,1\r\norders,1,2\r\n", append(g, "--from-file", "-", "--execute")...)
	if got, want := committed(t, addr, "billing", "orders"), map[int32]int64{0: 1, 1: 2, 2: 15}; !maps(got, want) {
		t.Errorf("after a CRLF file on stdin: committed %v, want %v", got, want)
	}
	multi := writePlan(t, "other,orders,0,5\nbilling,orders,0,4\nother,orders,1,5\n")
	if p := newOffsets(resetJSON(t, addr, "--group", "billing", "--from-file", multi, "--execute")); !maps(p, map[int32]int64{0: 4}) {
		t.Errorf("multi-group file: new offsets %v, want only partition 0 at 4", p)
	}
	if _, _, err := run(t, addr, "", "groups", "reset-offsets", "--group", "nobody", "--from-file", multi); !errors.Is(err, ErrBadResetFile) || !strings.Contains(err.Error(), "no line for group") {
		t.Errorf("multi-group file without --group's lines: %v", err)
	}
}

func TestGroupsResetFromBadFile(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "2")
	produceRange(t, addr, "orders", 2, 0, 5)
	g := []string{"groups", "reset-offsets", "--group", "billing"}
	mustRun(t, addr, "", append(g, "--topic", "orders", "--to-offset", "3", "--execute")...)
	want := map[int32]int64{0: 3, 1: 3}

	bad := []struct {
		name, file string
		line       string // the text naming the bad line
		also       error  // another error it must wrap
	}{
		{"wrong column count", "orders,0,1\norders,1\n", "line 2: 2 columns", nil},
		{"wrong column count on line 1", "orders 0 1\norders,1,1\n", "line 1: 1 columns", nil},
		{"non-numeric offset", "orders,0,1\n\norders,1,x\n", "line 3: offset \"x\"", nil},
		{"negative offset", "orders,0,-1\norders,1,1\n", "line 1: offset \"-1\"", nil},
		{"non-numeric partition", "orders,zero,1\n", "line 1: partition \"zero\"", nil},
		{"duplicate partition", "orders,0,1\norders,1,1\norders,0,2\n", "line 3: partition orders-0 is also on line 1", nil},
		{"unknown topic", "orders,0,1\nmissing,0,1\n", "line 2: topic \"missing\" does not exist", kerr.UnknownTopicOrPartition},
		{"partition that does not exist", "orders,0,1\norders,7,1\n", "line 2: topic \"orders\" has partitions 0-1, not 7", nil},
		{"broken quote", "orders,0,1\n\"orders,1,1\n", "line 2: not CSV", nil},
		{"empty file", "\n", "lists no offsets", nil},
	}
	for _, b := range bad {
		_, _, err := run(t, addr, "", append(g, "--from-file", writePlan(t, b.file), "--execute")...)
		if !errors.Is(err, ErrBadResetFile) || !errors.Is(err, ErrUsage) || err == nil || !strings.Contains(err.Error(), b.line) {
			t.Errorf("%s: %v, want ErrBadResetFile naming %q", b.name, err, b.line)
		}
		if b.also != nil && !errors.Is(err, b.also) {
			t.Errorf("%s: %v, want it to wrap %v", b.name, err, b.also)
		}
		if got := committed(t, addr, "billing", "orders"); !maps(got, want) {
			t.Fatalf("%s: committed %v, want nothing reset (%v)", b.name, got, want)
		}
	}
	// Every bad line is reported, not only the first.
	_, _, err := run(t, addr, "", append(g, "--from-file", writePlan(t, "orders,0\norders,1,x\n"), "--execute")...)
	if err == nil || !strings.Contains(err.Error(), "line 1:") || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("two bad lines: %v, want both named", err)
	}
	if _, _, err := run(t, addr, "", append(g, "--from-file", filepath.Join(t.TempDir(), "absent.csv"))...); !errors.Is(err, ErrBadResetFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	plan := writePlan(t, "orders,0,1\n")
	usage := [][]string{
		{"--from-file", plan, "--topic", "orders"},
		{"--from-file", plan, "--all-topics"},
		{"--from-file", plan, "--to-earliest"},
		{"--topic", "orders", "--to-earliest", "--export", "-o", "json"},
	}
	for _, args := range usage {
		if _, _, err := run(t, addr, "", append(g, args...)...); !errors.Is(err, ErrUsage) {
			t.Errorf("%v: %v, want ErrUsage", args, err)
		}
	}
	if got := committed(t, addr, "billing", "orders"); !maps(got, want) {
		t.Fatalf("after the usage errors: committed %v, want %v", got, want)
	}
}

func TestGroupsResetFromFileActiveGroup(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "1")
	produceRange(t, addr, "orders", 1, 0, 5)
	cl := consumeAndCommit(t, addr, "billing", "orders", 5)
	defer cl.Close()
	plan := writePlan(t, "orders,0,1\n")
	for _, extra := range [][]string{nil, {"--execute"}} {
		_, _, err := run(t, addr, "", append([]string{"groups", "reset-offsets", "--group", "billing", "--from-file", plan}, extra...)...)
		if !errors.Is(err, ErrGroupActive) {
			t.Errorf("from-file %v on an active group: %v, want ErrGroupActive", extra, err)
		}
	}
	if got := committed(t, addr, "billing", "orders"); !maps(got, map[int32]int64{0: 5}) {
		t.Errorf("active group: committed %v, want 5 untouched", got)
	}
}
