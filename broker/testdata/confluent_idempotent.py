"""An idempotent confluent-kafka (librdkafka) producer against the Sluice broker.

Usage: /usr/bin/python3 confluent_idempotent.py BOOTSTRAP TOPIC PARTITIONS COUNT

Produces COUNT records with enable.idempotence=True (librdkafka then asks
for a producer id with InitProducerId and numbers its batches), then reads
every partition from the beginning with assign() and checks that each
record comes back exactly once, in order per partition, at the offset its
delivery report gave. Prints "ok COUNT" on success, exits non-zero with a
reason otherwise.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

errors = []
acked = {}


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
        return
    acked[msg.value()] = (msg.partition(), msg.offset())


p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 2,
              "max.in.flight.requests.per.connection": 5})
for i in range(count):
    p.produce(topic, key=b"key-%d" % (i % 7), value=b"value-%d" % i, on_delivery=on_delivery)
    p.poll(0)
if p.flush(30):
    sys.exit("flush timed out")
if errors:
    sys.exit("delivery errors: %s" % errors[:3])
if len(acked) != count:
    sys.exit("acknowledged %d of %d" % (len(acked), count))

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in range(partitions)])
seen = {}
last = {}
deadline = time.monotonic() + 30
while len(seen) < count and time.monotonic() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        raise KafkaException(m.error())
    v = m.value()
    if v in seen:
        sys.exit("record %s read twice" % v)
    seen[v] = (m.partition(), m.offset())
    i = int(v.split(b"-")[1])
    if last.get(m.partition(), -1) >= i:
        sys.exit("partition %d: %s after value-%d" % (m.partition(), v, last[m.partition()]))
    last[m.partition()] = i
# Anything after the last record would be a second copy.
extra = c.poll(1.0)
if extra is not None and not extra.error():
    sys.exit("extra record %s" % extra.value())
c.close()
if len(seen) != count:
    sys.exit("read %d of %d records" % (len(seen), count))
for v, where in acked.items():
    if seen.get(v) != where:
        sys.exit("%s acknowledged at %s but read at %s" % (v, where, seen.get(v)))
print("ok %d" % count)
