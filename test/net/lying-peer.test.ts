/**
 * A peer that lies about sizes and counts (issue 13, defect 1): it announces
 * an object of 2^52 bytes (2^32 chunks) and answers every CHUNKS request with
 * a full page of hashes. The fetcher must bound what it believes before it
 * spends memory on it, stream the chunk list page by page into its window,
 * and stop as soon as its requesters go away. Real libp2p nodes on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { Fetcher } from '../../src/net/fetcher.js'
import { EXCHANGE_PROTOCOL, serveExchange } from '../../src/net/exchange.js'
import type { TestNode } from '../helpers/net.js'
import { connect, startNode, TEST_CHUNK } from '../helpers/net.js'
import { lie } from '../helpers/liar.js'
import { collect, once, prng } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const started: TestNode[] = []

async function node (options: Parameters<typeof startNode>[0] = {}): Promise<TestNode> {
  const n = await startNode(options)
  started.push(n)
  return n
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(async n => { await n.cleanup() }))
})

function fetcherFor (f: TestNode, providers: TestNode[], options: { maxObjectBytes?: number } = {}): Fetcher {
  return new Fetcher({
    repo: f.node.repo,
    findProviders: async function * () { for (const p of providers) yield p.node.net!.peerId },
    openSession: async (peer, signal) => await f.node.net!.openSession(peer, signal),
    log: (line) => f.logs.push(line)
  }, { searchTimeoutMs: 3000, maxProviders: 4, window: 4, ...options })
}

/** Settles within `ms`, or fails the test (a hang is a failure, not a timeout of the whole file). */
async function within<T> (ms: number, p: Promise<T>): Promise<{ ok: true, value: T } | { ok: false, error: any }> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms) })
  try {
    return await Promise.race([p.then(value => ({ ok: true as const, value }), error => ({ ok: false as const, error })), hang])
  } finally { clearTimeout(timer) }
}

async function expectNothingStored (f: TestNode): Promise<void> {
  const stats = await f.node.stats()
  expect(stats.storage.content_count).toBe(0)
  expect(stats.storage.chunk_count).toBe(0)
}

describe('a peer announcing a 2^52-byte object', () => {
  it('is refused by network.max_object_bytes before any chunk list is asked for: FETCH_FAILED, nothing stored', async () => {
    const [f, evil] = [await node(), await node()]
    const liar = await lie(evil, { blocks: 'hang' })
    await connect(f, evil)
    const r = await within(5000, fetcherFor(f, [evil]).fetch(liar.hash))
    expect(r.ok).toBe(false)
    expect((r as any).error).toMatchObject({ code: 'FETCH_FAILED' })
    expect(String((r as any).error.message)).toMatch(/max_object_bytes/)
    expect(liar.pages()).toBe(0)
    await expectNothingStored(f)
  })

  it('with no size cap: the list is streamed into the window (a page or two, never the whole list), memory stays flat, and an abort ends it at once', async () => {
    const [f, evil] = [await node(), await node()]
    const liar = await lie(evil, { blocks: 'hang' })
    await connect(f, evil)
    const fetcher = fetcherFor(f, [evil], { maxObjectBytes: Number.MAX_SAFE_INTEGER })
    global.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const ctrl = new AbortController()
    const run = fetcher.fetch(liar.hash, { signal: ctrl.signal })
    run.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 1500))
    const heapDuring = process.memoryUsage().heapUsed
    const abortedAt = Date.now()
    ctrl.abort()
    const r = await within(2000, run)
    const answeredIn = Date.now() - abortedAt
    expect(r.ok).toBe(false)
    expect((r as any).error).toMatchObject({ code: 'ABORTED' })
    expect(answeredIn).toBeLessThan(1000)
    // blocks were asked for after the first page: the list is not collected before the transfer starts
    expect(liar.blocks()).toBeGreaterThan(0)
    expect(liar.pages()).toBeLessThanOrEqual(2)
    expect(heapDuring - heapBefore).toBeLessThan(64 * 1024 * 1024)
    // the shared run is gone too, and nothing was stored
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(fetcher.inProgress).toBe(0)
    await expectNothingStored(f)
  })

  it('with no size cap and blocks missing: fails FETCH_FAILED after one page', async () => {
    const [f, evil] = [await node(), await node()]
    const liar = await lie(evil, { blocks: 'missing' })
    await connect(f, evil)
    const r = await within(5000, fetcherFor(f, [evil], { maxObjectBytes: Number.MAX_SAFE_INTEGER }).fetch(liar.hash))
    expect(r.ok).toBe(false)
    expect((r as any).error).toMatchObject({ code: 'FETCH_FAILED' })
    expect(liar.pages()).toBeLessThanOrEqual(2)
    await expectNothingStored(f)
  })
})

describe('chunk sizes outside 4 KiB..4 MiB', () => {
  for (const cs of [1, 4095, 4 * 1024 * 1024 + 1]) {
    it(`a chunk size of ${cs} is a protocol error: FETCH_FAILED, no list asked`, async () => {
      const [f, evil] = [await node(), await node()]
      const liar = await lie(evil, { size: cs * 3, chunkSize: cs, blocks: 'missing' })
      await connect(f, evil)
      const r = await within(5000, fetcherFor(f, [evil]).fetch(liar.hash))
      expect(r.ok).toBe(false)
      expect((r as any).error).toMatchObject({ code: 'FETCH_FAILED' })
      expect(String((r as any).error.message)).toMatch(/chunk size/)
      expect(liar.pages()).toBe(0)
    })
  }
})

describe('an object larger than storage.max_bytes', () => {
  it('is refused with INSUFFICIENT_STORAGE before anything is fetched', async () => {
    const [f, evil] = [await node({ storage: { max_bytes: 1024 * 1024 } }), await node()]
    const liar = await lie(evil, { size: 8 * 1024 * 1024, chunkSize: TEST_CHUNK, blocks: 'missing' })
    await connect(f, evil)
    const r = await within(5000, fetcherFor(f, [evil]).fetch(liar.hash))
    expect(r.ok).toBe(false)
    expect((r as any).error).toMatchObject({ code: 'INSUFFICIENT_STORAGE' })
    expect(liar.pages()).toBe(0)
  })
})

describe('requesters sharing one fetch', () => {
  it('one that aborts gets ABORTED at once; the other still gets the file', async () => {
    const [f, p] = [await node(), await node()]
    const bytes = prng(31)(TEST_CHUNK * 24 + 5)
    const hash = (await p.node.addStream(once(bytes), { filename: 'x.bin' })).hash
    // a slow provider: each chunk takes 50 ms
    const repo = p.node.repo
    const slow = new Proxy(repo, {
      get (target, prop) {
        if (prop === 'readChunk') return async (h: string, o?: any) => { await new Promise(resolve => setTimeout(resolve, 50)); return await repo.readChunk(h, o) }
        const v = Reflect.get(target, prop, target)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
    await p.node.net!.libp2p.unhandle(EXCHANGE_PROTOCOL)
    await p.node.net!.libp2p.handle(EXCHANGE_PROTOCOL, (stream) => { void serveExchange(slow, stream).catch(() => {}) })
    await connect(f, p)
    const fetcher = fetcherFor(f, [p])
    const ctrl = new AbortController()
    const a = fetcher.fetch(hash, { signal: ctrl.signal })
    const b = fetcher.fetch(hash)
    a.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 150))
    const abortedAt = Date.now()
    ctrl.abort()
    const ra = await within(3000, a)
    expect(ra.ok).toBe(false)
    expect((ra as any).error).toMatchObject({ code: 'ABORTED' })
    expect(Date.now() - abortedAt).toBeLessThan(500)
    const rb = await within(10_000, b)
    expect(rb.ok).toBe(true)
    expect(sha(await collect(f.node.read(hash)))).toBe(hash)
  })

  it('when every requester aborts, the shared fetch stops', async () => {
    const [f, evil] = [await node(), await node()]
    const liar = await lie(evil, { size: TEST_CHUNK * 100, chunkSize: TEST_CHUNK, blocks: 'hang' })
    await connect(f, evil)
    const fetcher = fetcherFor(f, [evil])
    const c1 = new AbortController()
    const c2 = new AbortController()
    const a = fetcher.fetch(liar.hash, { signal: c1.signal })
    const b = fetcher.fetch(liar.hash, { signal: c2.signal })
    a.catch(() => {})
    b.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(fetcher.inProgress).toBe(1)
    c1.abort()
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(fetcher.inProgress).toBe(1) // b still waits: the run goes on
    c2.abort()
    expect((await within(2000, b)).ok).toBe(false)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(fetcher.inProgress).toBe(0)
  })
})

describe('through the node (the paths HTTP routes take)', () => {
  it('info/read with a signal: an abort ends the fetch at once, and so does closing the node', async () => {
    const [f, evil] = [await node(), await node()]
    const liar = await lie(evil, { size: TEST_CHUNK * 100, chunkSize: TEST_CHUNK, blocks: 'hang' })
    await connect(f, evil)
    const ctrl = new AbortController()
    const info = f.node.info(liar.hash, { signal: ctrl.signal })
    info.catch(() => {})
    const read = collect(f.node.read(liar.hash, { signal: ctrl.signal }))
    read.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(f.node.net!.fetcher.inProgress).toBe(1)
    ctrl.abort()
    for (const p of [info, read] as Array<Promise<unknown>>) {
      const r = await within(1000, p)
      expect(r.ok).toBe(false)
      expect((r as any).error).toMatchObject({ code: 'ABORTED' })
    }
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(f.node.net!.fetcher.inProgress).toBe(0)

    // a fetch nobody cancels ends with the node
    const left = f.node.info(liar.hash)
    left.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 300))
    const closing = f.node.close()
    const r = await within(3000, left)
    expect(r.ok).toBe(false)
    expect((r as any).error).toMatchObject({ code: 'ABORTED' })
    await closing
  })
})
