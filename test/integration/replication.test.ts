import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestNode } from '../helpers/net.js'
import { connect, dhtReady, startNode, TEST_CHUNK, until } from '../helpers/net.js'
import { collect, prng, tempDir } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

// fast rounds for tests: the defaults retry after 5 s and re-count every 5 min
const FAST = { retry_base_ms: 200, retry_max_ms: 1000, probe_timeout_ms: 3000, check_interval_s: 60 }

describe('replication on a loopback network of six nodes', () => {
  const nodes: TestNode[] = []
  let files: { path: string, cleanup: () => Promise<void> }
  const [A, B, C, D, E, F] = [0, 1, 2, 3, 4, 5]
  const name = (i: number): string => 'ABCDEF'[i]
  const indexOf = (peer: string): number => nodes.findIndex(n => n.node.net!.peerId === peer)
  const stopped = new Set<number>()

  beforeAll(async () => {
    nodes.push(await startNode({ replication: { factor: 3, ...FAST } })) // A: asks for 3 copies
    nodes.push(await startNode({ replication: { accept: false } })) // B: holds no replicas
    nodes.push(await startNode({ replication: { max_bytes: 4096 } })) // C: budget far below the file
    nodes.push(await startNode()) // D, E: accept (default budget)
    nodes.push(await startNode())
    // F accepts too, and itself asks for 6 copies (more than the network can give)
    nodes.push(await startNode({ replication: { factor: 6, max_attempts: 2, ...FAST } }))
    for (let i = 1; i < nodes.length; i++) await connect(nodes[i], nodes[i - 1])
    await dhtReady(nodes)
    files = await tempDir('openhash-repl-files-')
  })

  afterAll(async () => {
    await Promise.all(nodes.map(async (n, i) => { if (!stopped.has(i)) await n.cleanup() }))
    await files?.cleanup()
  })

  async function addFile (node: TestNode, seed: number, size: number): Promise<{ hash: string, bytes: Buffer }> {
    const bytes = Buffer.from(prng(seed)(size))
    const path = join(files.path, `f${seed}.bin`)
    await writeFile(path, bytes)
    const added = await node.node.addPath(path)
    return { hash: added.hash, bytes }
  }

  async function holdsFor (i: number, hash: string, owner: number): Promise<boolean> {
    const list = (await nodes[i].node.repo.holds()).get(hash) ?? []
    return list.some(h => h.owner === nodes[owner].node.net!.peerId)
  }

  let hash = ''
  let bytes: Buffer

  it('a pin on A with factor 3 reaches 3 holders; peers that refuse or are over budget never hold it', async () => {
    ;({ hash, bytes } = await addFile(nodes[A], 1, TEST_CHUNK * 3 + 17))
    const res = await nodes[A].node.pin(hash, 5)
    expect(res.state).toBe('pinned')
    await until('A to count 3 copies', async () => {
      const st = (await nodes[A].node.pinStatus())[hash]
      return st.replication?.state === 'replicated' && st.replication.copies === 3
    }, 30_000)
    const st = (await nodes[A].node.pinStatus())[hash]
    expect(st.priority).toBe(5)
    expect(st.replication).toMatchObject({ state: 'replicated', copies: 3, target: 3 })
    const holders = st.replication!.holders.map(indexOf)
    expect(holders).toHaveLength(2)
    for (const h of holders) {
      expect([D, E, F]).toContain(h)
      // the holder keeps it for A (a hold, not its own pin), intact
      expect(await holdsFor(h, hash, A)).toBe(true)
      expect(await nodes[h].node.pins()).toEqual({})
      const got = await collect(nodes[h].node.repo.read(hash))
      expect(sha(got)).toBe(hash)
      expect(Buffer.compare(got, bytes)).toBe(0)
      // a hold protects it from gc like a pin
      await nodes[h].node.gc()
      expect(await nodes[h].node.repo.getObject(hash)).toBeDefined()
    }
    for (const i of [B, C]) expect((await nodes[i].node.repo.holds()).size).toBe(0)
    const stats = await nodes[A].node.stats()
    expect(stats.replication).toMatchObject({ replication_factor: 3, pinned_content: 1, replicated: 1, failed: 0 })
    const held = await nodes[holders[0]].node.stats()
    expect(held.replication.replicas_held).toBe(1)
    expect(held.replication.replica_bytes).toBe(bytes.length)
  }, 60_000)

  it('a node asking for more copies than peers will give ends in a visible failed state, with the refusals', async () => {
    const { hash: h6 } = await addFile(nodes[F], 2, TEST_CHUNK * 2)
    await nodes[F].node.pin(h6, 2)
    await until('F\'s replication to fail', async () => (await nodes[F].node.pinStatus())[h6].replication?.state === 'failed', 45_000)
    const st = (await nodes[F].node.pinStatus())[h6].replication!
    // A, D and E accept; B refuses replicas and C's budget is too small
    expect(st.copies).toBe(4)
    expect(st.holders.map(indexOf).sort()).toEqual([A, D, E].sort())
    expect(st.error).toMatch(/4 of 6 copies/)
    expect(st.error).toMatch(/does not hold replicas/)
    expect(st.error).toMatch(/over the replica budget/)
    expect((await nodes[F].node.stats()).replication.failed).toBe(1)
    for (const i of [B, C]) expect((await nodes[i].node.repo.holds()).has(h6)).toBe(false)
    // unpinning withdraws the requests: the holders drop their holds
    await nodes[F].node.unpin(h6)
    await until('the holders to drop F\'s holds', async () => {
      for (const i of [A, D, E]) if (await holdsFor(i, h6, F)) return false
      return true
    }, 15_000)
  }, 90_000)

  it('when a holder stops, another peer takes its place', async () => {
    const before = (await nodes[A].node.pinStatus())[hash].replication!.holders.map(indexOf)
    const gone = before[0]
    const spare = [D, E, F].find(i => !before.includes(i))!
    stopped.add(gone)
    await nodes[gone].cleanup()
    await until(`${name(spare)} to replace ${name(gone)}`, async () => {
      const st = (await nodes[A].node.pinStatus())[hash].replication
      return st?.state === 'replicated' && st.copies === 3 && st.holders.map(indexOf).includes(spare)
    }, 45_000)
    const st = (await nodes[A].node.pinStatus())[hash].replication!
    expect(st.holders.map(indexOf)).not.toContain(gone)
    expect(await holdsFor(spare, hash, A)).toBe(true)
    expect(sha(await collect(nodes[spare].node.repo.read(hash)))).toBe(hash)
  }, 60_000)

  it('unpin on A withdraws its requests from every holder', async () => {
    const holders = (await nodes[A].node.pinStatus())[hash].replication!.holders.map(indexOf)
    expect(holders.length).toBeGreaterThan(0)
    await nodes[A].node.unpin(hash)
    await until('holders to drop their holds', async () => {
      for (const h of holders) if (await holdsFor(h, hash, A)) return false
      return true
    }, 15_000)
    expect((await nodes[A].node.pinStatus())[hash]).toBeUndefined()
    expect((await nodes[A].node.stats()).replication.pinned_content).toBe(0)
  }, 30_000)
})
