'use strict'
// kafkajs clients across a broker restart. The script does its first half,
// prints "restart" on a line of its own and waits for a line on stdin,
// which the Go test sends once the broker is back on the same address. Its
// JSON line follows (see lib.js). What must survive: the records, the
// idempotent producer's sequence state (its next sends are accepted, not
// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID), the transactional
// id, and the group's committed offsets.
const readline = require('readline')
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

const topic = prefix + '-restart'
const groupId = prefix + '-restart'
const N = 10

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  const ip = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await ip.connect()
  const tp = kafka.producer({ transactionalId: prefix + '-restart', idempotent: true, maxInFlightRequests: 1 })
  await tp.connect()
  const send = async (from, to) => {
    for (let i = from; i < to; i++) await ip.send({ topic, acks: -1, messages: [{ value: `i${i}` }] })
  }
  const txn = async tag => {
    const tx = await tp.transaction()
    await tx.send({ topic, messages: [{ value: tag }] })
    await tx.commit()
  }
  const consume = async want => {
    const got = []
    const c = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 300, readUncommitted: false })
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => { got.push(`${message.offset}:${message.value}`) } })
    try {
      await waitFor(`${want} records`, () => got.length >= want)
    } finally {
      await c.disconnect()
    }
    return got
  }
  await step('before', async () => {
    await send(0, N)
    await txn('t1')
    return consume(N + 1)
  })
  await ip.disconnect()
  await tp.disconnect()

  process.stdout.write('restart\n')
  const rl = readline.createInterface({ input: process.stdin })
  await new Promise(resolve => rl.once('line', resolve))
  rl.close()

  // The same producer objects connect again: the idempotent one keeps its
  // producer id and sequence numbers, the transactional one re-initialises.
  await step('idempotentAfter', async () => { await ip.connect(); await send(N, 2 * N); return true })
  await step('txnAfter', async () => { await tp.connect(); await txn('t2'); return true })
  await step('committedAfter', () => admin.fetchOffsets({ groupId, topics: [topic] }), r => r[0].partitions.map(p => Number(p.offset)))
  // The group resumes after what it committed before the restart.
  await step('after', () => consume(N + 1))
  await step('offsetsAfter', () => admin.fetchTopicOffsets(topic), os => os.map(o => [o.low, o.high]))
  await ip.disconnect()
  await tp.disconnect()
  await admin.disconnect()
}

main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
