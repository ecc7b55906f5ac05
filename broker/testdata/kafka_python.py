#!/usr/bin/python3
"""Does what a kafka-python (Debian's python3-kafka 2.0.2) user does against a
broker and prints one JSON line: {"facts": {step: value}, "errors": {step:
"ExceptionName: message"}}. broker/kafkapython_test.go holds the expected
values, so a broker that answers wrongly fails the Go test even when
kafka-python itself is content.

Usage: kafka_python.py ADDR PREFIX COMMAND [API_VERSION]
  COMMAND     clients (producer and assigned consumer), group (two consumers
              in one group, one leaves), admin (KafkaAdminClient)
  API_VERSION auto (kafka-python probes ApiVersions) or e.g. 1.0, 0.11 to
              force the request versions of that Kafka release.
"""

import json
import logging
import sys
import threading
import time

import kafka
import kafka.codec
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

ADDR, PREFIX, COMMAND = sys.argv[1], sys.argv[2], sys.argv[3]
API = sys.argv[4] if len(sys.argv) > 4 else "auto"
API_VERSION = None if API == "auto" else tuple(int(x) for x in API.split("."))

facts = {}
errors = {}

# Timestamps the producer sets, so offsets_for_times has exact answers.
BASE_TS = 1600000000000
# 2100-01-01: later than every record, so offsets_for_times finds none.
FUTURE_TS = 4102444800000


def step(name, fn):
    """Runs fn, records its value as a fact or its exception as an error."""
    try:
        v = fn()
        facts[name] = v
        return v
    except Exception as e:  # noqa: BLE001 - every failure is a reported fact
        errors[name] = "%s: %s" % (type(e).__name__, e)
        return None


def wait_for(cond, what, timeout=20.0):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise TimeoutError("waiting for " + what)
        time.sleep(0.02)


def common():
    c = {"bootstrap_servers": ADDR, "request_timeout_ms": 15000}
    if API_VERSION is not None:
        c["api_version"] = API_VERSION
    return c


def admin():
    c = common()
    return KafkaAdminClient(**c)


def version_str(v):
    return ".".join(str(x) for x in v) if v else None


def available_codecs():
    have = {
        "gzip": kafka.codec.has_gzip(),
        "snappy": kafka.codec.has_snappy(),
        "lz4": kafka.codec.has_lz4(),
        "zstd": kafka.codec.has_zstd(),
    }
    return have


class Warnings(logging.Handler):
    """Keeps the messages kafka-python logs at warning level or above."""

    def __init__(self, into):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record):
        self.into.append(record.getMessage().split(" for topic-partition")[0])


warned = []


def cmd_clients():
    logging.getLogger("kafka.consumer.fetcher").addHandler(Warnings(warned))
    have = available_codecs()
    facts["codecs"] = have
    codecs = ["none"] + [c for c in ("gzip", "snappy", "lz4", "zstd") if have[c]]
    if API_VERSION is not None and API_VERSION < (2, 1) and "zstd" in codecs:
        codecs.remove("zstd")  # kafka-python refuses zstd below Kafka 2.1 (Produce v7)
    facts["tested"] = codecs
    a = admin()
    facts["apiVersion"] = version_str(a.config["api_version"])
    topics = [PREFIX + "-" + c for c in codecs]
    step("createTopics", lambda: [e[1] for e in a.create_topics(
        [NewTopic(t, 3, 1) for t in topics]).topic_errors])
    a.close()

    n = 30
    for codec in codecs:
        topic = PREFIX + "-" + codec

        def produce():
            p = KafkaProducer(acks="all", compression_type=None if codec == "none" else codec,
                              linger_ms=20, **common())
            facts["producerApiVersion"] = version_str(p.config["api_version"])
            futs = []
            for i in range(n):
                futs.append(p.send(topic, key=b"k%d" % i, value=b"%s-%d" % (codec.encode(), i),
                                   partition=i % 3, headers=[("h", b"v%d" % i), ("n", b"")],
                                   timestamp_ms=BASE_TS + i * 1000))
            # One without a partition: kafka-python's murmur2 partitioner picks it.
            futs.append(p.send(topic, key=b"keyed", value=b"keyed"))
            p.flush(15)
            mds = [f.get(15) for f in futs]
            p.close(5)
            return [[m.partition, m.offset] for m in mds]
        step("produce." + codec, produce)

        def consume():
            c = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=10000,
                              fetch_max_wait_ms=100, **common())
            tps = [TopicPartition(topic, p) for p in range(3)]
            c.assign(tps)
            c.seek_to_beginning()
            got = {0: [], 1: [], 2: []}
            deadline = time.time() + (3 if codec == "zstd" else 15)
            while sum(len(v) for v in got.values()) < n + 1 and time.time() < deadline:
                for tp, recs in c.poll(timeout_ms=200).items():
                    for r in recs:
                        got[tp.partition].append("%d %s %s %d %s" % (
                            r.offset, r.key.decode(), r.value.decode(),
                            r.timestamp if r.key != b"keyed" else -1,
                            ",".join("%s=%s" % (k, v.decode()) for k, v in r.headers)))
            res = {"records": {str(p): v for p, v in got.items()}}
            if codec == "zstd":
                # kafka-python 2.0.2 fetches with Fetch v4 at most; Kafka answers
                # zstd data below Fetch v10 with UNSUPPORTED_COMPRESSION_TYPE,
                # which 2.0.2 does not know: it logs and retries for ever.
                res["warnings"] = sorted(set(warned))
                c.close()
                return res
            # seek into the middle of partition 0: the next record is offset 5.
            c.seek(tps[0], 5)
            c.pause(tps[1], tps[2])
            nxt = []
            deadline = time.time() + 10
            while not nxt and time.time() < deadline:
                for tp, recs in c.poll(timeout_ms=200, max_records=1).items():
                    nxt += ["%d %s" % (r.offset, r.value.decode()) for r in recs]
            res["afterSeek"] = nxt
            res["beginning"] = {str(tp.partition): o for tp, o in c.beginning_offsets(tps).items()}
            res["end"] = {str(tp.partition): o for tp, o in c.end_offsets(tps).items()}
            # Partition 0 holds i = 0, 3, 6, ... at BASE_TS + i s: 3.5 s finds i=6 (offset 2).
            ot = c.offsets_for_times({tps[0]: BASE_TS + 3500, tps[1]: FUTURE_TS})
            res["forTimes"] = {str(tp.partition): None if v is None else [v.offset, v.timestamp]
                               for tp, v in ot.items()}
            c.close()
            return res
        step("consume." + codec, consume)


def cmd_group():
    topic, group = PREFIX + "-g", PREFIX + "-group"
    parts, per = 4, 50
    a = admin()
    step("createTopic", lambda: [e[1] for e in a.create_topics([NewTopic(topic, parts, 1)]).topic_errors])
    p = KafkaProducer(acks="all", **common())
    sent = [0]

    def produce(count):
        """Sends count more records to every partition; values number them."""
        for _ in range(count):
            for part in range(parts):
                p.send(topic, value=b"%d" % sent[0], partition=part)
                sent[0] += 1
        p.flush(15)

    class Member:
        """One consumer owned by one thread: it polls and commits after
        every poll that returned records. (It never pauses: kafka-python
        2.0.2 moves a paused partition's position past records it fetched
        but did not return, "to correct for deleted compacted messages", and
        so skips them.)"""

        def __init__(self, name):
            self.name = name
            self.seen = {}
            self.assignment = []
            self.stop = threading.Event()
            self.error = None
            self.commit_failures = 0
            self.thread = threading.Thread(target=self.run)

        def run(self):
            try:
                c = KafkaConsumer(group_id=group, enable_auto_commit=False,
                                  auto_offset_reset="earliest", session_timeout_ms=6000,
                                  heartbeat_interval_ms=500, max_poll_records=5,
                                  fetch_max_wait_ms=100, client_id=self.name, **common())
                c.subscribe([topic])
                while not self.stop.is_set():
                    batch = c.poll(timeout_ms=100)
                    for tp, recs in batch.items():
                        for r in recs:
                            self.seen[int(r.value)] = tp.partition
                    if batch:
                        try:
                            c.commit()
                        except kafka.errors.CommitFailedError:
                            self.commit_failures += 1
                    self.assignment = sorted(tp.partition for tp in c.assignment())
                c.commit()
                c.close()
            except Exception as e:  # noqa: BLE001
                self.error = "%s: %s" % (type(e).__name__, e)

    m1, m2 = Member("kp-1"), Member("kp-2")

    def failed():
        return m1.error or m2.error

    def split():
        produce(20)
        m1.thread.start()
        wait_for(lambda: len(m1.seen) >= 80 or failed(), "the first consumer's 80 records")
        m2.thread.start()
        wait_for(lambda: m1.assignment and m2.assignment and
                 sorted(m1.assignment + m2.assignment) == list(range(parts)) or failed(),
                 "the group to split the partitions")
        before1, before2 = len(m1.seen), len(m2.seen)
        produce(20)
        wait_for(lambda: len(m1.seen) + len(m2.seen) >= 160 or failed(), "160 records")
        # Each consumer read the second round only from its own partitions.
        own = all(m.seen[v] in m.assignment for m in (m1, m2) for v in m.seen if v >= 80)
        return {"sizes": sorted([len(m1.assignment), len(m2.assignment)]),
                "union": sorted(m1.assignment + m2.assignment),
                "secondRound": sorted([len(m1.seen) - before1, len(m2.seen) - before2]),
                "ownPartitionsOnly": own}

    def takeover():
        m1.stop.set()
        m1.thread.join(30)
        produce(10)
        total = sent[0]
        try:
            wait_for(lambda: len(set(m1.seen) | set(m2.seen)) >= total or m2.error,
                     "the second consumer to take over", timeout=20)
        except TimeoutError as e:
            # Go on: the lost records below say what went wrong.
            errors["takeoverWait"] = "%s: first %d records, second %d records on %s" % (
                e, len(m1.seen), len(m2.seen), m2.assignment)
        assignment = list(m2.assignment)
        m2.stop.set()
        m2.thread.join(30)
        both = set(m1.seen) | set(m2.seen)
        return {"assignment": assignment, "distinct": len(both),
                "lost": sorted(set(range(total)) - both),
                "duplicates": len(set(m1.seen) & set(m2.seen)),
                "commitFailures": m1.commit_failures + m2.commit_failures}

    try:
        step("split", split)
        step("takeover", takeover)
    finally:
        m1.stop.set()
        m2.stop.set()
        for m in (m1, m2):
            if m.thread.ident:
                m.thread.join(30)
        p.close(5)
    for m in (m1, m2):
        if m.error:
            errors["member." + m.name] = m.error

    step("committed", lambda: {str(tp.partition): om.offset for tp, om in
                               a.list_consumer_group_offsets(group).items()})
    a.close()


def cmd_admin():
    a = admin()
    facts["apiVersion"] = version_str(a.config["api_version"])
    ta, tb, tv = PREFIX + "-a", PREFIX + "-b", PREFIX + "-v"
    group = PREFIX + "-grp"

    def codes(resp):
        return {e[0]: e[1] for e in resp.topic_errors}

    step("createTopics", lambda: codes(a.create_topics([
        NewTopic(ta, 3, 1, topic_configs={"retention.ms": "3600000", "max.message.bytes": "200000"}),
        NewTopic(tb, 1, 1)])))
    step("createValidateOnly", lambda: codes(a.create_topics([NewTopic(tv, 2, 1)], validate_only=True)))
    step("createAgain", lambda: codes(a.create_topics([NewTopic(tb, 1, 1)])))
    step("listTopics", lambda: sorted(t for t in a.list_topics() if t.startswith(PREFIX + "-")))

    def describe():
        out = {}
        for t in a.describe_topics([ta, tb]):
            out[t["topic"]] = {"error": t["error_code"],
                               "partitions": sorted([p["partition"], p["leader"], p["replicas"], p["isr"]]
                                                    for p in t["partitions"])}
        return out
    step("describeTopics", describe)
    step("describeCluster", lambda: {k: v for k, v in a.describe_cluster().items()
                                     if k in ("controller_id", "brokers")})

    want = ("retention.ms", "max.message.bytes", "cleanup.policy")

    def topic_configs():
        res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, ta)])
        out = {}
        for r in res:
            for err, msg, rtype, rname, entries in r.resources:
                out["error"] = err
                for e in entries:
                    # v0: name, value, read_only, is_default, is_sensitive;
                    # v1+: name, value, read_only, config_source, is_sensitive, synonyms.
                    if e[0] in want:
                        out[e[0]] = [e[1], e[3]]
        return out
    step("describeConfigs", topic_configs)

    def broker_configs():
        res = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        out = {}
        for r in res:
            for err, msg, rtype, rname, entries in r.resources:
                out["error"] = err
                out["count"] = len(entries)
                out["num.partitions"] = [e[1] for e in entries if e[0] == "num.partitions"]
        return out
    step("describeBrokerConfigs", broker_configs)

    def alter():
        r = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, ta,
                                            configs={"retention.ms": "7200000"})])
        return [list(x[:2]) for x in r.resources]
    step("alterConfigs", alter)
    step("describeConfigsAfterAlter", topic_configs)

    step("createPartitions", lambda: codes(a.create_partitions({ta: NewPartitions(5)})))
    step("partitionsAfterCreate", lambda: [len(t["partitions"]) for t in a.describe_topics([ta])])

    # A group with commits on ta, then empty.
    def make_group():
        c = KafkaConsumer(group_id=group, enable_auto_commit=False, **common())
        c.assign([TopicPartition(ta, 0), TopicPartition(ta, 1)])
        from kafka.structs import OffsetAndMetadata
        c.commit({TopicPartition(ta, 0): OffsetAndMetadata(7, "meta-0"),
                  TopicPartition(ta, 1): OffsetAndMetadata(3, "")})
        c.close()
        return True
    step("commitOffsets", make_group)
    step("listConsumerGroups", lambda: sorted(list(g) for g in a.list_consumer_groups()
                                              if g[0].startswith(PREFIX)))

    def describe_groups():
        out = []
        for g in a.describe_consumer_groups([group]):
            out.append({"error": g.error_code, "group": g.group, "state": g.state,
                        "protocol_type": g.protocol_type, "members": len(g.members)})
        return out
    step("describeConsumerGroups", describe_groups)
    step("listConsumerGroupOffsets", lambda: {"%s/%d" % (tp.topic, tp.partition): [om.offset, om.metadata]
                                              for tp, om in a.list_consumer_group_offsets(group).items()})
    step("deleteConsumerGroups", lambda: [[g, e.__name__] for g, e in a.delete_consumer_groups([group])])
    step("listGroupsAfterDelete", lambda: sorted(g[0] for g in a.list_consumer_groups()
                                                 if g[0].startswith(PREFIX)))
    step("deleteTopics", lambda: sorted(list(x) for x in a.delete_topics([ta, tb]).topic_error_codes))
    step("listTopicsAfterDelete", lambda: sorted(t for t in a.list_topics() if t.startswith(PREFIX + "-")))
    a.close()


def main():
    try:
        {"clients": cmd_clients, "group": cmd_group, "admin": cmd_admin}[COMMAND]()
    except Exception as e:  # noqa: BLE001
        errors["script"] = "%s: %s" % (type(e).__name__, e)
    facts["kafkaPython"] = kafka.__version__
    print(json.dumps({"facts": facts, "errors": errors}, sort_keys=True))


if __name__ == "__main__":
    main()
