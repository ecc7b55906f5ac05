package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPerfProduceModes runs sluice perf produce transactionally and checks
// the broker holds a commit marker per transaction and partition on top
// of the records; --idempotent with --acks 1 is refused.
func TestPerfProduceModes(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "perf", "produce", "--topic", "ptx", "--num-records", "1000", "--record-size", "16",
		"--partitions", "1", "--transactional-id", "cli-perf", "--transaction-records", "250")
	mustRun(t, addr, "", "perf", "produce", "--topic", "pplain", "--num-records", "1000", "--record-size", "16",
		"--partitions", "1", "--idempotent=false")

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "ptx", "pplain")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("ptx", 0); o.Offset != 1004 {
		t.Errorf("ptx end offset %d, want 1000 records + 4 commit markers", o.Offset)
	}
	if o, _ := ends.Lookup("pplain", 0); o.Offset != 1000 {
		t.Errorf("pplain end offset %d, want 1000", o.Offset)
	}

	_, _, err = run(t, addr, "", "perf", "produce", "--topic", "px", "--num-records", "10", "--acks", "1", "--idempotent")
	if err == nil || !strings.Contains(err.Error(), "acks=all") {
		t.Errorf("--idempotent --acks 1: %v", err)
	}
}
