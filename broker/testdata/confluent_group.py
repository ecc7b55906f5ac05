"""Two confluent-kafka (librdkafka) consumers share a group on the Sluice broker.

Usage: /usr/bin/python3 confluent_group.py BOOTSTRAP TOPIC GROUP PER_PARTITION

The topic must exist with 6 partitions. The script produces PER_PARTITION
records to each partition, then runs consumers A and B in one group with
manual commits:

1. Both join; the 6 partitions are split between them (each gets some).
2. Both consume and commit after every record until A has committed on
   each of its partitions; A then reads a few more WITHOUT committing (the
   uncommitted tail) and closes, leaving the group.
3. B is rebalanced onto all 6 partitions and reads to the end.

It checks that B resumes every partition A had at exactly A's committed
offset: every record is read, and the only records read twice are A's
uncommitted tail. Prints "ok" and a summary on success, exits non-zero with
the reason otherwise.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

bootstrap, topic, group, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PARTITIONS = 6
TAIL = 3
deadline = time.monotonic() + 90


def check_deadline(what):
    if time.monotonic() > deadline:
        sys.exit("timed out while " + what)


errors = []
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
for part in range(PARTITIONS):
    for i in range(per):
        p.produce(topic, partition=part, key=b"k%d" % i, value=b"%d:%d" % (part, i),
                  on_delivery=lambda err, msg: err and errors.append(str(err)))
    p.poll(0)
if p.flush(30) or errors:
    sys.exit("produce failed: %s" % errors[:3])


def consumer(name):
    return Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
    })


a, b = consumer("A"), consumer("B")
a.subscribe([topic])
b.subscribe([topic])

# reads[name] lists (partition, offset) in the order read; committed[p] is
# the next offset to read as committed by whoever owned p.
reads = {"A": [], "B": []}
committed = {}


def take(c, name, commit=True):
    m = c.poll(0.1)
    if m is None:
        return None
    if m.error():
        raise KafkaException(m.error())
    part, off = m.partition(), m.offset()
    want = b"%d:%d" % (part, off)
    if m.value() != want:
        sys.exit("%s read %r at %d/%d, want %r" % (name, m.value(), part, off, want))
    reads[name].append((part, off))
    if commit:
        c.commit(message=m, asynchronous=False)
        committed[part] = off + 1
    return m


# Phase 1: both members consume until both have partitions and A has read
# enough of them.
while True:
    check_deadline("waiting for both consumers to get partitions")
    take(a, "A")
    take(b, "B")
    pa, pb = a.assignment(), b.assignment()
    if not (pa and pb and len(pa) + len(pb) == PARTITIONS):
        continue
    # A has committed on each of its partitions and still has records
    # left on one of them for its uncommitted tail.
    a_offs = [committed.get(tp.partition, 0) for tp in pa]
    if min(a_offs) >= 1 and min(a_offs) <= per - 2 * TAIL:
        break
a_parts = sorted(tp.partition for tp in a.assignment())
b_parts = sorted(tp.partition for tp in b.assignment())
if set(a_parts) & set(b_parts):
    sys.exit("A %s and B %s share partitions" % (a_parts, b_parts))

# Phase 2: A reads its uncommitted tail and leaves.
tail = []
while len(tail) < TAIL:
    check_deadline("reading A's uncommitted tail")
    m = take(a, "A", commit=False)
    if m is not None:
        tail.append((m.partition(), m.offset()))
a_committed = {part: committed.get(part) for part in a_parts}
a.close()

# Phase 3: B takes over everything and reads to the end.
total = PARTITIONS * per
seen_b_after = {}
while True:
    check_deadline("waiting for B to read everything (B has %s)" % sorted(tp.partition for tp in b.assignment()))
    m = take(b, "B")
    if m is not None and m.partition() in a_committed and m.partition() not in seen_b_after:
        seen_b_after[m.partition()] = m.offset()
    distinct = set(reads["A"]) | set(reads["B"])
    if len(distinct) == total and len(b.assignment()) == PARTITIONS:
        break
b_final = sorted(tp.partition for tp in b.assignment())
final = b.committed([TopicPartition(topic, part) for part in range(PARTITIONS)], timeout=10)
b.close()
if sorted(tp.offset for tp in final) != [per] * PARTITIONS:
    sys.exit("committed offsets at the end %s, want %d on every partition" % ([(tp.partition, tp.offset) for tp in final], per))

# B resumed each of A's partitions at A's committed offset (0 if A committed nothing there).
for part, off in a_committed.items():
    start = seen_b_after.get(part)
    want = off if off is not None else 0
    if want < per and start != want:
        sys.exit("B resumed partition %d at %s, A had committed %s" % (part, start, want))

# Nothing lost, and the only duplicates are A's uncommitted tail.
all_reads = reads["A"] + reads["B"]
dups = sorted({r for r in all_reads if all_reads.count(r) > 1})
if len(set(all_reads)) != total:
    sys.exit("read %d distinct records of %d" % (len(set(all_reads)), total))
if dups != sorted(tail):
    sys.exit("records read twice %s, expected only A's uncommitted tail %s" % (dups, sorted(tail)))
print("ok A=%s B=%s then B=%s, A committed %s, tail=%s, reads A=%d B=%d" % (
    a_parts, b_parts, b_final, a_committed, tail, len(reads["A"]), len(reads["B"])))
