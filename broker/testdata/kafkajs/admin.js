'use strict'
// The kafkajs admin client, call by call, as a user manages topics, configs,
// offsets and groups. See lib.js for the output format; broker/kafkajs_test.go
// holds the expected values.
const { AssignerProtocol, ConfigResourceTypes } = require('kafkajs')
const { kafka, prefix, facts, step, finish, waitFor } = require('./lib')

const topicA = prefix + '-a' // 3 partitions, then 4; records; deleted at the end
const topicB = prefix + '-b' // 1 partition, stays
const group = prefix + '-g'
const PER = 10 // records per partition of topicA
const base = Date.now() - 60000 // record i has timestamp base + i*1000

const configsOf = res =>
  Object.fromEntries(res.resources[0].configEntries.map(e => [e.configName, e.configValue]))

async function main() {
  const admin = kafka.admin()
  await admin.connect()

  await step('createTopics', () =>
    admin.createTopics({
      topics: [
        {
          topic: topicA,
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'max.message.bytes', value: '200000' },
          ],
        },
        { topic: topicB, numPartitions: 1 },
      ],
    })
  )
  // kafkajs answers false when every topic already exists (TOPIC_ALREADY_EXISTS).
  await step('createTopicsAgain', () => admin.createTopics({ topics: [{ topic: topicB }] }))
  await step('listTopics', () => admin.listTopics(), ts =>
    ts.filter(t => t.startsWith(prefix)).sort()
  )
  const shapeMeta = m =>
    m.topics.map(t => ({
      name: t.name,
      partitions: t.partitions.map(p => p.partitionId).sort((a, b) => a - b),
      leaders: [...new Set(t.partitions.map(p => p.leader))],
      replicas: t.partitions.map(p => p.replicas.length),
      isr: t.partitions.map(p => p.isr.length),
    }))
  await step('fetchTopicMetadata', () => admin.fetchTopicMetadata({ topics: [topicA, topicB] }), shapeMeta)
  await step('createPartitions', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic: topicA, count: 4 }] })
    return true
  })
  await step('metadataAfterCreatePartitions', () => admin.fetchTopicMetadata({ topics: [topicA] }), shapeMeta)

  const topicResource = (configNames) => ({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topicA, configNames }],
  })
  await step('describeConfigs', () =>
    admin.describeConfigs({ ...topicResource(['retention.ms', 'max.message.bytes', 'cleanup.policy']), includeSynonyms: false }),
    res => ({
      errorCode: res.resources[0].errorCode,
      configs: configsOf(res),
      isDefault: Object.fromEntries(res.resources[0].configEntries.map(e => [e.configName, e.isDefault])),
      // configSource is only in DescribeConfigs v1+ responses.
      source: Object.fromEntries(res.resources[0].configEntries.map(e => [e.configName, e.configSource])),
    })
  )
  await step('describeAllConfigs', () => admin.describeConfigs({ ...topicResource(undefined), includeSynonyms: true }),
    res => ({
      count: res.resources[0].configEntries.length,
      hasSegmentBytes: res.resources[0].configEntries.some(e => e.configName === 'segment.bytes'),
      retentionSynonyms: (res.resources[0].configEntries.find(e => e.configName === 'retention.ms') || { configSynonyms: [] })
        .configSynonyms.map(s => s.configName),
    })
  )
  // AlterConfigs (not incremental) replaces the topic's whole config:
  // max.message.bytes, not named here, goes back to its default.
  await step('alterConfigs', () =>
    admin.alterConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topicA, configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
    }),
    res => res.resources.map(r => ({ errorCode: r.errorCode, name: r.resourceName }))
  )
  await step('describeConfigsAfterAlter', () => admin.describeConfigs(topicResource(['retention.ms', 'max.message.bytes'])), res => ({
    configs: configsOf(res),
    isDefault: Object.fromEntries(res.resources[0].configEntries.map(e => [e.configName, e.isDefault])),
  }))

  // Records with known timestamps in every partition of topicA.
  const producer = kafka.producer()
  await producer.connect()
  await step('produce', async () => {
    const messages = []
    for (let p = 0; p < 4; p++) {
      for (let i = 0; i < PER; i++) {
        messages.push({ partition: p, key: `k${i}`, value: `${p}:${i}`, timestamp: String(base + i * 1000) })
      }
    }
    const res = await producer.send({ topic: topicA, acks: -1, messages })
    return res.length
  })
  await producer.disconnect()

  const shapeOffsets = os => os.sort((a, b) => a.partition - b.partition).map(o => ({ p: o.partition, high: o.high, low: o.low, offset: o.offset }))
  await step('fetchTopicOffsets', () => admin.fetchTopicOffsets(topicA), shapeOffsets)
  await step('fetchTopicOffsetsByTimestamp', () => admin.fetchTopicOffsetsByTimestamp(topicA, base + 5000), shapeOffsets)
  await step('fetchTopicOffsetsByTimestampMiddle', () => admin.fetchTopicOffsetsByTimestamp(topicA, base + 4500), shapeOffsets)
  // After the last record: Kafka answers -1, kafkajs turns it into the high watermark.
  await step('fetchTopicOffsetsByTimestampFuture', () => admin.fetchTopicOffsetsByTimestamp(topicA, base + 3600000), shapeOffsets)
  // An empty partition has no offset for any timestamp (-1): kafkajs answers its end.
  await step('fetchTopicOffsetsByTimestampEmpty', () => admin.fetchTopicOffsetsByTimestamp(topicB, base), shapeOffsets)
  await step('deleteTopicRecords', async () => {
    await admin.deleteTopicRecords({ topic: topicA, partitions: [{ partition: 0, offset: '4' }, { partition: 1, offset: '-1' }] })
    return true
  })
  await step('offsetsAfterDeleteRecords', () => admin.fetchTopicOffsets(topicA), shapeOffsets)

  // A group with offsets set by the admin (setOffsets runs a consumer that
  // seeks and commits), then one consumer that commits what it reads.
  // Partition 1 is at its end (10) after deleteTopicRecords(-1); the others
  // start in the middle, so the consumer below proves where it started.
  const setTo = [5, 10, 7, 8]
  await step('setOffsets', async () => {
    await admin.setOffsets({ groupId: group, topic: topicA, partitions: setTo.map((offset, partition) => ({ partition, offset: String(offset) })) })
    return true
  })
  const shapeGroupOffsets = r => r.map(t => ({ topic: t.topic, offsets: t.partitions.sort((a, b) => a.partition - b.partition).map(p => p.offset) }))
  await step('fetchOffsetsAfterSet', () => admin.fetchOffsets({ groupId: group, topics: [topicA] }), shapeGroupOffsets)

  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 300, rebalanceTimeout: 3000, maxWaitTimeInMs: 200 })
  const first = new Map() // partition -> first offset read
  const seen = new Map() // partition -> last offset read
  await step('consume', async () => {
    await consumer.connect()
    await consumer.subscribe({ topic: topicA })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (!first.has(partition)) first.set(partition, Number(message.offset))
        seen.set(partition, Number(message.offset))
      },
    })
    await waitFor('consumer to read to the end', () => [0, 2, 3].every(p => seen.get(p) === PER - 1))
    return { first: [0, 1, 2, 3].map(p => first.get(p) ?? null), last: [0, 1, 2, 3].map(p => seen.get(p) ?? null) }
  })
  const shapeGroups = gs => gs.groups.map(g => ({
    groupId: g.groupId, state: g.state, protocolType: g.protocolType, protocol: g.protocol, members: g.members.length,
    clientIds: g.members.map(m => m.clientId), errorCode: g.errorCode,
    // The coordinator hands back the bytes the members sent, undecoded.
    subscriptions: g.members.map(m => AssignerProtocol.MemberMetadata.decode(m.memberMetadata).topics),
    assignments: g.members.map(m => AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment),
  }))
  await step('listGroups', () => admin.listGroups(), r => r.groups.filter(g => g.groupId.startsWith(prefix)))
  await step('describeGroupsStable', () => admin.describeGroups([group]), shapeGroups)
  await step('consumerDisconnect', async () => { await consumer.disconnect(); return true })
  await step('describeGroupsEmpty', () => admin.describeGroups([group]), shapeGroups)
  await step('fetchOffsets', () => admin.fetchOffsets({ groupId: group, topics: [topicA] }), shapeGroupOffsets)
  // Each setOffsets/resetOffsets costs kafkajs 5 s (its seeking consumer waits
  // out maxWaitTime with every partition paused), so only one reset here.
  // With no topics kafkajs sends a null topic array: every topic the group
  // has offsets for.
  await step('fetchOffsetsAllTopics', () => admin.fetchOffsets({ groupId: group }), shapeGroupOffsets)
  await step('resetOffsetsEarliest', async () => { await admin.resetOffsets({ groupId: group, topic: topicA, earliest: true }); return true })
  await step('fetchOffsetsAfterReset', () => admin.fetchOffsets({ groupId: group, topics: [topicA] }), shapeGroupOffsets)
  await step('deleteGroups', () => admin.deleteGroups([group]), r => r.map(x => ({ groupId: x.groupId, errorCode: x.errorCode })))
  await step('describeGroupsDeleted', () => admin.describeGroups([group]), shapeGroups)
  await step('listGroupsAfterDelete', () => admin.listGroups(), r => r.groups.filter(g => g.groupId.startsWith(prefix)))
  await step('fetchOffsetsAfterDelete', () => admin.fetchOffsets({ groupId: group, topics: [topicA] }), shapeGroupOffsets)

  await step('deleteTopics', async () => { await admin.deleteTopics({ topics: [topicA] }); return true })
  await step('listTopicsAfterDelete', () => admin.listTopics(), ts => ts.filter(t => t.startsWith(prefix)).sort())
  await admin.disconnect()
}

main().then(() => finish(0), e => { facts.fatal = String(e && e.stack); finish(2) })
