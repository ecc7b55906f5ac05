// Package perf measures a Kafka-protocol cluster the way Kafka's
// kafka-producer-perf-test and kafka-consumer-perf-test do, plus end-to-end
// latency at a fixed offered rate. The sluice perf commands and the
// benchmark harness both call it; it talks to the cluster only through
// franz-go, so the numbers compare across Apache Kafka, Redpanda and Sluice.
//
//	res, err := perf.Produce(ctx, perf.ProduceConfig{
//		Brokers: []string{"localhost:9092"}, Topic: "bench",
//		NumRecords: 1_000_000, RecordSize: 1024, Partitions: 6,
//	})
//	fmt.Println(res) // Kafka-style summary line
//
// # Client settings
//
// The measuring producer uses these kgo settings, which a user reproduces
// with the same options in their own client:
//
//   - ProducerBatchMaxBytes(1000012): Kafka's default max.message.bytes, the
//     largest batch a topic with default configs accepts (1 MiB would be
//     rejected with MESSAGE_TOO_LARGE).
//   - ProducerLinger(Linger): 0 unless set; the CLI passes 5ms, Kafka 4's
//     linger.ms default.
//   - 5 produce requests in flight per broker, Kafka's
//     max.in.flight.requests.per.connection: kgo's own choice with
//     idempotence (acks=all), set with MaxProduceRequestsInflightPerBroker(5)
//     when acks=1 or 0 turn idempotence off.
//   - MaxBufferedBytes(32 MiB) and MaxBufferedRecords(1<<20): like Kafka's
//     buffer.memory, so latency counts queueing only up to that much data.
//   - RequiredAcks and ProducerBatchCompression from Acks and Compression;
//     acks other than all turn idempotence off, as kgo requires.
//   - Idempotence: kgo's default (on with acks=all) unless Idempotent says
//     otherwise; IdempotenceOff with acks=all is Kafka's "plain" producer
//     (enable.idempotence=false).
//   - TransactionalID(id) when set: records go in transactions of
//     TxnRecords records, each ended by Flush + EndTransaction(TryCommit),
//     like kafka-producer-perf-test --transactional-id (which commits by
//     time, --transaction-duration-ms, where this commits by count so two
//     brokers see the same transactions).
//
// Every record carries the same random value (one buffer, as Kafka's tool
// does), records come from a pool, and the promise is one closure, so the
// producer loop does not allocate per record beyond what kgo itself does.
//
// Latency in [Produce] is from the Produce call to the acknowledgement, per
// record. In [EndToEnd] it is from the scheduled send time, stamped in the
// first 8 bytes of the value, to the time the consumer sees the record;
// using the schedule rather than the actual send time keeps a stalled
// producer from hiding delay (coordinated omission). Percentiles come from a
// log-linear [Histogram] with under 1% error.
package perf
