/**
 * verify is read-only: every metadata key and value is the same before and
 * after it (no access times written, nothing else), on a store with files and
 * nested directories; and it still finds a damaged chunk.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Repo } from '../../src/store/repo.js'
import type { DirEntry } from '../../src/format/directory.js'
import type { ChunkBackend } from '../../src/store/open.js'
import { sha256hex } from '../../src/format/hash.js'
import { once, prng } from '../helpers/tmp.js'
import { openTestStore } from '../helpers/repo.js'
import { K, dec, enc, numValue, segmentValue } from '../../src/store/keys.js'
import type { ObjectRecord } from '../../src/store/records.js'

const CS = 1024

type Store = Awaited<ReturnType<typeof openTestStore>>

/** Every key and value of the metadata store, as text. */
async function snapshot (repo: Repo): Promise<Map<string, string>> {
  // pending last-access times are written first: what verify touched would show up here
  await repo.flushAccess()
  const out = new Map<string, string>()
  for await (const [k, v] of repo.kv.iterate({ prefix: '' })) out.set(k, Buffer.from(v).toString('hex'))
  return out
}

/** A tree: top/{a.bin, b.txt, sub/{c.bin, deeper/{d.bin, a.bin again}}}, plus a loose file. */
async function populate (repo: Repo): Promise<{ top: string, files: Record<string, Buffer> }> {
  const r = prng(7)
  const files = { a: r(3 * CS + 17), b: Buffer.from('hello verify\n'), c: r(5 * CS), d: r(CS - 1), loose: r(2 * CS + 5) }
  const guard = repo.guard()
  try {
    const file = async (name: string, bytes: Buffer): Promise<DirEntry> => {
      const rec = await repo.importFile(once(bytes), { filename: name }, { added: false, guard })
      expect(rec.hash).toBe(sha256hex(bytes))
      return { name, type: 'file', hash: rec.hash, size: rec.size }
    }
    const dir = async (name: string, entries: DirEntry[], added = false): Promise<DirEntry> => {
      const rec = await repo.commitDirectory(entries, { filename: name }, { added, guard })
      return { name, type: 'dir', hash: rec.hash, size: rec.size }
    }
    const deeper = await dir('deeper', [await file('a.bin', files.a), await file('d.bin', files.d)])
    const sub = await dir('sub', [await file('c.bin', files.c), deeper])
    const top = await dir('top', [await file('a.bin', files.a), await file('b.txt', files.b), sub], true)
    await repo.importFile(once(files.loose), { filename: 'loose.bin' }, { added: true })
    return { top: top.hash, files }
  } finally {
    guard.release()
  }
}

describe.each<ChunkBackend>(['pack', 'leveldb'])('verify is read-only (%s)', (backend) => {
  let store: Store | undefined
  afterEach(async () => { await store?.cleanup(); store = undefined })

  it('writes no key: the metadata store is the same before and after', async () => {
    store = await openTestStore(backend, CS)
    const { repo } = store
    await populate(repo)
    // directories read before verify have access times of their own: verify must not move them
    await repo.entries((await populate(repo)).top)
    const before = await snapshot(repo)
    expect([...before.keys()].some(k => k.startsWith('d/'))).toBe(true)
    const v = await repo.verify()
    expect(v.problems).toEqual([])
    expect(v.ok).toBe(true)
    expect(v.objects_checked).toBe(8) // 5 files (a, b, c, d, loose) + 3 directories
    const after = await snapshot(repo)
    expect(after).toEqual(before)
  })

  it('still finds a damaged chunk, and writes nothing then either', async () => {
    store = await openTestStore(backend, CS)
    const { repo } = store
    const { files } = await populate(repo)
    const victim = files.c.subarray(2 * CS, 3 * CS)
    const h = sha256hex(victim)
    // the chunk's bytes replaced under its name (its counts stay as they were)
    await repo.chunks.delete([h])
    const bad = Buffer.from(victim)
    bad[100] ^= 0x5a
    await repo.chunks.put(h, bad)
    await repo.chunks.flush()
    const before = await snapshot(repo)
    const v = await repo.verify()
    expect(v.ok).toBe(false)
    expect(v.problems).toContainEqual({ kind: 'chunk', hash: h, message: 'chunk bytes do not match their hash' })
    expect(v.problems).toContainEqual({ kind: 'object', hash: sha256hex(files.c), message: 'content does not match its hash' })
    expect(v.problems.filter(p => p.kind === 'chunk')).toHaveLength(1)
    expect(await snapshot(repo)).toEqual(before)
  })

  it('finds broken counts: object refs, a missing object, segments without a manifest, a chunk count', async () => {
    store = await openTestStore(backend, CS)
    const { repo } = store
    const { files } = await populate(repo)
    const a = sha256hex(files.a) // held by two directories
    const b = sha256hex(files.b) // held by top
    const d = sha256hex(files.d)
    const aRec = dec<ObjectRecord>((await repo.kv.get(K.object(a)))!)
    expect(aRec.refs).toBe(2)
    const stray = 'f'.repeat(32)
    await repo.kv.batch([
      { type: 'put', key: K.object(a), value: enc({ ...aRec, refs: 0 }) },
      { type: 'del', key: K.object(b) },
      // a segment naming d.bin's chunk under a manifest that does not exist; d's count stays 1
      { type: 'put', key: K.segment(stray, 0), value: segmentValue([d]) },
      { type: 'put', key: K.chunkRef(sha256hex(files.c.subarray(0, CS))), value: numValue(7) }
    ], { sync: true })
    const v = await repo.verify()
    expect(v.ok).toBe(false)
    expect(v.problems).toContainEqual({ kind: 'refcount', hash: a, message: 'object refs is 0, directories hold 2' })
    expect(v.problems).toContainEqual({ kind: 'object', hash: b, message: 'directory entry points to a missing object' })
    expect(v.problems).toContainEqual({ kind: 'manifest', hash: stray, message: 'manifest segments without a manifest record' })
    expect(v.problems).toContainEqual({ kind: 'refcount', hash: d, message: 'chunk refcount is 1, manifests hold 2' })
    expect(v.problems).toContainEqual({ kind: 'refcount', hash: sha256hex(files.c.subarray(0, CS)), message: 'chunk refcount is 7, manifests hold 1' })
    // in the fixed order: chunk counts, then manifests, then objects
    const at = (hash: string): number => v.problems.findIndex(p => p.hash === hash)
    expect(at(d)).toBeLessThan(at(stray))
    expect(at(stray)).toBeLessThan(at(b))
    expect(at(stray)).toBeLessThan(at(a))
    expect(v.problems).toHaveLength(5)
  })

  it('a file of one chunk is checked by that chunk alone: damaged, shared with a longer file, or missing', async () => {
    store = await openTestStore(backend, CS)
    const { repo } = store
    const { files } = await populate(repo)
    // a one-chunk file whose bytes are also a.bin's first chunk
    const head = files.a.subarray(0, CS)
    const h = sha256hex(head)
    expect((await repo.importFile(once(Buffer.from(head)), { filename: 'head.bin' }, { added: true })).hash).toBe(h)
    expect((await repo.verify()).problems).toEqual([])
    const bad = Buffer.from(head)
    bad[7] ^= 0x01
    await repo.chunks.delete([h])
    await repo.chunks.put(h, bad)
    // d.bin (one chunk, CS - 1 bytes) loses its chunk altogether
    const d = sha256hex(files.d)
    await repo.chunks.delete([d])
    await repo.chunks.flush()
    const v = await repo.verify()
    expect(v.ok).toBe(false)
    expect(v.problems.filter(p => p.kind === 'chunk')).toEqual([{ kind: 'chunk', hash: h, message: 'chunk bytes do not match their hash' }])
    const objects = v.problems.filter(p => p.kind === 'object')
    expect(objects).toContainEqual({ kind: 'object', hash: h, message: 'content does not match its hash' })
    expect(objects).toContainEqual({ kind: 'object', hash: sha256hex(files.a), message: 'content does not match its hash' })
    expect(objects).toContainEqual({ kind: 'object', hash: d, message: `missing chunk ${d}` })
    expect(objects).toHaveLength(3)
  })
})
