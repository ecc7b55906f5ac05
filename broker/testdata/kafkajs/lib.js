'use strict'
// Shared setup for the kafkajs scripts that broker/kafkajs_test.go runs.
//
// Every script is run as `node SCRIPT.js BROKERS PREFIX` and prints exactly
// one JSON line on stdout: {"facts": {...}, "errors": {...}}. A fact is what
// one kafkajs call returned, reduced to the values the Go test compares; an
// error is the kafkajs error a step threw. The script keeps going after a
// failed step so one broker bug does not hide the others; the Go test decides
// what is right. kafkajs' own logs go to stderr.
const { Kafka, logLevel } = require('kafkajs')

const brokers = process.argv[2].split(',')
const prefix = process.argv[3] || 'kjs'
const facts = {}
const errors = {}

// A hung call must not hang the test: the whole script has a hard limit.
const limit = setTimeout(() => {
  errors.script = 'timed out after ' + (process.env.KAFKAJS_TIMEOUT_MS || 45000) + ' ms'
  finish(3)
}, Number(process.env.KAFKAJS_TIMEOUT_MS || 45000))

function describe(e) {
  let s = `${e.name}: ${e.message}`
  if (e.type) s += ` [${e.type}]`
  if (e.errors) s += ' ' + e.errors.map(x => `${x.name}: ${x.message} [${x.type}]`).join('; ')
  if (e.partitions) s += ' ' + JSON.stringify(e.partitions.map(p => ({ p: p.partition, e: p.error && p.error.type })))
  if (e.cause) s += ` (cause: ${e.cause.name}: ${e.cause.message})`
  return s
}

// step runs one user action; its result becomes facts[name] (after shape,
// which keeps only what the test compares), its error errors[name].
async function step(name, fn, shape = x => x) {
  const started = Date.now()
  try {
    const v = await fn()
    facts[name] = shape(v)
    return v
  } catch (e) {
    errors[name] = describe(e)
    return undefined
  } finally {
    if (process.env.KAFKAJS_DEBUG) process.stderr.write(`step ${name}: ${Date.now() - started} ms\n`)
  }
}

let finished = false
function finish(code = 0) {
  if (finished) return
  finished = true
  clearTimeout(limit)
  process.stdout.write(JSON.stringify({ facts, errors }) + '\n', () => process.exit(code))
}

const kafka = new Kafka({
  clientId: prefix,
  brokers,
  logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.ERROR,
  logCreator: () => ({ namespace, level, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${level}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 4, initialRetryTime: 100, maxRetryTime: 2000 },
})

// waitFor polls cond every 20 ms until it is true or ms pass.
async function waitFor(what, cond, ms = 15000) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what)
    await new Promise(r => setTimeout(r, 20))
  }
}

module.exports = { kafka, prefix, facts, errors, step, finish, waitFor }
