package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// openTxn starts a transaction of id with one record in topic and leaves
// it open; the client is closed by the test's cleanup.
func openTxn(t *testing.T, addr, id, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func TestTransactionsListDescribe(t *testing.T) {
	addr := startBroker(t)
	openTxn(t, addr, "cli-open", "cli-txn")

	out := mustRun(t, addr, "", "transactions", "list")
	if !strings.Contains(out, "TRANSACTIONAL-ID") || !strings.Contains(out, "cli-open") || !strings.Contains(out, "Ongoing") {
		t.Fatalf("list:\n%s", out)
	}
	if out := mustRun(t, addr, "", "transactions", "list", "--state", "completecommit"); strings.Contains(out, "cli-open") {
		t.Fatalf("list --state CompleteCommit shows an ongoing txn:\n%s", out)
	}
	var listed []listedTxn
	if err := json.Unmarshal([]byte(mustRun(t, addr, "", "transactions", "list", "-o", "json", "--state", "Ongoing")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].TransactionalID != "cli-open" || listed[0].ProducerID < 0 {
		t.Fatalf("list json: %+v", listed)
	}

	var described []describedTxn
	if err := json.Unmarshal([]byte(mustRun(t, addr, "", "transactions", "describe", "cli-open", "-o", "json")), &described); err != nil {
		t.Fatal(err)
	}
	d := described[0]
	if d.State != "Ongoing" || d.Start == nil || len(d.Partitions["cli-txn"]) != 1 || d.ProducerID != listed[0].ProducerID {
		t.Fatalf("describe json: %+v", d)
	}
	if out := mustRun(t, addr, "", "transactions", "describe", "cli-open"); !strings.Contains(out, "cli-txn-0") {
		t.Fatalf("describe:\n%s", out)
	}
	if _, _, err := run(t, addr, "", "transactions", "describe", "nope"); !errors.Is(err, ErrUnknownTransactionalID) {
		t.Fatalf("describe unknown: %v", err)
	}
	if _, _, err := run(t, addr, "", "transactions", "list", "--state", "bogus"); !errors.Is(err, ErrUsage) {
		t.Fatalf("bad state: %v", err)
	}
}
