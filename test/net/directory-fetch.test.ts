/**
 * Issue 13, defect 9a: a directory fetch that fails (502) leaves none of the
 * children it fetched behind as cache, but keeps what was already stored or
 * pinned here. Real libp2p nodes on loopback, real LevelDB/pack stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Fetcher } from '../../src/net/fetcher.js'
import { EXCHANGE_PROTOCOL, serveExchange } from '../../src/net/exchange.js'
import type { TestNode } from '../helpers/net.js'
import { connect, startNode, TEST_CHUNK } from '../helpers/net.js'
import { once, prng, tempDir } from '../helpers/tmp.js'

const started: TestNode[] = []
const temps: Array<{ cleanup: () => Promise<void> }> = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async n => { await n.cleanup() }))
  await Promise.all(temps.splice(0).map(async t => { await t.cleanup() }))
})

async function node (): Promise<TestNode> {
  const n = await startNode()
  started.push(n)
  return n
}

/** A folder: a.bin and b.bin (good), then z.bin, whose chunks the provider will corrupt. */
async function folder (): Promise<{ root: string, good: Buffer[], bad: Buffer }> {
  const t = await tempDir('openhash-dirfetch-')
  temps.push(t)
  const root = join(t.path, 'dir')
  await mkdir(join(root, 'sub'), { recursive: true })
  const good = [prng(41)(TEST_CHUNK * 3 + 1), prng(42)(TEST_CHUNK * 2 + 7)]
  const bad = prng(43)(TEST_CHUNK * 2)
  await writeFile(join(root, 'a.bin'), good[0])
  await writeFile(join(root, 'sub', 'b.bin'), good[1])
  await writeFile(join(root, 'z.bin'), bad)
  return { root, good, bad }
}

async function setup (): Promise<{ f: TestNode, p: TestNode, dir: string, goodHashes: string[], fetcher: Fetcher }> {
  const [f, p] = [await node(), await node()]
  const { root, good, bad } = await folder()
  const dir = (await p.node.addPath(root)).hash
  const goodHashes: string[] = []
  for (const g of good) goodHashes.push((await p.node.addStream(once(g), { filename: 'g' })).hash)
  const badHash = (await p.node.addStream(once(bad), { filename: 'z' })).hash
  const badChunks = new Set<string>()
  for await (const h of p.node.repo.manifestChunks((await p.node.repo.getObject(badHash))!)) badChunks.add(h)
  const repo = p.node.repo
  const evil = new Proxy(repo, {
    get (target, prop) {
      if (prop === 'readChunk') {
        return async (h: string, o?: any) => {
          const b = Buffer.from(await repo.readChunk(h, o))
          if (badChunks.has(h)) b[0] ^= 1
          return b
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  await p.node.net!.libp2p.unhandle(EXCHANGE_PROTOCOL)
  await p.node.net!.libp2p.handle(EXCHANGE_PROTOCOL, (stream) => { void serveExchange(evil, stream).catch(() => {}) })
  await connect(f, p)
  const fetcher = new Fetcher({
    repo: f.node.repo,
    findProviders: async function * () { yield p.node.net!.peerId },
    openSession: async (peer, signal) => await f.node.net!.openSession(peer, signal),
    log: (line) => f.logs.push(line)
  }, { searchTimeoutMs: 3000, maxProviders: 4, window: 4 })
  return { f, p, dir, goodHashes, fetcher }
}

describe('a directory fetch that fails', () => {
  it('leaves none of the children it fetched behind', async () => {
    const { f, dir, goodHashes, fetcher } = await setup()
    await expect(fetcher.fetch(dir)).rejects.toMatchObject({ code: 'FETCH_FAILED' })
    for (const h of goodHashes) expect(await f.node.repo.getObject(h)).toBeUndefined()
    const stats = await f.node.stats()
    expect(stats.storage.content_count).toBe(0)
    expect(stats.storage.chunk_count).toBe(0)
    expect((await f.node.verify()).ok).toBe(true)
  })

  it('keeps a child that was already stored and pinned here', async () => {
    const { f, dir, goodHashes, fetcher } = await setup()
    const pinned = (await f.node.addStream(once(prng(41)(TEST_CHUNK * 3 + 1)), { filename: 'mine.bin' })).hash
    expect(pinned).toBe(goodHashes[0])
    await f.node.pin(pinned)
    await expect(fetcher.fetch(dir)).rejects.toMatchObject({ code: 'FETCH_FAILED' })
    expect(await f.node.repo.getObject(pinned)).toBeDefined()
    expect(await f.node.repo.getObject(goodHashes[1])).toBeUndefined()
    expect((await f.node.stats()).storage.content_count).toBe(1)
    expect((await f.node.verify()).ok).toBe(true)
  })
})
