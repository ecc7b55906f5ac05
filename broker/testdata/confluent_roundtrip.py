"""Round trip through the Sluice broker with confluent-kafka (librdkafka).

Usage: /usr/bin/python3 confluent_roundtrip.py BOOTSTRAP TOPIC PARTITIONS COUNT

Produces COUNT records with keys and headers, then reads every partition
from the beginning with assign() (no consumer group) and checks that each
record comes back once, in order per partition, with its key and headers.
Prints "ok COUNT" on success and exits non-zero with a reason otherwise.
"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

errors = []
acked = {}


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
        return
    acked.setdefault(msg.partition(), []).append((msg.offset(), msg.key(), msg.value()))


p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
for i in range(count):
    p.produce(topic, key=b"key-%d" % (i % 13), value=b"value-%d" % i,
              headers=[("seq", str(i).encode()), ("origin", b"python")], on_delivery=on_delivery)
    p.poll(0)
left = p.flush(30)
if left or errors:
    sys.exit("produce failed: %d unflushed, errors %s" % (left, errors[:3]))

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-assign-only",
              "enable.auto.commit": False, "enable.partition.eof": True})
c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
got = {}
eof = set()
while len(eof) < partitions:
    msg = c.poll(10)
    if msg is None:
        sys.exit("timed out; got %d records" % sum(len(v) for v in got.values()))
    if msg.error():
        if msg.error().code() == -191:  # _PARTITION_EOF
            eof.add(msg.partition())
            continue
        raise KafkaException(msg.error())
    headers = dict(msg.headers() or [])
    if headers.get("origin") != b"python" or headers.get("seq") is None:
        sys.exit("headers lost: %r" % (msg.headers(),))
    got.setdefault(msg.partition(), []).append((msg.offset(), msg.key(), msg.value()))
c.close()

if got != acked:
    for part in sorted(set(got) | set(acked)):
        if got.get(part) != acked.get(part):
            sys.exit("partition %d differs: got %d records, acked %d" % (part, len(got.get(part, [])), len(acked.get(part, []))))
print("ok %d" % sum(len(v) for v in got.values()))
