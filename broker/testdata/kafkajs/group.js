'use strict'
// Two kafkajs consumers in one group split a 6-partition topic (eachMessage,
// auto-commit). Phase 1: both read PER records of every partition. Then A
// disconnects (committing as it leaves); phase 2: PER more records per
// partition, which B alone must read, resuming A's partitions from A's
// commits. See lib.js for the output format.
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

const topic = prefix + '-group'
const groupId = prefix + '-group'
const PARTS = 6
const PER = Number(process.argv[4] || 50)

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await step('createTopics', () => admin.createTopics({ topics: [{ topic, numPartitions: PARTS }] }))
  const producer = kafka.producer()
  await producer.connect()
  const produce = phase => producer.send({
    topic, acks: -1,
    messages: Array.from({ length: PARTS * PER }, (_, j) => ({
      partition: j % PARTS, key: `k${j}`, value: `${phase}:${j % PARTS}:${Math.floor(j / PARTS)}`,
    })),
  })

  const reads = { A: [], B: [] } // [partition, offset, value]
  const assigned = { A: [], B: [] } // latest assignment per member
  const consumer = name => {
    const c = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 300, rebalanceTimeout: 3000, maxWaitTimeInMs: 200 })
    c.on(c.events.GROUP_JOIN, e => {
      assigned[name] = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    })
    return c
  }
  const a = consumer('A')
  const b = consumer('B')
  const start = async (name, c) => {
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async ({ partition, message }) => { reads[name].push([partition, Number(message.offset), message.value.toString()]) } })
  }
  await step('split', async () => {
    await start('A', a)
    await start('B', b)
    await waitFor('a split of the partitions', () =>
      assigned.A.length > 0 && assigned.B.length > 0 && assigned.A.length + assigned.B.length === PARTS)
    return { A: assigned.A, B: assigned.B }
  })
  // Produced after the split, so each consumer reads only its own partitions.
  await step('phase1', async () => {
    await produce(1)
    await waitFor('phase 1 read', () => reads.A.length + reads.B.length >= PARTS * PER)
    return true
  })
  facts.readA = reads.A.length
  await step('disconnectA', async () => { await a.disconnect(); return true })
  await step('takeover', async () => {
    await waitFor('B to own all partitions', () => assigned.B.length === PARTS)
    return assigned.B
  })
  await step('phase2', async () => {
    await produce(2)
    await waitFor('phase 2 read by B', () => reads.B.filter(r => r[2].startsWith('2:')).length >= PARTS * PER)
    return true
  })
  await b.disconnect()
  await step('committed', () => admin.fetchOffsets({ groupId, topics: [topic] }),
    r => r[0].partitions.sort((x, y) => x.partition - y.partition).map(p => Number(p.offset)))
  facts.reads = reads
  await producer.disconnect()
  await admin.disconnect()
}

main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
