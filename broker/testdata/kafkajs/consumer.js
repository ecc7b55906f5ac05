'use strict'
// kafkajs consumers beyond the happy path: a long-poll fetch must wake on
// append; seek; a topic deleted and created again; and a group member
// killed with SIGKILL (no LeaveGroup), whose partitions the other member
// takes over once the broker expires its session, resuming at its commits.
// See lib.js for the output format. Run as
//   node consumer.js BROKERS PREFIX SESSION_TIMEOUT_MS
// (the broker's group.min.session.timeout.ms must allow it); the killed
// member is this script again, run as a child with a 4th argument "child".
const { fork } = require('child_process')
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

const sessionTimeout = Number(process.argv[4] || 6000)
const groupOpts = { sessionTimeout, heartbeatInterval: Math.max(100, sessionTimeout / 10), rebalanceTimeout: 3000, maxWaitTimeInMs: 200 }
const crashTopic = prefix + '-crash'
const crashGroup = prefix + '-crash'
const PARTS = 6
const PER = 20
const LONG_POLL_MS = 5000

// child: join crashGroup, read phase 1 of its partitions, wait until all
// of it is committed, tell the parent, and wait to be killed.
async function child() {
  const c = kafka.consumer({ groupId: crashGroup, ...groupOpts })
  let assigned = []
  const committed = new Map()
  const read = []
  c.on(c.events.GROUP_JOIN, e => { assigned = e.payload.memberAssignment[crashTopic] || [] })
  c.on(c.events.COMMIT_OFFSETS, e => {
    for (const t of e.payload.topics) for (const p of t.partitions) committed.set(Number(p.partition), Number(p.offset))
  })
  await c.connect()
  await c.subscribe({ topic: crashTopic, fromBeginning: true })
  await c.run({ eachMessage: async ({ partition, message }) => { read.push([partition, Number(message.offset)]) } })
  await waitFor(`the child to read and commit phase 1 (assigned ${assigned}, committed ${[...committed]})`,
    () => assigned.length > 0 && assigned.length < PARTS && assigned.every(p => committed.get(p) === PER), 30000)
  process.send({ assigned: assigned.slice().sort((a, b) => a - b), read })
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  const producer = kafka.producer()
  await producer.connect()

  // Long poll: a consumer caught up with a long maxWaitTime (kafkajs only
  // heartbeats between fetches, so it stays under the session timeout) gets
  // each new record within moments of its produce, not at the end of the wait.
  const lp = prefix + '-longpoll'
  await admin.createTopics({ topics: [{ topic: lp, numPartitions: 1 }] })
  await step('longPollWake', async () => {
    const arrived = [] // [time, fetches started before it]
    const c = kafka.consumer({ groupId: prefix + '-lp', sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: LONG_POLL_MS })
    let fetches = 0
    c.on(c.events.FETCH_START, () => { fetches++ })
    await c.connect()
    await c.subscribe({ topic: lp })
    await c.run({ eachMessage: async () => { arrived.push([Date.now(), fetches]) } })
    const lat = []
    try {
      for (let i = 0; i < 3; i++) {
        // Wait until the fetch after the last record is parked on the
        // broker (kafkajs sends it at once), then produce.
        const f = i === 0 ? 0 : arrived[i - 1][1]
        await waitFor('a parked fetch', () => fetches > f, 15000)
        await new Promise(r => setTimeout(r, 100))
        const sent = Date.now()
        await producer.send({ topic: lp, acks: -1, messages: [{ value: String(i) }] })
        await waitFor('the record', () => arrived.length > i, 15000)
        lat.push(arrived[i][0] - sent)
      }
    } finally {
      await c.disconnect()
    }
    return { maxLatencyMs: Math.max(...lat) }
  })

  // seek while running: the next record read is the one sought.
  const sk = prefix + '-seek'
  await admin.createTopics({ topics: [{ topic: sk, numPartitions: 1 }] })
  await producer.send({ topic: sk, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: String(i) })) })
  await step('seek', async () => {
    const got = []
    let sought = false
    const c = kafka.consumer({ groupId: prefix + '-seek', ...groupOpts })
    await c.connect()
    await c.subscribe({ topic: sk, fromBeginning: true })
    await c.run({
      eachMessage: async ({ message }) => {
        got.push(Number(message.offset))
        if (!sought && message.offset === '7') { sought = true; c.seek({ topic: sk, partition: 0, offset: '2' }) }
      },
    })
    try {
      await waitFor('reading past the seek to the end', () => sought && got[got.length - 1] === 9 && got.filter(o => o === 9).length === 1 && got.lastIndexOf(2) > 0)
    } finally {
      await c.disconnect()
    }
    // Offsets after the seek: from 2 to the end.
    return got.slice(got.lastIndexOf(2))
  })

  // Delete a topic and create it again under the same name.
  const rc = prefix + '-recreate'
  await step('recreate', async () => {
    await admin.createTopics({ topics: [{ topic: rc, numPartitions: 1 }] })
    await producer.send({ topic: rc, acks: -1, messages: [{ value: 'old1' }, { value: 'old2' }] })
    await admin.deleteTopics({ topics: [rc] })
    await waitFor('the deleted topic to leave the list', async () => !(await admin.listTopics()).includes(rc))
    await admin.createTopics({ topics: [{ topic: rc, numPartitions: 2 }] })
    // A new producer: kafkajs' old one still has the 1-partition metadata and
    // silently sends nothing to a partition it does not know.
    const p2 = kafka.producer()
    await p2.connect()
    await p2.send({ topic: rc, acks: -1, messages: [{ partition: 1, value: 'new1' }] })
    await p2.disconnect()
    const offsets = (await admin.fetchTopicOffsets(rc)).sort((a, b) => a.partition - b.partition).map(o => [o.low, o.high])
    const got = []
    const c = kafka.consumer({ groupId: prefix + '-recreate', ...groupOpts })
    await c.connect()
    await c.subscribe({ topic: rc, fromBeginning: true })
    await c.run({ eachMessage: async ({ partition, message }) => { got.push(`${partition}/${message.offset}/${message.value}`) } })
    try {
      await waitFor('the new record', () => got.length > 0)
    } finally {
      await c.disconnect()
    }
    return { offsets, got }
  })

  // A second member joins while the first is busy with a slow eachMessage:
  // the broker holds the rebalance until the first rejoins, and takes the
  // offsets it commits on the way (current generation, group rebalancing),
  // so nothing is lost or read twice.
  await step('joinMidStream', async () => {
    const topic = prefix + '-mid'
    const groupId = prefix + '-mid'
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 600 }, (_, j) => ({ partition: j % 6, value: `${j % 6}:${Math.floor(j / 6)}` })) })
    const reads = []
    const assigned = {}
    const mk = name => {
      const c = kafka.consumer({ groupId, ...groupOpts, rebalanceTimeout: 5000, maxBytesPerPartition: 2000 })
      c.on(c.events.GROUP_JOIN, e => { assigned[name] = e.payload.memberAssignment[topic] })
      return c
    }
    const slow = name => async ({ partition, message }) => {
      reads.push(`${partition}/${message.offset}`)
      await new Promise(r => setTimeout(r, 5))
    }
    const a = mk('A')
    const b = mk('B')
    try {
      await a.connect()
      await a.subscribe({ topic, fromBeginning: true })
      await a.run({ eachMessage: slow('A') })
      await waitFor('A to be reading', () => reads.length > 50)
      await b.connect()
      await b.subscribe({ topic, fromBeginning: true })
      await b.run({ eachMessage: slow('B') })
      await waitFor('a split', () => assigned.B && assigned.B.length > 0 && assigned.A.length < 6, 20000)
      await waitFor('every record', () => new Set(reads).size >= 600, 30000)
    } finally {
      await a.disconnect()
      await b.disconnect()
    }
    return { split: [assigned.A.length, assigned.B.length], unique: new Set(reads).size, repeats: reads.length - new Set(reads).size }
  })

  // A member killed without leaving.
  await admin.createTopics({ topics: [{ topic: crashTopic, numPartitions: PARTS }] })
  const produce = phase => producer.send({
    topic: crashTopic, acks: -1,
    messages: Array.from({ length: PARTS * PER }, (_, j) => ({ partition: j % PARTS, value: `${phase}:${j % PARTS}:${Math.floor(j / PARTS)}` })),
  })
  const reads = []
  let assigned = []
  const b = kafka.consumer({ groupId: crashGroup, ...groupOpts })
  b.on(b.events.GROUP_JOIN, e => { assigned = (e.payload.memberAssignment[crashTopic] || []).slice().sort((x, y) => x - y) })
  await b.connect()
  await b.subscribe({ topic: crashTopic, fromBeginning: true })
  await b.run({ eachMessage: async ({ partition, message }) => { reads.push([partition, Number(message.offset), message.value.toString()]) } })
  await waitFor('B to join', () => assigned.length === PARTS)
  const kid = fork(__filename, [process.argv[2], prefix, String(sessionTimeout), 'child'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  let kidState = null
  kid.on('message', m => { kidState = m })
  try {
    await step('crashSplit', async () => {
      await waitFor('a split', () => assigned.length > 0 && assigned.length < PARTS)
      await produce(1)
      await waitFor('the child to commit phase 1', () => kidState !== null, 30000)
      await waitFor('B to read phase 1 of its partitions', () => reads.length >= PER * assigned.length)
      return { child: kidState.assigned, b: assigned }
    })
  } finally {
    kid.kill('SIGKILL')
  }
  const killed = Date.now()
  facts.childRead = kidState && kidState.read
  await step('crashTakeover', async () => {
    await waitFor('B to own every partition', () => assigned.length === PARTS, sessionTimeout + 15000)
    return { partitions: assigned, withinSessionTimeoutPlus5s: Date.now() - killed < sessionTimeout + 5000 }
  })
  await step('crashPhase2', async () => {
    await produce(2)
    await waitFor('B to read phase 2', () => reads.filter(r => r[2].startsWith('2:')).length >= PARTS * PER)
    return true
  })
  facts.crashReads = reads
  await b.disconnect()
  await producer.disconnect()
  await admin.disconnect()
}

if (process.argv[5] === 'child') {
  child().catch(e => { process.stderr.write(`child: ${e && e.stack}\n`); process.exit(1) })
} else {
  main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
}
