"""Transactions with confluent-kafka (librdkafka) against the Sluice broker.

Usage: /usr/bin/python3 confluent_txn.py BOOTSTRAP TOPIC IN_TOPIC OUT_TOPIC

1. A transactional producer commits one transaction and aborts another on
   TOPIC; a read_committed consumer sees exactly the committed records, a
   read_uncommitted one sees both.
2. A consume-transform-produce loop reads IN_TOPIC (filled here) in a
   consumer group, produces to OUT_TOPIC and commits the input offsets
   with send_offsets_to_transaction; OUT_TOPIC then holds every input
   record exactly once (read_committed) and the group's committed offsets
   are the end of IN_TOPIC.

Prints "ok" on success, exits non-zero with a reason otherwise.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING

bootstrap, topic, in_topic, out_topic = sys.argv[1:5]
N = 200


def read_all(t, isolation, want, partitions=1):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + isolation,
                  "enable.auto.commit": False, "isolation.level": isolation})
    c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = c.poll(0.3)
        if m is None:
            if len(out) >= want:
                break
            continue
        if m.error():
            raise KafkaException(m.error())
        out.append(m.value())
    c.close()
    return out


# 1. commit one, abort one.
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "py-txn", "linger.ms": 5})
p.init_transactions(30)
p.begin_transaction()
for i in range(10):
    p.produce(topic, value=b"commit-%d" % i)
p.commit_transaction(30)
p.begin_transaction()
for i in range(7):
    p.produce(topic, value=b"abort-%d" % i)
p.flush(30)
p.abort_transaction(30)

committed = read_all(topic, "read_committed", 10)
if sorted(committed) != sorted(b"commit-%d" % i for i in range(10)):
    sys.exit("read_committed saw %r" % committed)
uncommitted = read_all(topic, "read_uncommitted", 17)
if len(uncommitted) != 17 or sum(v.startswith(b"abort-") for v in uncommitted) != 7:
    sys.exit("read_uncommitted saw %r" % uncommitted)

# 2. consume-transform-produce with send_offsets_to_transaction.
plain = Producer({"bootstrap.servers": bootstrap})
for i in range(N):
    plain.produce(in_topic, value=b"%d" % i)
if plain.flush(30):
    sys.exit("flush timed out")

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-etl", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
consumer.subscribe([in_topic])
etl = Producer({"bootstrap.servers": bootstrap, "transactional.id": "py-etl", "linger.ms": 5})
etl.init_transactions(30)
done = 0
deadline = time.monotonic() + 60
while done < N and time.monotonic() < deadline:
    msgs = consumer.consume(50, 0.5)
    msgs = [m for m in msgs if not m.error()]
    if not msgs:
        continue
    etl.begin_transaction()
    for m in msgs:
        etl.produce(out_topic, value=b"out-" + m.value())
    etl.send_offsets_to_transaction(consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30)
    etl.commit_transaction(30)
    done += len(msgs)
if done != N:
    sys.exit("processed %d of %d" % (done, N))
committed_offsets = consumer.committed([TopicPartition(in_topic, 0)], 10)
consumer.close()
if committed_offsets[0].offset != N:
    sys.exit("committed offset %d, want %d" % (committed_offsets[0].offset, N))
out = read_all(out_topic, "read_committed", N)
if sorted(out) != sorted(b"out-%d" % i for i in range(N)):
    sys.exit("output has %d records (%d distinct), want %d" % (len(out), len(set(out)), N))
print("ok")
