package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/cmd/sluice/internal/perf"
)

func TestPerfCommands(t *testing.T) {
	addr := startBroker(t)
	out, errOut, err := run(t, addr, "", "perf", "produce", "--topic", "pt", "--num-records", "2000", "--record-size", "50",
		"--partitions", "2", "--reporting-interval", "1ms", "--compression", "zstd")
	if err != nil {
		t.Fatalf("perf produce: %v\n%s", err, errOut)
	}
	if !strings.HasPrefix(out, "2000 records sent,") || !strings.Contains(out, "99.9th") {
		t.Errorf("perf produce summary %q", out)
	}
	if !strings.Contains(errOut, "records sent") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	var cres perf.ConsumeResult
	out = mustRun(t, addr, "", "perf", "consume", "--topic", "pt", "-o", "json", "--timeout", "5s")
	if err := json.Unmarshal([]byte(out), &cres); err != nil || cres.Records != 2000 || cres.Bytes != 2000*50 {
		t.Errorf("perf consume json: %v %+v\n%s", err, cres, out)
	}

	var eres perf.E2EResult
	out = mustRun(t, addr, "", "perf", "e2e", "--topic", "pe", "--partitions", "1", "--rate", "1000", "--duration", "300ms", "--record-size", "16", "-o", "json")
	if err := json.Unmarshal([]byte(out), &eres); err != nil || eres.Sent != 300 || eres.Records != 300 {
		t.Errorf("perf e2e json: %v %+v\n%s", err, eres, out)
	}

	if _, _, err := run(t, addr, "", "perf", "produce"); err == nil || !strings.Contains(err.Error(), "topic") {
		t.Errorf("perf produce without --topic: %v", err)
	}
}
