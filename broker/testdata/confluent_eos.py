"""An exactly-once consume-transform-produce client with confluent-kafka.

Usage: /usr/bin/python3 confluent_eos.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TRANSACTIONAL_ID

Reads IN_TOPIC in consumer group GROUP (read_committed, no auto commit)
and, per small batch, in one transaction: writes b"out-" + value to
OUT_TOPIC with the input key, and commits the input positions with
send_offsets_to_transaction. The Go test (eos_test.go) kills it with
SIGKILL mid-stream and starts it again with the same transactional id,
which fences the killed one and aborts its open transaction.

Prints, flushed line by line, for the test to act on:
  "open N"       a transaction holds produced records, flushed to the
                 broker, not yet committed (N = records this run has
                 committed so far); it then waits for a line "go" on
                 stdin before it commits, so the test decides whether
                 the kill lands in an open transaction or in its commit;
  "committed N"  a transaction committed, N records so far this run;
  "done N"       every input partition's committed position is its end.
Exits non-zero with a reason on any error.
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, in_topic, out_topic, group, txn_id = sys.argv[1:6]


def say(*words):
    print(*words, flush=True)


# The producer first: init_transactions fences a killed predecessor with
# the same transactional id and aborts its open transaction, so the input
# offsets it may have sent are resolved before the consumer reads them.
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "linger.ms": 5, "transaction.timeout.ms": 60000})
producer.init_transactions(30)

consumer = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group,
    # Static membership: a restarted client takes over its killed
    # predecessor's assignment at once instead of waiting for its session
    # to expire.
    "group.instance.id": txn_id,
    "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
    "enable.auto.commit": False, "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
})
consumer.subscribe([in_topic])

partitions = len(consumer.list_topics(in_topic, 10).topics[in_topic].partitions)


def caught_up():
    """Whether this client owns every input partition and the group's
    committed offset is the partition's end. (position() would not do: it
    stays unset on a partition this run never read a record from.)"""
    assigned = consumer.assignment()
    if len(assigned) != partitions:
        return False
    for tp in consumer.committed(assigned, timeout=10):
        _, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        if tp.offset < 0 or tp.offset != high:
            return False
    return True


done = 0
deadline = time.monotonic() + 50
while time.monotonic() < deadline:
    msgs = consumer.consume(20, 0.2)
    for m in msgs:
        if m.error():
            sys.exit("consume: %s" % m.error())
    if not msgs:
        if caught_up():
            say("done", done)
            break
        continue
    producer.begin_transaction()
    for m in msgs:
        producer.produce(out_topic, key=m.key(), value=b"out-" + m.value())
    # The records reach the broker inside the open transaction; the test
    # then either lets the commit go ahead or kills this process.
    producer.flush(30)
    say("open", done)
    if sys.stdin.readline().strip() != "go":
        sys.exit("stdin closed while a transaction was open")
    producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                         consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
    done += len(msgs)
    say("committed", done)
else:
    sys.exit("not caught up after 50 s, %d records processed" % done)
consumer.close()
