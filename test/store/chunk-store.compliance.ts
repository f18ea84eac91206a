/**
 * Compliance suite every ChunkStore backend must pass (see the contract in
 * src/store/chunk-store.ts).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { ChunkStore } from '../../src/store/chunk-store.js'
import { sha256hex } from '../../src/format/hash.js'
import { prng } from '../helpers/tmp.js'

export interface ChunkStoreFactory {
  /** A fresh store (not opened); `reopen` makes a new instance over the same data. */
  make(): Promise<{ store: ChunkStore, reopen: () => Promise<ChunkStore>, cleanup: () => Promise<void> }>
}

export function chunkStoreCompliance (name: string, factory: ChunkStoreFactory): void {
  describe(`ChunkStore compliance: ${name}`, () => {
    let store: ChunkStore
    let reopen: () => Promise<ChunkStore>
    let cleanup: () => Promise<void>
    const rand = prng(7)
    const chunk = (n: number): { hash: string, bytes: Buffer } => {
      const bytes = rand(n)
      return { hash: sha256hex(bytes), bytes }
    }

    beforeEach(async () => {
      ({ store, reopen, cleanup } = await factory.make())
      await store.open()
    })
    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    it('staged chunks are visible at once and durable after flush', async () => {
      const a = chunk(1000)
      expect(await store.has(a.hash)).toBe(false)
      await store.put(a.hash, a.bytes)
      expect(await store.has(a.hash)).toBe(true)
      expect(Buffer.from(await store.get(a.hash))).toEqual(a.bytes)
      await store.flush()
      await store.close()
      store = await reopen()
      await store.open()
      expect(Buffer.from(await store.get(a.hash))).toEqual(a.bytes)
    })

    it('get of a missing chunk throws NOT_FOUND', async () => {
      await expect(store.get('0'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })

    it('put is idempotent and counts a chunk once', async () => {
      const a = chunk(500)
      expect(await store.put(a.hash, a.bytes), 'a new chunk').toBe(true)
      expect(await store.put(a.hash, a.bytes), 'staged already').toBe(false)
      await store.flush()
      expect(await store.put(a.hash, a.bytes), 'stored already').toBe(false)
      await store.flush()
      expect(await store.stats()).toMatchObject({ count: 1, bytes: 500 })
      await store.close()
      store = await reopen()
      await store.open()
      expect(await store.put(a.hash, a.bytes), 'stored already, after a reopen').toBe(false)
    })

    it('keeps an empty chunk and a large one', async () => {
      const empty = chunk(0)
      const big = chunk(1024 * 1024)
      await store.put(empty.hash, empty.bytes)
      await store.put(big.hash, big.bytes)
      await store.flush()
      expect((await store.get(empty.hash)).byteLength).toBe(0)
      expect(sha256hex(await store.get(big.hash))).toBe(big.hash)
      if (store.ownsReads === true) {
        // each read of a large chunk is memory of its own (it may be moved to a worker)
        const [x, y] = [await store.get(big.hash), await store.get(big.hash)]
        expect(x.buffer).not.toBe(y.buffer)
        expect(x.buffer.byteLength).toBeLessThan(big.bytes.byteLength + 4096)
      }
    })

    it('lists durable chunks with sizes in hash order, and counts them', async () => {
      const chunks = [chunk(10), chunk(20), chunk(30), chunk(40)]
      for (const c of chunks) await store.put(c.hash, c.bytes)
      await store.flush()
      const listed: Array<{ hash: string, size: number }> = []
      for await (const e of store.entries()) listed.push(e)
      const expected = chunks.map(c => ({ hash: c.hash, size: c.bytes.length })).sort((x, y) => x.hash < y.hash ? -1 : 1)
      expect(listed).toEqual(expected)
      expect(await store.stats()).toMatchObject({ count: 4, bytes: 100 })
    })

    it('delete removes durably, returns freed bytes, ignores missing chunks', async () => {
      const a = chunk(100)
      const b = chunk(200)
      await store.put(a.hash, a.bytes)
      await store.put(b.hash, b.bytes)
      await store.flush()
      expect(await store.delete([a.hash, '1'.repeat(64), a.hash])).toBe(100)
      expect(await store.has(a.hash)).toBe(false)
      expect(await store.has(b.hash)).toBe(true)
      await store.close()
      store = await reopen()
      await store.open()
      expect(await store.has(a.hash)).toBe(false)
      expect(await store.stats()).toMatchObject({ count: 1, bytes: 200 })
    })

    it('compact keeps every live chunk readable', async () => {
      const chunks = Array.from({ length: 40 }, () => chunk(4096))
      for (const c of chunks) await store.put(c.hash, c.bytes)
      await store.flush()
      await store.delete(chunks.slice(0, 30).map(c => c.hash))
      await store.compact()
      for (const c of chunks.slice(30)) expect(Buffer.from(await store.get(c.hash))).toEqual(c.bytes)
      for (const c of chunks.slice(0, 30)) expect(await store.has(c.hash)).toBe(false)
      await store.close()
      store = await reopen()
      await store.open()
      for (const c of chunks.slice(30)) expect(sha256hex(await store.get(c.hash))).toBe(c.hash)
    })

    it('concurrent puts of many chunks all land', async () => {
      const chunks = Array.from({ length: 200 }, (_, i) => chunk(1000 + i))
      await Promise.all(chunks.map(async c => await store.put(c.hash, c.bytes)))
      await store.flush()
      expect((await store.stats()).count).toBe(200)
      for (const c of chunks) expect(sha256hex(await store.get(c.hash))).toBe(c.hash)
    })
  })
}
