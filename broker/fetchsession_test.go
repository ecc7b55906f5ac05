package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// TestFetchSessionEpochs checks the answers to KIP-227 session fields,
// which the broker declines (it keeps no sessions) the way Kafka's
// FetchManager does: epoch 0 (initial) or -1 (final) is a full fetch and
// is served whatever session id comes with it (kafka-go's Client.Fetch
// sends id -1, epoch -1); any other epoch asks for an incremental fetch of
// a session this broker cannot have.
func TestFetchSessionEpochs(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "sessions", 1, nil)
	produceN(t, cl, "sessions", 5)

	for _, tc := range []struct {
		id, epoch int32
		want      error // top-level error; nil means the records are served
	}{
		{0, -1, nil},
		{-1, -1, nil},
		{0, 0, nil},
		{12345, 0, nil},
		{12345, -1, nil},
		{12345, 1, kerr.FetchSessionIDNotFound},
		{0, 3, kerr.FetchSessionIDNotFound},
		{0, -2, kerr.FetchSessionIDNotFound},
	} {
		for _, version := range []int16{7, 11, 12} {
			req := kmsg.NewPtrFetchRequest()
			req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, 100, 1, 1<<20
			req.SessionID, req.SessionEpoch = tc.id, tc.epoch
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "sessions"
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1<<20, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse)

			err := kerr.ErrorForCode(resp.ErrorCode)
			if err != tc.want {
				t.Errorf("v%d session %d epoch %d: error %v, want %v", version, tc.id, tc.epoch, err, tc.want)
				continue
			}
			if resp.SessionID != 0 {
				t.Errorf("v%d session %d epoch %d: answered session id %d, want 0 (no session kept)", version, tc.id, tc.epoch, resp.SessionID)
			}
			if tc.want != nil {
				if len(resp.Topics) != 0 {
					t.Errorf("v%d session %d epoch %d: refused fetch carries %d topics", version, tc.id, tc.epoch, len(resp.Topics))
				}
				continue
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Errorf("v%d session %d epoch %d: answer without the partition: %+v", version, tc.id, tc.epoch, resp.Topics)
				continue
			}
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.HighWatermark != 5 || len(p.RecordBatches) == 0 {
				t.Errorf("v%d session %d epoch %d: partition error %d, high watermark %d, %d bytes; want the 5 records",
					version, tc.id, tc.epoch, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
			}
		}
	}
}
