/**
 * Reference counting and garbage collection, checked against a model:
 * random sequences of add / add-dir / pin / unpin / rm / gc on a real store,
 * for both chunk backends. After every gc, everything the model says is live
 * reads back intact, everything it says is garbage is gone (objects and
 * chunks), and verify reports no problem.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { createHash } from 'node:crypto'
import type { Repo } from '../../src/store/repo.js'
import { sha256hex } from '../../src/format/hash.js'
import type { DirEntry } from '../../src/format/directory.js'
import { collect, once, prng } from '../helpers/tmp.js'
import { openTestStore } from '../helpers/repo.js'

const CS = 1024

/** A pool of chunk-sized blocks; files are sequences of blocks, so they share chunks. */
function blockPool (seed: number, n: number): Buffer[] {
  const r = prng(seed)
  return Array.from({ length: n }, () => r(CS))
}

async function addBytes (repo: Repo, bytes: Buffer, name: string, added = true): Promise<string> {
  const rec = await repo.importFile(once(bytes), { filename: name }, { added })
  expect(rec.hash).toBe(sha256hex(bytes))
  return rec.hash
}

async function addDir (repo: Repo, files: Array<{ name: string, bytes: Buffer }>): Promise<string> {
  const guard = repo.guard()
  try {
    const entries: DirEntry[] = []
    for (const f of files) {
      const rec = await repo.importFile(once(f.bytes), { filename: f.name }, { added: false, guard })
      entries.push({ name: f.name, type: 'file', hash: rec.hash, size: rec.size })
    }
    const dir = await repo.commitDirectory(entries, { filename: 'dir' }, { added: true, guard })
    return dir.hash
  } finally {
    guard.release()
  }
}

function chunksOf (bytes: Buffer): string[] {
  const out: string[] = []
  for (let off = 0; off < bytes.length; off += CS) out.push(sha256hex(bytes.subarray(off, off + CS)))
  return out
}

interface Model {
  files: Map<string, Buffer>
  dirs: Map<string, string[]>
  added: Set<string>
  pinned: Set<string>
}

function liveSet (m: Model): Set<string> {
  const live = new Set<string>()
  const visit = (h: string): void => {
    if (live.has(h)) return
    live.add(h)
    for (const c of m.dirs.get(h) ?? []) visit(c)
  }
  for (const h of m.added) visit(h)
  for (const h of m.pinned) visit(h)
  return live
}

async function checkAgainstModel (repo: Repo, m: Model): Promise<void> {
  const live = liveSet(m)
  const liveChunks = new Set<string>()
  for (const [h, bytes] of m.files) {
    if (live.has(h)) {
      expect(createHash('sha256').update(await collect(repo.read(h))).digest('hex')).toBe(h)
      for (const c of chunksOf(bytes)) liveChunks.add(c)
    } else {
      expect(await repo.getObject(h)).toBeUndefined()
    }
  }
  for (const h of m.dirs.keys()) {
    if (live.has(h)) expect((await repo.entries(h)).length).toBe(m.dirs.get(h)!.length)
    else expect(await repo.getObject(h)).toBeUndefined()
  }
  const stored = new Set<string>()
  for await (const { hash } of repo.chunks.entries()) stored.add(hash)
  expect([...stored].sort()).toEqual([...liveChunks].sort())
  const v = await repo.verify()
  expect(v.problems).toEqual([])
}

for (const backend of ['pack', 'leveldb'] as const) {
  describe(`refcounts and gc (${backend})`, () => {
    let cleanup: (() => Promise<void>) | undefined
    afterEach(async () => { await cleanup?.(); cleanup = undefined })

    it('roots A and B share chunks: pin A, pin B, unpin A, pin A, unpin B, gc -> A intact', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const pool = blockPool(1, 6)
      const A = Buffer.concat([pool[0], pool[1], pool[2], pool[3]])
      const B = Buffer.concat([pool[0], pool[1], pool[4], pool[5].subarray(0, 100)])
      const a = await addBytes(repo, A, 'a', false)
      const b = await addBytes(repo, B, 'b', false)
      await repo.pin(a); await repo.pin(b); await repo.unpin(a); await repo.pin(a); await repo.unpin(b)
      const res = await repo.gc()
      expect(res.objects_removed).toBe(1) // B
      expect(await repo.getObject(b)).toBeUndefined()
      expect(sha256hex(await collect(repo.read(a)))).toBe(a)
      const stored: string[] = []
      for await (const e of repo.chunks.entries()) stored.push(e.hash)
      expect(stored.sort()).toEqual([...new Set(chunksOf(A))].sort())
      expect((await repo.verify()).problems).toEqual([])
    })

    it('the same file added twice stores its chunks once; rm releases the local add', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const bytes = Buffer.concat(blockPool(2, 5))
      const h1 = await addBytes(repo, bytes, 'x')
      const before = await repo.chunks.stats()
      const h2 = await addBytes(repo, bytes, 'y')
      expect(h2).toBe(h1)
      expect(await repo.chunks.stats()).toEqual(before)
      expect((await repo.info(h1)).ref_count).toBe(1)
      expect((await repo.info(h1)).filename).toBe('x')
      await repo.rm(h1)
      await expect(repo.rm(h1)).rejects.toMatchObject({ code: 'NOT_ADDED' })
      const res = await repo.gc()
      expect(res).toMatchObject({ objects_removed: 1, chunks_removed: 5, bytes_freed: 5 * CS })
      expect((await repo.chunks.stats()).count).toBe(0)
    })

    it('everything inside a pinned directory survives gc; unpinning releases it all', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const pool = blockPool(3, 4)
      const files = [{ name: 'one', bytes: Buffer.concat([pool[0], pool[1]]) }, { name: 'two', bytes: Buffer.concat([pool[1], pool[2]]) }]
      const d = await addDir(repo, files)
      await repo.pin(d)
      await repo.rm(d)
      expect((await repo.gc()).objects_removed).toBe(0)
      for (const f of files) expect(sha256hex(await collect(repo.read(sha256hex(f.bytes))))).toBe(sha256hex(f.bytes))
      expect((await repo.info(sha256hex(files[0].bytes))).ref_count).toBe(1)
      await repo.unpin(d)
      const res = await repo.gc()
      expect(res.objects_removed).toBe(3)
      expect((await repo.chunks.stats()).count).toBe(0)
      expect((await repo.counters())).toEqual({ objects: 0, files: 0, directories: 0, logical_bytes: 0 })
    })

    it('random sequences of add/add-dir/pin/unpin/rm/gc match the model', async () => {
      for (let seed = 1; seed <= 12; seed++) {
        const store = await openTestStore(backend, CS)
        try {
          const repo = store.repo
          const r = prng(seed * 7919)
          const pick = (n: number): number => r(1)[0] % n
          const pool = blockPool(seed, 8)
          const m: Model = { files: new Map(), dirs: new Map(), added: new Set(), pinned: new Set() }
          const makeFile = (): Buffer => {
            const n = pick(5)
            const parts = Array.from({ length: n }, () => pool[pick(pool.length)])
            if (pick(2) === 0) parts.push(r(pick(CS)))
            return Buffer.concat(parts)
          }
          const known = (): string[] => [...m.files.keys(), ...m.dirs.keys()]
          for (let step = 0; step < 30; step++) {
            const op = pick(7)
            if (op === 0 || op === 1) {
              const bytes = makeFile()
              const h = await addBytes(repo, bytes, `f${step}`)
              m.files.set(h, bytes)
              m.added.add(h)
            } else if (op === 2) {
              const files = Array.from({ length: 1 + pick(3) }, (_, i) => ({ name: `e${i}`, bytes: makeFile() }))
              const h = await addDir(repo, files)
              for (const f of files) m.files.set(sha256hex(f.bytes), f.bytes)
              m.dirs.set(h, files.map(f => sha256hex(f.bytes)))
              m.added.add(h)
            } else if (op === 3 && known().length > 0) {
              const h = known()[pick(known().length)]
              if (liveSet(m).has(h)) { await repo.pin(h, 1 + pick(100)); m.pinned.add(h) }
            } else if (op === 4 && m.pinned.size > 0) {
              const h = [...m.pinned][pick(m.pinned.size)]
              await repo.unpin(h); m.pinned.delete(h)
            } else if (op === 5 && m.added.size > 0) {
              const h = [...m.added][pick(m.added.size)]
              await repo.rm(h); m.added.delete(h)
            } else {
              await repo.gc()
              await checkAgainstModel(repo, m)
              // forget what was collected so later re-adds start fresh in the model
              const live = liveSet(m)
              for (const h of [...m.files.keys()]) if (!live.has(h)) m.files.delete(h)
              for (const h of [...m.dirs.keys()]) if (!live.has(h)) m.dirs.delete(h)
            }
          }
          await repo.gc()
          await checkAgainstModel(repo, m)
        } finally {
          await store.cleanup()
        }
      }
    })

    it('adds running during gc lose nothing; their chunks are never collected', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const pool = blockPool(9, 16)
      // garbage sharing chunks with the adds to come
      for (let i = 0; i < 8; i++) await addBytes(repo, Buffer.concat([pool[i], pool[i + 1], pool[i + 2]]), `g${i}`, false)
      const expected: string[] = []
      const r = prng(11)
      for (let round = 0; round < 6; round++) {
        const adds = Array.from({ length: 6 }, async (_, i) => {
          const parts = [pool[(round + i) % 16], pool[(round + i + 3) % 16], r(CS), pool[(i * 5) % 16]]
          const bytes = Buffer.concat(parts)
          // feed slowly, a chunk at a time, so gc runs in the middle of the add
          const slow = async function * () { for (const p of parts) { yield p; await new Promise(resolve => setImmediate(resolve)) } }
          const rec = await repo.importFile(slow(), { filename: `a${round}-${i}` }, { added: true })
          expect(rec.hash).toBe(sha256hex(bytes))
          return rec.hash
        })
        const gcs = [repo.gc(), new Promise(resolve => setTimeout(resolve, 1)).then(async () => await repo.gc())]
        const hashes = await Promise.all(adds)
        await Promise.all(gcs)
        expected.push(...hashes)
        // garbage again for the next round
        await addBytes(repo, Buffer.concat([pool[round], pool[(round + 7) % 16]]), `g-${round}`, false)
      }
      await repo.gc()
      for (const h of expected) expect(sha256hex(await collect(repo.read(h)))).toBe(h)
      expect((await repo.verify()).problems).toEqual([])
    })

    it('an aborted add stores nothing and leaves no garbage', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const keep = Buffer.concat(blockPool(4, 3))
      await addBytes(repo, keep, 'keep')
      const before = await repo.chunks.stats()
      const ctl = new AbortController()
      const r = prng(12)
      const source = async function * () {
        for (let i = 0; i < 600; i++) {
          if (i === 300) ctl.abort()
          yield r(CS)
        }
      }
      await expect(repo.importFile(source(), { filename: 'big' }, { added: true, signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' })
      const after = await repo.chunks.stats()
      expect({ count: after.count, bytes: after.bytes }).toEqual({ count: before.count, bytes: before.bytes })
      expect((await repo.counters()).objects).toBe(1)
      expect((await repo.verify()).problems).toEqual([])
    })

    it('a file spanning several manifest segments reads back whole and by range', async () => {
      const store = await openTestStore(backend, CS)
      cleanup = store.cleanup
      const repo = store.repo
      const bytes = prng(13)(CS * 600 + 123) // > 2 segments of 256 chunks
      const h = await addBytes(repo, bytes, 'multi')
      expect((await repo.info(h)).chunk_count).toBe(601)
      expect(Buffer.compare(await collect(repo.read(h)), bytes)).toBe(0)
      for (const [offset, length] of [[0, 1], [CS - 1, 2], [CS * 256 - 5, 10], [CS * 512, CS * 3], [bytes.length - 7, 100]]) {
        expect(Buffer.compare(await collect(repo.read(h, { offset, length })), bytes.subarray(offset, offset + length))).toBe(0)
      }
      expect((await collect(repo.read(h, { offset: bytes.length }))).length).toBe(0)
    })
  })
}
