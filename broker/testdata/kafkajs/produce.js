'use strict'
// The kafkajs producer: acks -1, keys, headers, GZIP, and sendBatch to
// several topic-partitions in one request; a consumer reads everything back.
// See lib.js for the output format.
const { CompressionTypes } = require('kafkajs')
const { kafka, prefix, step, finish, waitFor } = require('./lib')

const topics = [prefix + '-p1', prefix + '-p2'] // 3 partitions each
const N = 30 // records per partition and codec

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await step('createTopics', () => admin.createTopics({ topics: topics.map(topic => ({ topic, numPartitions: 3 })) }))

  const producer = kafka.producer()
  await producer.connect()
  const value = (codec, t, p, i) => `${codec}/${t}/${p}/${i}`
  const messages = (codec, t, p) => {
    const ms = []
    for (let i = 0; i < N; i++) {
      ms.push({ partition: p, key: `key-${i % 5}`, value: value(codec, t, p, i), headers: { codec, seq: String(i), multi: ['a', 'b'] } })
    }
    return ms
  }
  const shapeMeta = rs => rs.map(r => ({ topic: r.topicName, p: r.partition, err: r.errorCode, base: r.baseOffset })).sort((a, b) => a.topic.localeCompare(b.topic) || a.p - b.p)
  // One send per codec to one topic-partition...
  for (const [name, codec] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
    await step('send-' + name, () => producer.send({ topic: topics[0], acks: -1, compression: codec, messages: messages(name, 0, 0) }), shapeMeta)
  }
  // ...and sendBatch over both topics and all their partitions in one request per codec.
  for (const [name, codec] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
    const topicMessages = topics.map((topic, t) => ({ topic, messages: [0, 1, 2].flatMap(p => messages(name + '-batch', t, p)) }))
    await step('sendBatch-' + name, () => producer.sendBatch({ acks: -1, compression: codec, topicMessages }), shapeMeta)
  }
  await producer.disconnect()

  // Read everything back, in order per partition.
  const got = {} // topic/partition -> [{key, value, headers, offset}]
  let total = 0
  const want = 2 * N + 2 * 2 * 3 * N
  const consumer = kafka.consumer({ groupId: prefix + '-reader', sessionTimeout: 6000, heartbeatInterval: 300, rebalanceTimeout: 3000, maxWaitTimeInMs: 200 })
  await step('consume', async () => {
    await consumer.connect()
    await consumer.subscribe({ topics, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const k = `${topic}/${partition}`
        ;(got[k] = got[k] || []).push({
          offset: Number(message.offset),
          key: message.key && message.key.toString(),
          value: message.value && message.value.toString(),
          headers: Object.fromEntries(Object.entries(message.headers || {}).map(([h, v]) => [h, Array.isArray(v) ? v.map(String) : String(v)])),
        })
        total++
      },
    })
    await waitFor('all records', () => total >= want)
    return total
  })
  await consumer.disconnect()

  // Reduce what was read to checkable facts: per partition the values in
  // order, offsets contiguous from 0, and the headers/keys of every record.
  await step('readBack', async () => {
    const out = {}
    for (const [k, rs] of Object.entries(got).sort()) {
      out[k] = {
        count: rs.length,
        offsetsContiguous: rs.every((r, i) => r.offset === i),
        values: rs.map(r => r.value),
        keysOk: rs.every(r => r.key === `key-${Number(r.value.split('/').pop()) % 5}`),
        headersOk: rs.every(r => r.headers.codec === r.value.split('/')[0] &&
          r.headers.seq === r.value.split('/').pop() && JSON.stringify(r.headers.multi) === '["a","b"]'),
      }
    }
    return out
  })

  // message.timestamp.type=LogAppendTime: the broker stamps its own time on
  // each batch (plain and gzip) and says so in the produce response; the
  // consumer reads that time, not the producer's.
  const lat = prefix + '-lat'
  await admin.createTopics({ topics: [{ topic: lat, numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }] })
  const p2 = kafka.producer({ retry: { retries: 0 } })
  await p2.connect()
  const before = Date.now()
  for (const [name, codec] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
    await step('logAppendTime-' + name, () => p2.send({ topic: lat, acks: -1, compression: codec, messages: [{ value: 'x', timestamp: '1000' }, { value: 'y', timestamp: '2000' }] }),
      r => Number(r[0].logAppendTime) >= before && Number(r[0].logAppendTime) <= Date.now())
  }
  await step('logAppendTimeRead', async () => {
    const got = []
    const c = kafka.consumer({ groupId: prefix + '-lat', maxWaitTimeInMs: 200, sessionTimeout: 6000, heartbeatInterval: 300 })
    await c.connect()
    await c.subscribe({ topic: lat, fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => { got.push(Number(message.timestamp)) } })
    try {
      await waitFor('4 records', () => got.length >= 4)
    } finally {
      await c.disconnect()
    }
    return got.map(ts => ts >= before && ts <= Date.now())
  })
  // CreateTime bounds (Kafka 3.6+ defaults): at most 1 h in the future, any
  // time in the past.
  await step('timestampFuture2h', () => p2.send({ topic: topics[1], acks: -1, messages: [{ partition: 0, value: 'f', timestamp: String(Date.now() + 2 * 3600 * 1000) }] }).then(() => 'ok', e => e.type || e.message))
  await step('timestampPast10y', () => p2.send({ topic: lat, acks: -1, messages: [{ value: 'p', timestamp: String(Date.now() - 10 * 365 * 86400 * 1000) }] }).then(() => 'ok', e => e.type || e.message))
  await p2.disconnect()
  await admin.disconnect()
}

main().then(() => finish(0), e => { require('./lib').facts.fatal = String(e && e.stack); finish(2) })
