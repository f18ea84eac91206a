/**
 * Content fetched from a peer is subject to the storage quota: when it does
 * not fit (and nothing evictable is left), the fetch fails with
 * INSUFFICIENT_STORAGE (HTTP 507), not as a provider failure, and nothing
 * partial is kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestNode } from '../helpers/net.js'
import { connect, dhtReady, startNode, TEST_CHUNK } from '../helpers/net.js'
import { prng, tempDir } from '../helpers/tmp.js'
import { isOpenHashError } from '../../src/errors.js'

describe('a fetch that does not fit the quota', () => {
  const nodes: TestNode[] = []
  let files: { path: string, cleanup: () => Promise<void> }
  beforeAll(async () => {
    nodes.push(await startNode())
    nodes.push(await startNode({ storage: { max_bytes: TEST_CHUNK * 2, gc_high_water: 1, gc_low_water: 1 } }))
    await connect(nodes[1], nodes[0])
    await dhtReady(nodes)
    files = await tempDir('openhash-qf-')
  })
  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await n.cleanup() }))
    await files?.cleanup()
  })

  it('fails with INSUFFICIENT_STORAGE and keeps nothing', async () => {
    const [A, B] = nodes
    const small = join(files.path, 'small.bin')
    await writeFile(small, prng(3)(TEST_CHUNK))
    const big = join(files.path, 'big.bin')
    await writeFile(big, prng(4)(TEST_CHUNK * 5))
    const s = await A.node.addPath(small)
    const b = await A.node.addPath(big)
    await A.node.net!.settled()
    // B pins what fits (a pin is never evicted)
    expect((await B.node.pin(s.hash, 3)).state).toBe('fetching')
    const deadline = Date.now() + 15_000
    while ((await B.node.pinStatus())[s.hash]?.state !== 'pinned' && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    expect((await B.node.pinStatus())[s.hash].state).toBe('pinned')
    const before = await B.node.stats()
    const err = await B.node.info(b.hash).then(() => undefined, (e: unknown) => e)
    expect(isOpenHashError(err) && err.code).toBe('INSUFFICIENT_STORAGE')
    expect(await B.node.repo.getObject(b.hash)).toBeUndefined()
    const after = await B.node.stats()
    expect(after.storage.chunk_count).toBe(before.storage.chunk_count)
    expect(after.storage.stored_bytes).toBe(before.storage.stored_bytes)
    expect((await B.node.verify()).ok).toBe(true)
    // the provider was not blamed: a small enough fetch from it still works
    expect(B.logs.join('\n')).not.toMatch(/drop/i)
  }, 60_000)
})
