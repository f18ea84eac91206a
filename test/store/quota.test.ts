/**
 * storage.max_bytes at the repo level, on a real store (LevelDB metadata and
 * both chunk backends): a write that does not fit evicts unpinned cached
 * content least recently used first; pinned content, holds and local adds are
 * never evicted; when nothing is left to evict the write fails with
 * INSUFFICIENT_STORAGE (HTTP 507) and everything stored still verifies;
 * past the high-water mark eviction runs in the background down to the
 * low-water mark. Cached content is `importFile(..., { added: false })`,
 * exactly how content fetched from peers is stored.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { toErrorResponse } from '../../src/api/errors.js'
import { sha256hex } from '../../src/format/hash.js'
import type { DirEntry } from '../../src/format/directory.js'
import { isOpenHashError } from '../../src/errors.js'
import type { ChunkBackend, OpenedStore } from '../../src/store/open.js'
import { openStore } from '../../src/store/open.js'
import type { Repo } from '../../src/store/repo.js'
import { collect, once, prng, tempDir } from '../helpers/tmp.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { importPath } from '../../src/content/importer.js'

const CS = 1024
const KiB = 1024

interface Quota { max: number, high?: number, low?: number }

async function open (path: string, backend: ChunkBackend, q: Quota): Promise<OpenedStore> {
  return await openStore(path, {
    backend,
    chunk_size: CS,
    pack_max_bytes: 1024 * 1024,
    compact_threshold: 0.5,
    verify_on_read: true,
    max_bytes: q.max,
    gc_high_water: q.high ?? 1,
    gc_low_water: q.low ?? 1
  })
}

/** Distinct content of `n` bytes (no chunk shared with any other call). */
let seed = 1
const content = (n: number): Buffer => prng(seed++)(n)

async function add (repo: Repo, bytes: Buffer, name: string, added: boolean): Promise<string> {
  const rec = await repo.importFile(once(bytes), { filename: name }, { added })
  expect(rec.hash).toBe(sha256hex(bytes))
  return rec.hash
}

async function has (repo: Repo, hash: string): Promise<boolean> {
  return await repo.getObject(hash) !== undefined
}

async function readBack (repo: Repo, hash: string): Promise<string> {
  return sha256hex(await collect(repo.read(hash)))
}

async function expectInsufficient (p: Promise<unknown>): Promise<any> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err, 'the write fails').toBeDefined()
  expect(isOpenHashError(err) ? err.code : String(err)).toBe('INSUFFICIENT_STORAGE')
  return err
}

/** Every object reads back to its hash, and verify finds nothing wrong. */
async function expectIntact (repo: Repo): Promise<void> {
  const v = await repo.verify()
  expect(v.problems).toEqual([])
  expect(v.ok).toBe(true)
  for await (const info of repo.list()) {
    if (!info.is_directory) expect(await readBack(repo, info.hash), info.filename).toBe(info.hash)
  }
}

describe.each(['pack', 'leveldb'] as const)('storage quota (%s backend)', (backend) => {
  let dir: { path: string, cleanup: () => Promise<void> } | undefined
  let store: OpenedStore | undefined

  afterEach(async () => {
    await store?.close()
    store = undefined
    await dir?.cleanup()
    dir = undefined
  })

  async function fresh (q: Quota): Promise<Repo> {
    dir = await tempDir('openhash-quota-')
    store = await open(dir.path, backend, q)
    return store.repo
  }

  it('fills to the quota, evicts cached content least recently used first, never pinned or added content; then 507 with everything intact', async () => {
    const repo = await fresh({ max: 8 * KiB })
    const cached = [content(2 * KiB), content(2 * KiB), content(2 * KiB), content(2 * KiB)]
    const ch: string[] = [] // c1..c4
    for (const [i, b] of cached.entries()) ch.push(await add(repo, b, `c${i + 1}.bin`, false))
    // exactly full: every byte fits, nothing was evicted
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 8 * KiB, max_bytes: 8 * KiB, evicted_objects: 0 })
    expect((await repo.chunks.stats()).bytes).toBe(8 * KiB)
    for (const h of ch) expect(await has(repo, h)).toBe(true)

    // use c1 and c3: the order becomes c2, c4, c1, c3
    expect(await readBack(repo, ch[0])).toBe(ch[0])
    await repo.info(ch[2])

    const a = await add(repo, content(2 * KiB), 'a.bin', true)
    expect(await has(repo, ch[1]), 'c2, least recently used, is evicted').toBe(false)
    for (const h of [ch[0], ch[2], ch[3]]) expect(await has(repo, h)).toBe(true)

    const b = await add(repo, content(2 * KiB), 'b.bin', true)
    expect(await has(repo, ch[3]), 'then c4').toBe(false)
    expect(await has(repo, ch[0])).toBe(true)
    expect(await has(repo, ch[2])).toBe(true)

    // pinned content is never evicted: c3 goes although c1 was used earlier
    await repo.pin(ch[0], 5)
    const d = await add(repo, content(2 * KiB), 'd.bin', true)
    expect(await has(repo, ch[2]), 'c3 evicted').toBe(false)
    expect(await has(repo, ch[0]), 'pinned c1 kept').toBe(true)
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 8 * KiB, evicted_objects: 3, evicted_bytes: 6 * KiB })

    // only pinned (c1) and added (a, b, d) content is left: the next write fails
    const before = await collectList(repo)
    // its first chunk is already stored (a's): admitted without room, then swept with the failed add without touching a
    const aBytes = await collect(repo.read(a))
    const e = Buffer.concat([aBytes.subarray(0, CS), content(2 * KiB)])
    const err = await expectInsufficient(repo.importFile(once(e), { filename: 'e.bin' }, { added: true }))
    expect(err.message).toMatch(/storage\.max_bytes/)
    expect(err.details).toMatchObject({ max_bytes: 8 * KiB, needed_bytes: CS })
    const { status, body } = toErrorResponse(err)
    expect(status).toBe(507)
    expect(body).toMatchObject({ error: 'Insufficient Storage', code: 507, error_code: 'INSUFFICIENT_STORAGE' })
    // a cached write (as from a peer) fails the same way
    await expectInsufficient(repo.importFile(once(content(CS)), { filename: 'f.bin' }, { added: false }))

    expect(await collectList(repo)).toEqual(before)
    for (const h of [ch[0], a, b, d]) expect(await readBack(repo, h)).toBe(h)
    expect(await repo.getPin(ch[0])).toBeDefined()
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 8 * KiB, evicted_objects: 3 })
    expect((await repo.chunks.stats()).bytes).toBe(8 * KiB)
    await expectIntact(repo)
    // the failed adds left nothing for gc to find
    expect(await repo.gc()).toMatchObject({ objects_removed: 0, chunks_removed: 0 })
  })

  it('content already stored is written at full quota without evicting anything', async () => {
    const repo = await fresh({ max: 4 * KiB })
    const bytes = content(2 * KiB)
    const cachedBytes = content(2 * KiB)
    const a = await add(repo, bytes, 'a.bin', true)
    const c = await add(repo, cachedBytes, 'c.bin', false)
    // same bytes again, under another name and as a cached copy: nothing new to store
    expect(await add(repo, bytes, 'again.bin', true)).toBe(a)
    expect(await add(repo, cachedBytes, 'cached-again.bin', true)).toBe(c)
    expect(await has(repo, c)).toBe(true)
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 4 * KiB, evicted_objects: 0 })
    // c is a local add now: nothing evictable, a new chunk does not fit
    await expectInsufficient(add(repo, content(1), 'x.bin', true))
    await expectIntact(repo)
  })

  it('holds and wanted pins are never evicted', async () => {
    const repo = await fresh({ max: 6 * KiB })
    const held = await add(repo, content(2 * KiB), 'held.bin', false)
    const wanted = await add(repo, content(2 * KiB), 'wanted.bin', false)
    const cached = await add(repo, content(2 * KiB), 'cached.bin', false)
    await repo.hold(held, 'peerA', { size: 2 * KiB, priority: 1 })
    await repo.wantPin(wanted, 3) // fetched for a pin, not yet turned into one
    // held, then wanted, are the least recently used: they would go first were they not kept
    await repo.info(held)
    await repo.info(wanted)
    await repo.info(cached)
    expect(await repo.evictionCandidates()).toEqual([cached])
    await add(repo, content(2 * KiB), 'n.bin', true)
    expect(await has(repo, cached)).toBe(false)
    expect(await has(repo, held)).toBe(true)
    expect(await has(repo, wanted)).toBe(true)
    await expectInsufficient(add(repo, content(KiB), 'm.bin', true))
    await expectIntact(repo)
  })

  it('evicting a cached directory takes its children, except a pinned one', async () => {
    const repo = await fresh({ max: 8 * KiB })
    const files = [content(2 * KiB), content(2 * KiB), content(2 * KiB)]
    const guard = repo.guard()
    const entries: DirEntry[] = []
    try {
      for (const [i, b] of files.entries()) {
        const rec = await repo.importFile(once(b), { filename: `f${i}` }, { added: false, guard })
        entries.push({ name: `f${i}`, type: 'file', hash: rec.hash, size: rec.size })
      }
      await repo.commitDirectory(entries, { filename: 'cached-dir' }, { added: false, guard })
    } finally {
      guard.release()
    }
    const dirHash = (await collectList(repo)).find(i => i.is_directory)!.hash
    await repo.pin(entries[1].hash, 1)
    expect((await repo.quotaStatus()).used_bytes).toBe(6 * KiB)
    // a cached file used after the directory: the directory goes first
    const later = await add(repo, content(2 * KiB), 'later.bin', false)
    await add(repo, content(2 * KiB), 'new.bin', true)
    expect(await has(repo, dirHash), 'directory evicted').toBe(false)
    expect(await has(repo, entries[0].hash), 'child evicted with it').toBe(false)
    expect(await has(repo, entries[2].hash), 'child evicted with it').toBe(false)
    expect(await has(repo, entries[1].hash), 'pinned child kept').toBe(true)
    expect(await has(repo, later), 'more recently used file kept').toBe(true)
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 6 * KiB, evicted_objects: 3, evicted_bytes: 4 * KiB })
    await expectIntact(repo)
  })

  it('a folder add records no access time per file (their last use is their creation); the folder and re-added files get one', async () => {
    const repo = await fresh({ max: 64 * KiB })
    const tree = await tempDir('openhash-quota-tree-')
    try {
      await mkdir(join(tree.path, 'sub'))
      await writeFile(join(tree.path, 'a.txt'), content(300))
      await writeFile(join(tree.path, 'sub', 'b.txt'), content(400))
      const dup = content(500)
      const again = await add(repo, dup, 'dup.bin', false) // already stored: the folder's copy is a use of it
      await repo.flushAccess()
      const before = await repo.lastAccess(again)
      await writeFile(join(tree.path, 'dup.bin'), dup)
      const { record } = await importPath(repo, tree.path)
      await repo.flushAccess()
      const atKeys: string[] = []
      for await (const [k] of repo.kv.iterate({ prefix: 'at/' })) atKeys.push(k.slice(3))
      expect(atKeys.sort()).toEqual([record.hash, again].sort())
      expect(await repo.lastAccess(again)).toBeGreaterThan(before!)
      const a = (await repo.entries(record.hash)).find(e => e.name === 'a.txt')!
      const info = await repo.getObject(a.hash)
      expect(await repo.lastAccess(a.hash)).toBe(Date.parse(info!.created_at))
    } finally {
      await tree.cleanup()
    }
  })

  it('the access order survives a restart', async () => {
    const repo = await fresh({ max: 6 * KiB })
    const c = [await add(repo, content(2 * KiB), 'c1', false), await add(repo, content(2 * KiB), 'c2', false), await add(repo, content(2 * KiB), 'c3', false)]
    await readBack(repo, c[0]) // c1 becomes the most recently used; c2 the least
    const t = await repo.lastAccess(c[0])
    expect(t).toBeGreaterThan((await repo.lastAccess(c[2]))!)
    await store!.close()
    store = await open(dir!.path, backend, { max: 6 * KiB })
    expect(await store.repo.lastAccess(c[0])).toBe(t)
    expect(await store.repo.evictionCandidates()).toEqual([c[1], c[2], c[0]])
    await add(store.repo, content(2 * KiB), 'n', true)
    expect(await has(store.repo, c[1])).toBe(false)
    expect(await has(store.repo, c[0])).toBe(true)
    expect(await has(store.repo, c[2])).toBe(true)
  })

  it('past the high-water mark, eviction runs in the background down to the low-water mark', async () => {
    const repo = await fresh({ max: 10 * KiB, high: 0.8, low: 0.5 })
    const c = []
    for (let i = 0; i < 4; i++) c.push(await add(repo, content(2 * KiB), `c${i}`, false))
    await repo.idle()
    // 8 KiB is not past 80%: nothing evicted
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 8 * KiB, evicted_objects: 0 })
    const a = await add(repo, content(KiB), 'a', true) // 9 KiB > 8 KiB
    await repo.idle()
    // down to <= 5 KiB: c0 (9 -> 7), c1 (7 -> 5)
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 5 * KiB, evicted_objects: 2, evicted_bytes: 4 * KiB })
    expect(await has(repo, c[0])).toBe(false)
    expect(await has(repo, c[1])).toBe(false)
    for (const h of [c[2], c[3], a]) expect(await has(repo, h)).toBe(true)
    await expectIntact(repo)
  })

  it('background eviction never takes the object whose write started it', async () => {
    const repo = await fresh({ max: 4 * KiB, high: 0.5, low: 0.25 })
    const c = await add(repo, content(3 * KiB), 'c', false) // 3 KiB > 2 KiB, but c is the only candidate
    await repo.idle()
    expect(await has(repo, c)).toBe(true)
    expect((await repo.quotaStatus()).evicted_objects).toBe(0)
    // the next write evicts it in the background
    const a = await add(repo, content(KiB / 2), 'a', true)
    await repo.idle()
    expect(await has(repo, c)).toBe(false)
    expect(await has(repo, a)).toBe(true)
    expect((await repo.quotaStatus()).used_bytes).toBe(KiB / 2)
  })

  it('concurrent writes never take the store past the quota', async () => {
    const repo = await fresh({ max: 16 * KiB })
    for (let i = 0; i < 4; i++) await add(repo, content(2 * KiB), `c${i}`, false)
    let peak = 0
    let sampling = true
    const sample = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await repo.quotaStatus()).used_bytes)
        await new Promise(resolve => setImmediate(resolve))
      }
    })()
    const results = await Promise.allSettled(Array.from({ length: 6 }, async (_, i) => await add(repo, content(4 * KiB + i), `n${i}`, true)))
    sampling = false
    await sample
    // which writes fit depends on how their chunks interleave; a failure is only ever the quota
    for (const r of results) if (r.status === 'rejected') expect(r.reason.code).toBe('INSUFFICIENT_STORAGE')
    expect(peak).toBeGreaterThan(8 * KiB)
    expect(peak).toBeLessThanOrEqual(16 * KiB)
    // the count matches the store, and what is stored (no chunk is shared here)
    const used = (await repo.quotaStatus()).used_bytes
    expect(used).toBeLessThanOrEqual(16 * KiB)
    expect((await repo.chunks.stats()).bytes).toBe(used)
    let sum = 0
    for await (const i of repo.list()) sum += i.size
    expect(sum).toBe(used)
    await expectIntact(repo)
  })

  it('max_bytes 0 is unlimited: nothing is evicted', async () => {
    const repo = await fresh({ max: 0 })
    const c = await add(repo, content(4 * KiB), 'c', false)
    await add(repo, content(64 * KiB), 'big', true)
    await repo.idle()
    expect(await has(repo, c)).toBe(true)
    expect(await repo.quotaStatus()).toMatchObject({ used_bytes: 68 * KiB, max_bytes: 0, evicted_objects: 0 })
  })
})

async function collectList (repo: Repo): Promise<Array<{ hash: string, is_directory: boolean }>> {
  const out = []
  for await (const i of repo.list()) out.push(i)
  return out
}
