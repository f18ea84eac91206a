/**
 * Which replicas a node accepts, and what it does with holds at start
 * (issue 13): replication.accept_from, the per-peer and total budgets (with
 * their "auto" defaults), and a bounded number of fetch attempts per hold,
 * counted across restarts. Real libp2p nodes on loopback, real stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { statfsSync } from 'node:fs'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import { resolveReplicaBudget } from '../../src/net/replica-budget.js'
import { REPLICATE_PROTOCOL, REQ_WITHDRAW, RES_ACCEPTED, RES_FAILED, RES_REFUSED, RES_STORED, ReplicateCall } from '../../src/net/replicate.js'
import type { TestNode } from '../helpers/net.js'
import { connect, netConfig, startNode, TEST_CHUNK, until } from '../helpers/net.js'
import { lie, replicateRequest } from '../helpers/liar.js'
import { once, prng, tempDir } from '../helpers/tmp.js'

const started: TestNode[] = []
const temps: Array<{ cleanup: () => Promise<void> }> = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async n => { await n.cleanup() }))
  await Promise.all(temps.splice(0).map(async t => { await t.cleanup() }))
})

async function node (options: Parameters<typeof startNode>[0] = {}): Promise<TestNode> {
  const n = await startNode(options)
  started.push(n)
  return n
}

async function content (n: TestNode, seed: number, size: number): Promise<string> {
  return (await n.node.addStream(once(prng(seed)(size)), { filename: `f${seed}.bin` })).hash
}

describe('the replica budget', () => {
  it('"auto": a quarter of storage.max_bytes; without a quota a quarter of the free disk; per peer a quarter of the total', () => {
    const dir = '/tmp'
    const config = loadConfig({ dataDir: dir, env: {} }).replication
    expect(config.max_bytes).toBe('auto')
    expect(resolveReplicaBudget(config, 1000 * 1024 * 1024, dir)).toEqual({ total: 250 * 1024 * 1024, perPeer: 62.5 * 1024 * 1024 })
    const s = statfsSync(dir)
    const free = Number(s.bavail) * Number(s.bsize)
    const r = resolveReplicaBudget(config, 0, dir)
    expect(Math.abs(r.total - free / 4)).toBeLessThan(free / 100 + 1) // free space moves a little meanwhile
    expect(r.perPeer).toBe(Math.floor(r.total / 4))
    expect(resolveReplicaBudget({ ...config, max_bytes: 5000, max_bytes_per_peer: 9000 }, 0, dir)).toEqual({ total: 5000, perPeer: 5000 })
  })

  it('a number from the environment is a number; garbage is a clear config error', () => {
    const c = loadConfig({ dataDir: '/tmp', env: { OPENHASH_REPLICATION_MAX_BYTES: '12345' } })
    expect(c.replication.max_bytes).toBe(12345)
    expect(() => loadConfig({ dataDir: '/tmp', env: { OPENHASH_REPLICATION_MAX_BYTES: 'lots' } })).toThrow(/replication\.max_bytes/)
  })
})

describe('a holder', () => {
  it('accepts only from the peers in replication.accept_from', async () => {
    const [friend, stranger] = [await node(), await node()]
    const holder = await node({ replication: { accept_from: [friend.node.net!.peerId], max_bytes: 10 * 1024 * 1024 } })
    await connect(friend, holder)
    await connect(stranger, holder)
    const h1 = await content(friend, 1, TEST_CHUNK * 2)
    const h2 = await content(stranger, 2, TEST_CHUNK * 2)
    const refused = await replicateRequest(stranger, holder.node.net!.peerId, h2, TEST_CHUNK * 2)
    expect(refused[0].kind).toBe(RES_REFUSED)
    expect(String(refused[0].body.reason)).toMatch(/for this peer/)
    const ok = await replicateRequest(friend, holder.node.net!.peerId, h1, TEST_CHUNK * 2)
    expect(ok.map(a => a.kind)).toEqual([RES_ACCEPTED, RES_STORED])
    expect([...(await holder.node.repo.holds()).keys()]).toEqual([h1])
  })

  it('holds at most max_bytes_per_peer for one peer, while another still fits', async () => {
    const [a, b] = [await node(), await node()]
    const holder = await node({ replication: { max_bytes: 1024 * 1024, max_bytes_per_peer: TEST_CHUNK * 3 } })
    await connect(a, holder)
    await connect(b, holder)
    const first = await content(a, 3, TEST_CHUNK * 2)
    const second = await content(a, 4, TEST_CHUNK * 2)
    const third = await content(b, 5, TEST_CHUNK * 2)
    expect((await replicateRequest(a, holder.node.net!.peerId, first, TEST_CHUNK * 2)).map(x => x.kind)).toEqual([RES_ACCEPTED, RES_STORED])
    const over = await replicateRequest(a, holder.node.net!.peerId, second, TEST_CHUNK * 2)
    expect(over[0].kind).toBe(RES_REFUSED)
    expect(String(over[0].body.reason)).toMatch(/this peer's replica budget/)
    expect((await replicateRequest(b, holder.node.net!.peerId, third, TEST_CHUNK * 2)).map(x => x.kind)).toEqual([RES_ACCEPTED, RES_STORED])
    expect((await holder.node.stats()).replication.replicas_held).toBe(2)
  })

  it('a requester that understates the size gets FAILED, and no hold stays', async () => {
    const [a] = [await node()]
    const holder = await node({ replication: { max_bytes: 1024 * 1024 } })
    await connect(a, holder)
    const h = await content(a, 6, TEST_CHUNK * 4)
    const r = await replicateRequest(a, holder.node.net!.peerId, h, 100)
    expect(r[r.length - 1].body.reason).toMatch(/more than the 100 expected/)
    expect((await holder.node.repo.holds()).size).toBe(0)
    expect(await holder.node.repo.getObject(h)).toBeUndefined()
  })
})

describe('a withdraw', () => {
  it('aborts the replica fetch still running for that peer: FAILED at once, no hold, no fetch left', async () => {
    const liar = await node()
    const holder = await node({ replication: { max_bytes: 1024 * 1024 * 1024 } })
    await connect(liar, holder)
    const slow = await lie(liar, { size: TEST_CHUNK * 100, chunkSize: TEST_CHUNK, blocks: 'hang' })
    const asked = replicateRequest(liar, holder.node.net!.peerId, slow.hash, TEST_CHUNK * 100, 20_000)
    asked.catch(() => {})
    await until('the holder to ask for chunks', () => slow.blocks() > 0, 10_000)
    expect(holder.node.net!.fetcher.inProgress).toBe(1)
    const t0 = Date.now()
    const stream = await liar.node.net!.libp2p.dialProtocol(holder.node.net!.libp2p.peerId, REPLICATE_PROTOCOL)
    const call = new ReplicateCall(stream)
    await call.send(REQ_WITHDRAW, { hash: slow.hash })
    expect((await call.answer(5000)).body.dropped).toBe(true)
    await call.close()
    const answers = await asked
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(answers.map(x => x.kind)).toEqual([RES_ACCEPTED, RES_FAILED])
    // the requester has its answer at once; the run itself ends right after (its streams closed)
    await until('no fetch left', () => holder.node.net!.fetcher.inProgress === 0, 2000)
    expect((await holder.node.repo.holds()).size).toBe(0)
  })
})

describe('holds at start', () => {
  async function holderDir (holds: (n: LocalNode) => Promise<void>): Promise<string> {
    const t = await tempDir('openhash-holds-')
    temps.push(t)
    const n = await LocalNode.open(netConfig(t.path), 'test')
    await holds(n)
    await n.close()
    return t.path
  }

  it('one the policy would refuse now is dropped without a fetch; one that keeps failing is dropped after hold_max_attempts', async () => {
    const liar = await node()
    const huge = await lie(liar, { blocks: 'hang' })
    const gone = randomBytes(32).toString('hex') // nobody has it
    const owner = liar.node.net!.peerId
    const dir = await holderDir(async (n) => {
      await n.repo.hold(huge.hash, owner, { size: 2 ** 52, priority: 1 })
      await n.repo.hold(gone, owner, { size: 1000, priority: 1 })
    })
    const holder = await node({ dir, network: { search_timeout_ms: 300, bootstrap: [liar.node.net!.addresses()[0]] }, replication: { hold_max_attempts: 2, retry_base_ms: 50 } })
    await until('both holds dropped', async () => (await holder.node.repo.holds()).size === 0, 15_000)
    expect(huge.pages()).toBe(0)
    expect(holder.logs.some(l => l.includes(huge.hash) && l.includes('at start')), holder.logs.join('\n')).toBe(true)
    expect(holder.logs.filter(l => l.includes(gone) && l.includes('fetch attempt')).length, holder.logs.join('\n')).toBe(2)
    // the attempts counter is cleared just after the hold is dropped (not in the same batch): wait for it
    await until('its attempt count cleared', async () => await holder.node.repo.kv.get(`ra/${gone}`) === undefined, 5000)
  })

  it('attempts count across restarts: a hold that used them up before is dropped at once', async () => {
    const gone = randomBytes(32).toString('hex')
    const dir = await holderDir(async (n) => {
      await n.repo.hold(gone, '12D3KooWJ4n8bTUbUTwXsqx1YcYmyXcYhK9CeZd4qTWbDQWxgbeD', { size: 1000, priority: 1 })
      // what two earlier starts counted before they died mid-fetch
      await n.repo.kv.batch([{ type: 'put', key: `ra/${gone}`, value: Buffer.from('2') }], { sync: true })
    })
    const holder = await node({ dir, replication: { hold_max_attempts: 2 } })
    await until('the hold dropped', async () => (await holder.node.repo.holds()).size === 0, 5000)
    expect(holder.logs.some(l => l.includes(gone) && l.includes('failed 2 times')), holder.logs.join('\n')).toBe(true)
    expect(holder.logs.some(l => l.includes(gone) && l.includes('fetch attempt'))).toBe(false)
  })

  it('a fetch cut short by shutdown does not use up an attempt', async () => {
    const liar = await node()
    const slow = await lie(liar, { size: TEST_CHUNK * 100, chunkSize: TEST_CHUNK, blocks: 'hang' })
    const owner = liar.node.net!.peerId
    const dir = await holderDir(async (n) => { await n.repo.hold(slow.hash, owner, { size: TEST_CHUNK * 100, priority: 1 }) })
    const holder = await LocalNode.open(netConfig(dir, { bootstrap: [liar.node.net!.addresses()[0]] }), 'test')
    await holder.startNetwork()
    await until('the resumed fetch to ask for chunks', () => slow.blocks() > 0, 10_000)
    expect(Buffer.from((await holder.repo.kv.get(`ra/${slow.hash}`))!).toString()).toBe('1')
    await holder.close()
    const again = await LocalNode.open(netConfig(dir), 'test')
    try {
      expect(Buffer.from((await again.repo.kv.get(`ra/${slow.hash}`))!).toString()).toBe('0')
      expect((await again.repo.holds()).size).toBe(1)
    } finally { await again.close() }
  })
})
