'use strict'
// What kafkajs users see when they get something wrong: each step records
// the kafkajs error type (Kafka's error name) the broker's answer turned
// into, or the result when there was no error. See lib.js for the output
// format; broker/kafkajs_test.go holds Kafka's answers.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } = require('kafkajs')
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

// outcome runs fn and returns "ok" or the error type kafkajs threw (for an
// aggregate, the types of its errors).
async function outcome(fn) {
  try {
    await fn()
    return 'ok'
  } catch (e) {
    return errorType(e)
  }
}

function errorType(e) {
  if (e.errors) return e.errors.map(errorType).join(',')
  if (e.groups) return e.groups.map(g => (g.error && g.error.type) || g.errorCode).join(',')
  if (e.partitions) return e.partitions.map(p => (p.error && p.error.type) || 'none').join(',')
  if (e.type) return e.type
  // Retriers wrap the broker's error.
  if (e.cause) return errorType(e.cause)
  return `${e.name}: ${e.message}`
}
const expectError = (name, fn) => step(name, () => outcome(fn))

async function main() {
  const admin = kafka.admin({ retry: { retries: 0 } })
  await admin.connect()
  const t = prefix + '-t' // 3 partitions, max.message.bytes 2000
  await step('createTopics', () => admin.createTopics({ topics: [{ topic: t, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }] }))

  await expectError('createReplicationFactor3', () => admin.createTopics({ topics: [{ topic: prefix + '-rf3', replicationFactor: 3 }] }))
  await expectError('createUnknownConfig', () => admin.createTopics({ topics: [{ topic: prefix + '-cfg', configEntries: [{ name: 'no.such.config', value: '1' }] }] }))
  await expectError('createBadConfigValue', () => admin.createTopics({ topics: [{ topic: prefix + '-val', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }))
  await expectError('createBadName', () => admin.createTopics({ topics: [{ topic: prefix + '/bad' }] }))
  await expectError('createZeroPartitions', () => admin.createTopics({ topics: [{ topic: prefix + '-zero', numPartitions: 0 }] }))
  await step('createValidateOnly', () => admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: prefix + '-vo', numPartitions: 2 }] }))
  await step('listAfterFailedCreates', () => admin.listTopics(), ts => ts.filter(x => x.startsWith(prefix)).sort())

  await expectError('createPartitionsFewer', () => admin.createPartitions({ topicPartitions: [{ topic: t, count: 2 }] }))
  await expectError('createPartitionsSame', () => admin.createPartitions({ topicPartitions: [{ topic: t, count: 3 }] }))
  await expectError('createPartitionsUnknownTopic', () => admin.createPartitions({ topicPartitions: [{ topic: prefix + '-nope', count: 3 }] }))
  await expectError('deleteUnknownTopic', () => admin.deleteTopics({ topics: [prefix + '-nope'] }))
  await expectError('describeConfigsUnknownTopic', () => admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: prefix + '-nope' }] }))
  await expectError('alterUnknownConfig', () => admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configEntries: [{ name: 'no.such.config', value: '1' }] }] }))
  await expectError('createBadReplicaAssignment', () => admin.createTopics({ topics: [{ topic: prefix + '-ra-bad', replicaAssignment: [{ partition: 0, replicas: [7] }] }] }))
  await step('createReplicaAssignment', async () => {
    await admin.createTopics({ topics: [{ topic: prefix + '-ra', replicaAssignment: [{ partition: 0, replicas: [1] }, { partition: 1, replicas: [1] }] }] })
    await admin.createPartitions({ topicPartitions: [{ topic: prefix + '-ra', count: 3, assignments: [[1]] }] })
    return (await admin.fetchTopicMetadata({ topics: [prefix + '-ra'] })).topics[0].partitions.map(p => p.replicas).sort()
  })
  // validateOnly changes nothing.
  await step('alterValidateOnly', async () => {
    await admin.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configEntries: [{ name: 'retention.ms', value: '1234' }] }] })
    const r = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ['retention.ms', 'max.message.bytes'] }] })
    return Object.fromEntries(r.resources[0].configEntries.map(e => [e.configName, e.configValue]))
  })
  await step('describeBrokerConfig', () => admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['num.partitions', 'auto.create.topics.enable'] }] }),
    r => Object.fromEntries(r.resources[0].configEntries.map(e => [e.configName, e.configValue])))
  // APIs of a Kafka broker without an authorizer and with nothing moving:
  // ACL calls answer SECURITY_DISABLED, reassignments list nothing.
  await expectError('describeAcls', () => admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }))
  await step('listPartitionReassignments', () => outcome(async () => {
    const r = await admin.listPartitionReassignments({ topics: [{ topic: t, partitions: [0, 1, 2] }] })
    if (r.topics.length) throw new Error('reassignments: ' + JSON.stringify(r.topics))
  }))
  await step('describeCluster', () => admin.describeCluster(), c => ({ brokers: c.brokers.map(b => `${b.nodeId}@${b.host}:${b.port}`), controller: c.controller, hasClusterId: !!c.clusterId }))

  // Records beyond the end cannot be deleted.
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  await producer.send({ topic: t, acks: -1, messages: [{ partition: 0, value: 'x' }, { partition: 0, value: 'y' }] })
  await expectError('deleteRecordsBeyondEnd', () => admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '100' }] }))
  await expectError('produceTooLarge', () => producer.send({ topic: t, acks: -1, messages: [{ partition: 1, value: 'x'.repeat(5000) }] }))
  // acks=all needs min.insync.replicas in sync; one broker has one.
  await step('minIsr', async () => {
    const topic = prefix + '-misr'
    await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] })
    const p = kafka.producer({ retry: { retries: 1, initialRetryTime: 50 } })
    await p.connect()
    try {
      return {
        acksAll: await outcome(() => p.send({ topic, acks: -1, messages: [{ value: 'x' }] })),
        acks1: await outcome(() => p.send({ topic, acks: 1, messages: [{ value: 'x' }] })),
      }
    } finally {
      await p.disconnect()
    }
  })
  // A record larger than kafkajs' 1 MiB fetch limit per partition still
  // arrives (the broker returns the first batch whole).
  await step('bigRecord', async () => {
    const topic = prefix + '-big'
    await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'max.message.bytes', value: '3000000' }] }] })
    await producer.send({ topic, acks: -1, messages: [{ value: 'a'.repeat(1500000) }, { value: 'small' }] })
    const c = kafka.consumer({ groupId: prefix + '-big', maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 300 })
    const got = []
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => { got.push(message.value.length) } })
    try {
      await waitFor('both records', () => got.length >= 2)
    } finally {
      await c.disconnect()
    }
    return got
  })
  // A compacted topic takes only keyed records; a null value is a tombstone.
  await step('compacted', async () => {
    const topic = prefix + '-compact'
    await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
    const p = kafka.producer({ retry: { retries: 0 } })
    await p.connect()
    const noKey = await outcome(() => p.send({ topic, acks: -1, messages: [{ value: 'nokey' }] }))
    await p.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }, { key: 'k', value: null }] })
    await p.disconnect()
    const got = []
    const c = kafka.consumer({ groupId: prefix + '-compact', maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 300 })
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => { got.push([message.key && message.key.toString(), message.value && message.value.toString()]) } })
    try {
      await waitFor('the record and its tombstone', () => got.length >= 2)
    } finally {
      await c.disconnect()
    }
    return { noKey, read: got }
  })
  await step('produceAcks1', () => producer.send({ topic: t, acks: 1, messages: [{ partition: 2, value: 'a1' }] }), r => r.map(x => ({ err: x.errorCode, base: x.baseOffset })))
  await step('produceAcks0', () => producer.send({ topic: t, acks: 0, messages: [{ partition: 2, value: 'a0' }] }), r => r.length)
  // Metadata creates a topic a producer names, with num.partitions.
  await step('produceAutoCreate', () => producer.send({ topic: prefix + '-auto', acks: -1, messages: [{ value: 'auto' }] }), r => r.map(x => ({ err: x.errorCode, base: x.baseOffset })))
  await step('autoCreatedMetadata', () => admin.fetchTopicMetadata({ topics: [prefix + '-auto'] }), m => m.topics.map(x => x.partitions.length))
  await producer.disconnect()
  await step('offsetsAfterProduce', () => admin.fetchTopicOffsets(t), os => os.sort((a, b) => a.partition - b.partition).map(o => o.high))

  // A consumer whose per-partition limit is smaller than one batch still
  // gets every record (the broker returns the first batch whole).
  await step('smallFetchLimit', async () => {
    const p = kafka.producer()
    await p.connect()
    for (let i = 0; i < 5; i++) {
      await p.send({ topic: t, acks: -1, messages: Array.from({ length: 3 }, (_, j) => ({ partition: 1, value: `${i}:${j}:` + 'v'.repeat(300) })) })
    }
    await p.disconnect()
    const c = kafka.consumer({ groupId: prefix + '-small', maxBytesPerPartition: 100, maxBytes: 200, maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 300 })
    const got = []
    await c.connect()
    await c.subscribe({ topic: t, fromBeginning: true })
    await c.run({ eachMessage: async ({ partition, message }) => { if (partition === 1) got.push(message.value.toString().split(':', 2).join(':')) } })
    const deadline = Date.now() + 10000
    while (got.length < 15 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
    await c.disconnect()
    return got
  })

  // Groups: deleting a group with a member, and one that does not exist.
  const c = kafka.consumer({ groupId: prefix + '-live', sessionTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 100 })
  await c.connect()
  await c.subscribe({ topic: t })
  let joined = false
  c.on(c.events.GROUP_JOIN, () => { joined = true })
  await c.run({ eachMessage: async () => {} })
  const deadline = Date.now() + 10000
  while (!joined && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
  await expectError('deleteNonEmptyGroup', () => admin.deleteGroups([prefix + '-live']))
  await c.disconnect()
  await expectError('deleteUnknownGroup', () => admin.deleteGroups([prefix + '-nogroup']))
  await step('describeUnknownGroup', () => admin.describeGroups([prefix + '-nogroup']), r => r.groups.map(g => ({ state: g.state, errorCode: g.errorCode })))

  // Fencing: a second producer with the same transactionalId fences the
  // first, whose open transaction is aborted.
  const tt = prefix + '-fence'
  await admin.createTopics({ topics: [{ topic: tt, numPartitions: 1 }] })
  const mk = () => kafka.producer({ transactionalId: prefix + '-fx', idempotent: true, maxInFlightRequests: 1 })
  const old = mk()
  await old.connect()
  const oldTx = await old.transaction()
  await step('fenceOldSend', () => oldTx.send({ topic: tt, messages: [{ value: 'old' }] }), () => true)
  const fresh = mk()
  // kafkajs sends the transactional InitProducerId (which fences) when the
  // first transaction begins, not on connect.
  let freshTx
  await step('fenceNewBegin', async () => { await fresh.connect(); freshTx = await fresh.transaction(); return true })
  await expectError('fencedSend', () => oldTx.send({ topic: tt, messages: [{ value: 'old2' }] }))
  await expectError('fencedCommit', () => oldTx.commit())
  await step('fenceNewTxn', async () => {
    await freshTx.send({ topic: tt, messages: [{ value: 'new' }] })
    await freshTx.commit()
    return true
  })
  await old.disconnect().catch(() => {})
  await fresh.disconnect()
  await step('fenceRead', async () => {
    const rc = kafka.consumer({ groupId: prefix + '-fread', readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 300 })
    const got = []
    await rc.connect()
    await rc.subscribe({ topic: tt, fromBeginning: true })
    await rc.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()) } })
    const deadline = Date.now() + 10000
    while (!got.includes('new') && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
    await rc.disconnect()
    return got
  })
  await admin.disconnect()
}

main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
