'use strict'
// The kafkajs idempotent producer and transactions: commit, abort, and
// consume-transform-produce with sendOffsets, read back with
// readUncommitted: false (and, for contrast, true). See lib.js for the
// output format.
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

const idem = prefix + '-idem' // 3 partitions
const txnTopic = prefix + '-txn' // 2 partitions
const input = prefix + '-in' // 2 partitions, the input of consume-transform-produce
const output = prefix + '-out' // 2 partitions
const ctpGroup = prefix + '-ctp'
const N = 20

const consumerOpts = extra => ({ sessionTimeout: 6000, heartbeatInterval: 300, rebalanceTimeout: 3000, maxWaitTimeInMs: 200, ...extra })

// readAll reads topics from the beginning with a fresh group until want
// records arrived and the high watermarks were passed, and returns the values
// per topic/partition in order.
async function readAll(topics, group, readUncommitted, want) {
  const admin = kafka.admin()
  await admin.connect()
  // Stop at the end of every partition: the last stable offset for
  // read_committed is the high watermark once no transaction is open.
  const ends = {}
  for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends[`${t}/${o.partition}`] = Number(o.high)
  await admin.disconnect()
  const got = {}
  const pos = {}
  const c = kafka.consumer(consumerOpts({ groupId: group, readUncommitted }))
  await c.connect()
  await c.subscribe({ topics, fromBeginning: true })
  let n = 0
  await c.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const k = `${batch.topic}/${batch.partition}`
      for (const m of batch.messages) {
        ;(got[k] = got[k] || []).push(m.value.toString())
        n++
        resolveOffset(m.offset)
      }
      // The batch's last offset covers control records and aborted data the
      // client skipped, so it tells how far this partition has been read.
      pos[k] = Math.max(pos[k] || 0, Number(batch.lastOffset()) + 1)
      await heartbeat()
    },
  })
  try {
    await waitFor(`${want} records of ${topics}`, () => n >= want && Object.entries(ends).every(([k, e]) => e === 0 || (pos[k] || 0) >= e))
  } finally {
    await c.disconnect()
  }
  return Object.fromEntries(Object.entries(got).sort())
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await step('createTopics', () => admin.createTopics({
    topics: [{ topic: idem, numPartitions: 3 }, { topic: txnTopic, numPartitions: 2 }, { topic: input, numPartitions: 2 }, { topic: output, numPartitions: 2 }],
  }))

  // Idempotent producer: N records per partition, one send per record.
  const ip = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await ip.connect()
  await step('idempotentSend', async () => {
    for (let i = 0; i < N; i++) {
      await ip.send({ topic: idem, acks: -1, messages: [0, 1, 2].map(p => ({ partition: p, key: `k${i}`, value: `${p}:${i}` })) })
    }
    return true
  })
  // And one sendBatch with several records per partition.
  await step('idempotentSendBatch', async () => {
    const msgs = []
    for (let i = N; i < 2 * N; i++) for (const p of [0, 1, 2]) msgs.push({ partition: p, value: `${p}:${i}` })
    await ip.sendBatch({ acks: -1, topicMessages: [{ topic: idem, messages: msgs }] })
    return true
  })
  await ip.disconnect()
  await step('idempotentRead', () => readAll([idem], prefix + '-r1', false, 3 * 2 * N))

  // Transactions on one producer: commit, abort, commit.
  const tp = kafka.producer({ transactionalId: prefix + '-tx', idempotent: true, maxInFlightRequests: 1 })
  await tp.connect()
  const txnBatch = (tag, n) => [0, 1].map(p => Array.from({ length: n }, (_, i) => ({ partition: p, value: `${tag}:${p}:${i}` }))).flat()
  await step('txnCommit', async () => {
    const tx = await tp.transaction()
    await tx.send({ topic: txnTopic, messages: txnBatch('c1', 5) })
    await tx.send({ topic: txnTopic, messages: txnBatch('c1b', 2) })
    await tx.commit()
    return true
  })
  await step('txnAbort', async () => {
    const tx = await tp.transaction()
    await tx.send({ topic: txnTopic, messages: txnBatch('a1', 4) })
    await tx.abort()
    return true
  })
  await step('txnCommit2', async () => {
    const tx = await tp.transaction()
    await tx.send({ topic: txnTopic, messages: txnBatch('c2', 3) })
    await tx.commit()
    return true
  })

  // Consume-transform-produce: a group reads input with autoCommit off; each
  // batch is written upper-cased to output with its offsets in the same
  // transaction. The first transaction is aborted and must leave neither
  // output nor offsets; the consumer then seeks back and redoes it.
  await step('ctpInput', async () => {
    const p = kafka.producer()
    await p.connect()
    await p.send({ topic: input, acks: -1, messages: [0, 1].flatMap(part => Array.from({ length: N }, (_, i) => ({ partition: part, value: `in:${part}:${i}` }))) })
    await p.disconnect()
    return true
  })
  const ctp = kafka.producer({ transactionalId: prefix + '-ctp', idempotent: true, maxInFlightRequests: 1 })
  await ctp.connect()
  const done = new Map() // partition -> next offset committed in a transaction
  let aborted = 0
  let pendingOffsets
  const c = kafka.consumer(consumerOpts({ groupId: ctpGroup, readUncommitted: false }))
  await step('ctp', async () => {
    await c.connect()
    await c.subscribe({ topic: input, fromBeginning: true })
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (batch.messages.length === 0) return
        const next = Number(batch.lastOffset()) + 1
        const tx = await ctp.transaction()
        await tx.send({ topic: output, messages: batch.messages.map(m => ({ partition: batch.partition, value: m.value.toString().toUpperCase() })) })
        await tx.sendOffsets({ consumerGroupId: ctpGroup, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(next) }] }] })
        if (aborted === 0) {
          aborted++
          // A pending transactional offset is not a committed one.
          pendingOffsets = await admin.fetchOffsets({ groupId: ctpGroup, topics: [input] })
          await tx.abort()
          c.seek({ topic: batch.topic, partition: batch.partition, offset: batch.firstOffset() })
          return
        }
        await tx.commit()
        // Only now may kafkajs fetch past this batch.
        resolveOffset(batch.lastOffset())
        done.set(batch.partition, next)
      },
    })
    await waitFor('consume-transform-produce of the input', () => done.get(0) === N && done.get(1) === N)
    return aborted
  })
  await c.disconnect()
  await ctp.disconnect()
  await tp.disconnect()
  facts.ctpPendingOffsets = pendingOffsets && pendingOffsets[0].partitions.sort((x, y) => x.partition - y.partition).map(p => Number(p.offset))
  await step('ctpOffsets', () => admin.fetchOffsets({ groupId: ctpGroup, topics: [input] }),
    r => r[0].partitions.sort((x, y) => x.partition - y.partition).map(p => Number(p.offset)))

  // The last stable offset: a read_committed consumer stops before an open
  // transaction, even at records written after it; the transaction's
  // commit releases them all. Then a transaction left open past its
  // transactionTimeout is aborted by the broker, which fences its producer.
  const lso = prefix + '-lso'
  await admin.createTopics({ topics: [{ topic: lso, numPartitions: 1 }] })
  const plain = kafka.producer()
  await plain.connect()
  const lsoTp = kafka.producer({ transactionalId: prefix + '-lso', idempotent: true, maxInFlightRequests: 1 })
  await lsoTp.connect()
  const lsoGot = []
  let fetches = 0
  const lc = kafka.consumer(consumerOpts({ groupId: prefix + '-lsoc', readUncommitted: false, maxWaitTimeInMs: 100 }))
  lc.on(lc.events.FETCH, () => { fetches++ })
  await step('lso', async () => {
    await plain.send({ topic: lso, acks: -1, messages: [{ value: 'before' }] })
    const tx = await lsoTp.transaction()
    await tx.send({ topic: lso, messages: [{ value: 'open1' }, { value: 'open2' }] })
    await plain.send({ topic: lso, acks: -1, messages: [{ value: 'after' }] })
    await lc.connect()
    await lc.subscribe({ topic: lso, fromBeginning: true })
    await lc.run({ eachMessage: async ({ message }) => { lsoGot.push(message.value.toString()) } })
    await waitFor('the record before the transaction', () => lsoGot.length >= 1)
    const f = fetches
    await waitFor('5 more fetches', () => fetches >= f + 5)
    const whileOpen = lsoGot.slice()
    // kafkajs lists offsets read_committed: the end is the LSO.
    const endWhileOpen = (await admin.fetchTopicOffsets(lso))[0].high
    await tx.commit()
    await waitFor('the committed records', () => lsoGot.length >= 4)
    return { whileOpen, endWhileOpen, afterCommit: lsoGot.slice() }
  })
  await step('txnTimeout', async () => {
    const p = kafka.producer({ transactionalId: prefix + '-timeout', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 1000 })
    await p.connect()
    const tx = await p.transaction()
    await tx.send({ topic: lso, messages: [{ value: 'timedout' }] })
    await plain.send({ topic: lso, acks: -1, messages: [{ value: 'after2' }] })
    // Only the broker's abort moves the LSO past the open transaction.
    await waitFor('the broker to abort the timed-out transaction', () => lsoGot.includes('after2'), 30000)
    const commit = await tx.commit().then(() => 'ok', e => e.type || `${e.name}: ${e.message}`)
    await p.disconnect().catch(() => {})
    return { commit, read: lsoGot.slice() }
  })
  await lc.disconnect()
  await lsoTp.disconnect()
  await plain.disconnect()

  // Read back what the transactions left: committed only, then everything.
  await step('readCommitted', () => readAll([txnTopic, output], prefix + '-r2', false, 2 * (5 + 2 + 3) + 2 * N))
  await step('readUncommitted', () => readAll([txnTopic], prefix + '-r3', true, 2 * (5 + 2 + 4 + 3)))
  await admin.disconnect()
}

main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
