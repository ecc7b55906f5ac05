package perf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceModes produces plain, idempotent and transactional records to
// Sluice and to kfake and checks from the broker's side that each mode
// really ran: a transactional run leaves a commit marker per transaction
// and partition (so the end offsets exceed the record count), the others
// do not; on Sluice, DescribeProducers lists the idempotent producer and
// not the plain one.
func TestProduceModes(t *testing.T) {
	for name, start := range map[string]func(*testing.T) string{"sluice": startBroker, "kfake": startKfake} {
		t.Run(name, func(t *testing.T) {
			addr := start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)

			const n = 1000
			for _, tc := range []struct {
				topic   string
				cfg     ProduceConfig
				markers bool
				idem    bool
			}{
				{"plain", ProduceConfig{Idempotent: IdempotenceOff}, false, false},
				{"idem", ProduceConfig{Idempotent: IdempotenceOn}, false, true},
				{"txn", ProduceConfig{TransactionalID: "perf-txn", TxnRecords: 300}, true, true},
			} {
				if tc.markers && name == "kfake" {
					continue // kfake at this version answers transactional InitProducerId with UNKNOWN_SERVER_ERROR
				}
				cfg := tc.cfg
				cfg.Brokers, cfg.Topic, cfg.NumRecords, cfg.RecordSize, cfg.Partitions = []string{addr}, tc.topic, n, 16, 2
				res, err := Produce(ctx, cfg)
				if err != nil || res.Records != n {
					t.Fatalf("%s: %v, %+v", tc.topic, err, res)
				}
				ends, err := adm.ListEndOffsets(ctx, tc.topic)
				if err != nil {
					t.Fatal(err)
				}
				var total int64
				ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
				// 4 transactions, each committed in every partition it
				// wrote to: between 4 and 8 markers.
				if got := total > n; got != tc.markers || (tc.markers && (total < n+4 || total > n+8)) {
					t.Errorf("%s: end offsets sum to %d for %d records", tc.topic, total, n)
				}
				if name != "sluice" {
					continue // kfake does not serve DescribeProducers
				}
				ps, err := adm.DescribeProducers(ctx, kadm.TopicsSet{tc.topic: {0: {}, 1: {}}})
				if err != nil {
					t.Fatal(err)
				}
				var producers int
				ps.EachProducer(func(kadm.DescribedProducer) { producers++ })
				if got := producers > 0; got != tc.idem {
					t.Errorf("%s: %d producers described", tc.topic, producers)
				}
			}
		})
	}
}

func TestProduceModeConfig(t *testing.T) {
	ctx := context.Background()
	base := func() ProduceConfig {
		return ProduceConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", NumRecords: 1}
	}
	for name, mod := range map[string]func(*ProduceConfig){
		"idempotent acks=1":  func(c *ProduceConfig) { c.Idempotent, c.Acks = IdempotenceOn, "1" },
		"transactional acks": func(c *ProduceConfig) { c.TransactionalID, c.Acks = "x", "0" },
		"transactional off":  func(c *ProduceConfig) { c.TransactionalID, c.Idempotent = "x", IdempotenceOff },
		"txn records alone":  func(c *ProduceConfig) { c.TxnRecords = 5 },
		"negative txn":       func(c *ProduceConfig) { c.TransactionalID, c.TxnRecords = "x", -1 },
		"unknown mode":       func(c *ProduceConfig) { c.Idempotent = 7 },
	} {
		c := base()
		mod(&c)
		if _, err := Produce(ctx, c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if got := (IdempotenceOff).String() + IdempotenceOn.String() + IdempotenceAuto.String(); got != "offonauto" {
		t.Errorf("names %q", got)
	}
}
