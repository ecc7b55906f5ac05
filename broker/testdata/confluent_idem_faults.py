"""An idempotent confluent-kafka (librdkafka) producer through a faulty link.

Usage: /usr/bin/python3 confluent_idem_faults.py BOOTSTRAP TOPIC PARTITIONS COUNT

BOOTSTRAP is the test's fault proxy, which keeps resetting connections,
some after a produce request reached the broker and before its response
came back. Produces COUNT records, record i to partition i % PARTITIONS
with the value "i-<padding>", with enable.idempotence=True and small
requests (message.max.bytes caps a produce request, so every request fits
the proxy's byte budget and gets through in the end). Prints "ok COUNT"
when every record was acknowledged and exits non-zero with the delivery
errors otherwise; the Go test then reads the partitions directly.
"""
import sys

from confluent_kafka import Producer

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

errors = []
acked = [0]


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
        return
    acked[0] += 1


p = Producer({
    "bootstrap.servers": bootstrap,
    "enable.idempotence": True,
    "linger.ms": 2,
    "batch.size": 4096,
    "message.max.bytes": 16384,
    "retry.backoff.ms": 10,
    "reconnect.backoff.ms": 10,
    "reconnect.backoff.max.ms": 100,
    "message.timeout.ms": 60000,
    "compression.type": "none",
})
pad = b"x" * 80
for i in range(count):
    while True:
        try:
            p.produce(topic, partition=i % partitions, value=b"%d-%s" % (i, pad), on_delivery=on_delivery)
            break
        except BufferError:  # local queue full: let deliveries drain
            p.poll(0.05)
    p.poll(0)
left = p.flush(60)
if left or errors:
    sys.exit("produce failed: %d unflushed, %d delivery errors, first: %s" % (left, len(errors), errors[:3]))
if acked[0] != count:
    sys.exit("acknowledged %d of %d" % (acked[0], count))
print("ok %d" % count)
