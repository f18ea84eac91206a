/**
 * Providers that lie or vanish. The fetcher is driven with an explicit
 * provider order (the lying one first), over real libp2p connections on
 * loopback, so each case is deterministic.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { Fetcher } from '../../src/net/fetcher.js'
import { EXCHANGE_PROTOCOL, serveExchange } from '../../src/net/exchange.js'
import type { Repo } from '../../src/store/repo.js'
import type { TestNode } from '../helpers/net.js'
import { connect, startNode, TEST_CHUNK } from '../helpers/net.js'
import { collect, once, prng } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const CHUNKS = 40
const started: TestNode[] = []

async function node (): Promise<TestNode> {
  const n = await startNode()
  started.push(n)
  return n
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(async n => { await n.cleanup() }))
})

/** Serve the exchange protocol on `n` from a doctored view of its repo. */
async function serveFrom (n: TestNode, doctor: (repo: Repo) => Partial<Repo>): Promise<void> {
  const repo = n.node.repo
  const overrides = doctor(repo) as Record<string | symbol, unknown>
  const evil = new Proxy(repo, {
    get (target, prop) {
      if (prop in overrides) return overrides[prop]
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  await n.node.net!.libp2p.unhandle(EXCHANGE_PROTOCOL)
  await n.node.net!.libp2p.handle(EXCHANGE_PROTOCOL, (stream) => { void serveExchange(evil, stream).catch(() => {}) })
}

function fetcherFor (f: TestNode, providers: TestNode[]): Fetcher {
  return new Fetcher({
    repo: f.node.repo,
    findProviders: async function * () { for (const p of providers) yield p.node.net!.peerId },
    openSession: async (peer, signal) => await f.node.net!.openSession(peer, signal),
    log: (line) => f.logs.push(line)
  }, { searchTimeoutMs: 3000, maxProviders: 4, window: 4 })
}

async function add (n: TestNode, bytes: Buffer, filename = 'x.bin'): Promise<string> {
  return (await n.node.addStream(once(bytes), { filename })).hash
}

async function expectNothingStored (f: TestNode): Promise<void> {
  const stats = await f.node.stats()
  expect(stats.storage.content_count).toBe(0)
  expect(stats.storage.chunk_count).toBe(0)
  expect((await f.node.verify()).ok).toBe(true)
}

describe('a provider that serves corrupt chunks', () => {
  it('is dropped; the file still arrives intact from the honest provider; nothing corrupt is stored', async () => {
    const [f, evil, honest] = [await node(), await node(), await node()]
    const bytes = prng(11)(TEST_CHUNK * CHUNKS - 17)
    const hash = await add(evil, bytes)
    expect(await add(honest, bytes)).toBe(hash)
    await serveFrom(evil, (repo) => ({
      readChunk: async (h: string) => { const b = Buffer.from(await repo.readChunk(h)); b[b.length >> 1] ^= 0x55; return b }
    }))
    await connect(f, evil)
    await connect(f, honest)

    const rec = await fetcherFor(f, [evil, honest]).fetch(hash)
    expect(rec.hash).toBe(hash)
    expect(sha(await collect(f.node.read(hash)))).toBe(hash)
    expect(f.logs.some(l => l.includes(`dropping provider ${evil.node.net!.peerId}`) && l.includes('corrupt chunk')), f.logs.join('\n')).toBe(true)
    expect((await f.node.verify()).ok).toBe(true)
    expect((await f.node.stats()).storage.chunk_count).toBe(CHUNKS)
  })

  it('alone: the fetch fails with FETCH_FAILED and leaves nothing behind', async () => {
    const [f, evil] = [await node(), await node()]
    const hash = await add(evil, prng(12)(TEST_CHUNK * 6))
    await serveFrom(evil, (repo) => ({
      readChunk: async (h: string) => { const b = Buffer.from(await repo.readChunk(h)); b[0] ^= 1; return b }
    }))
    await connect(f, evil)
    await expect(fetcherFor(f, [evil]).fetch(hash)).rejects.toMatchObject({ code: 'FETCH_FAILED' })
    await expectNothingStored(f)
  })
})

describe('a provider that forges the chunk list', () => {
  it('is caught by the whole-file hash; the honest provider\'s list is used; the forged chunks are swept', async () => {
    const [f, evil, honest] = [await node(), await node(), await node()]
    const real = prng(21)(TEST_CHUNK * 8)
    const other = prng(22)(TEST_CHUNK * 8) // same size, different bytes: every chunk verifies, the whole does not
    const hash = await add(evil, real)
    const otherHash = await add(evil, other, 'other.bin')
    await add(honest, real)
    await serveFrom(evil, (repo) => ({
      manifestChunks: async function * (_rec: any, from?: number) { yield * repo.manifestChunks((await repo.getObject(otherHash))!, from) }
    }))
    // the liar answers first, so its list is the one tried first
    await serveFrom(honest, (repo) => ({
      getObject: async (h: string) => { await new Promise(resolve => setTimeout(resolve, 300)); return await repo.getObject(h) }
    }))
    await connect(f, evil)
    await connect(f, honest)

    const rec = await fetcherFor(f, [evil, honest]).fetch(hash)
    expect(rec.hash).toBe(hash)
    expect(Buffer.compare(await collect(f.node.read(hash)), real)).toBe(0)
    expect(f.logs.some(l => l.includes(`dropping provider ${evil.node.net!.peerId}`) && l.includes('does not match')), f.logs.join('\n')).toBe(true)
    // nothing of the forged list stays: no object for it, none of its chunks
    expect(await f.node.repo.getObject(otherHash)).toBeUndefined()
    expect((await f.node.stats()).storage.chunk_count).toBe(8)
    expect((await f.node.verify()).ok).toBe(true)
  })
})

describe('a provider that disappears mid-transfer', () => {
  async function vanishing (n: TestNode, after: number): Promise<void> {
    let served = 0
    await serveFrom(n, (repo) => ({
      readChunk: async (h: string) => {
        if (++served === after) void n.node.net!.stop() // the whole node goes away
        if (served >= after) return await new Promise<Uint8Array>(() => {})
        return await repo.readChunk(h)
      }
    }))
  }

  it('the fetch completes from the other provider', async () => {
    const [f, flaky, steady] = [await node(), await node(), await node()]
    const bytes = prng(31)(TEST_CHUNK * CHUNKS)
    const hash = await add(flaky, bytes)
    await add(steady, bytes)
    await vanishing(flaky, 6)
    await connect(f, flaky)
    await connect(f, steady)
    const rec = await fetcherFor(f, [flaky, steady]).fetch(hash)
    expect(rec.hash).toBe(hash)
    expect(Buffer.compare(await collect(f.node.read(hash)), bytes)).toBe(0)
    expect(f.logs.some(l => l.includes(`dropping provider ${flaky.node.net!.peerId}`))).toBe(true)
  })

  it('alone: a clear FETCH_FAILED, nothing partial left behind', async () => {
    const [f, flaky] = [await node(), await node()]
    const hash = await add(flaky, prng(32)(TEST_CHUNK * CHUNKS))
    await vanishing(flaky, 10)
    await connect(f, flaky)
    const err = await fetcherFor(f, [flaky]).fetch(hash).catch((e) => e)
    expect(err.code).toBe('FETCH_FAILED')
    expect(err.message).toMatch(/failed or disconnected|could not fetch/)
    await expectNothingStored(f)
  })
})
