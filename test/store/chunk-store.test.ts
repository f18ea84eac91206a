import { join } from 'node:path'
import { appendFile, readdir } from 'node:fs/promises'
import { describe, it, expect } from 'vitest'
import { LevelChunkStore } from '../../src/store/chunks-level.js'
import { PackChunkStore } from '../../src/store/chunks-pack.js'
import { LevelKv } from '../../src/store/kv-level.js'
import { sha256hex } from '../../src/format/hash.js'
import { prng, tempDir } from '../helpers/tmp.js'
import { chunkStoreCompliance } from './chunk-store.compliance.js'

chunkStoreCompliance('LevelChunkStore', {
  async make () {
    const dir = await tempDir()
    const path = join(dir.path, 'chunks')
    return { store: new LevelChunkStore(path), reopen: async () => new LevelChunkStore(path), cleanup: dir.cleanup }
  }
})

/** A pack store owns its KV index: opening/closing the store opens/closes the KV with it here. */
function packWithKv (dir: string, maxPackBytes: number, syncAheadBytes?: number): PackChunkStore {
  const kv = new LevelKv(join(dir, 'meta'))
  const store = new PackChunkStore(join(dir, 'packs'), kv, { maxPackBytes, syncAheadBytes })
  const open = store.open.bind(store)
  const close = store.close.bind(store)
  store.open = async () => { await kv.open(); await open() }
  store.close = async () => { await close(); await kv.close() }
  return store
}

chunkStoreCompliance('PackChunkStore', {
  async make () {
    const dir = await tempDir()
    // small packs so compaction and rotation are exercised
    return { store: packWithKv(dir.path, 64 * 1024), reopen: async () => packWithKv(dir.path, 64 * 1024), cleanup: dir.cleanup }
  }
})

// a background fdatasync after every append: syncs race appends, rotation, flush and close
chunkStoreCompliance('PackChunkStore (sync ahead of every append)', {
  async make () {
    const dir = await tempDir()
    return { store: packWithKv(dir.path, 64 * 1024, 1), reopen: async () => packWithKv(dir.path, 64 * 1024, 1), cleanup: dir.cleanup }
  }
})

describe('PackChunkStore specifics', () => {
  it('compact removes dead packs and rewrites sparse ones, reclaiming disk', async () => {
    const dir = await tempDir()
    const store = packWithKv(dir.path, 64 * 1024)
    await store.open()
    const rand = prng(3)
    const chunks = Array.from({ length: 64 }, () => { const b = rand(8192); return { hash: sha256hex(b), bytes: b } })
    for (const c of chunks) await store.put(c.hash, c.bytes)
    await store.flush()
    const packsBefore = (await readdir(join(dir.path, 'packs'))).length
    expect(packsBefore).toBeGreaterThan(4)
    // keep every 8th chunk
    await store.delete(chunks.filter((_, i) => i % 8 !== 0).map(c => c.hash))
    const before = (await store.stats()).disk_bytes!
    const res = await store.compact()
    const after = (await store.stats()).disk_bytes!
    expect(res.files_removed).toBeGreaterThan(0)
    expect(after).toBeLessThan(before)
    expect(res.reclaimed_bytes).toBeGreaterThan(0)
    for (const [i, c] of chunks.entries()) {
      if (i % 8 === 0) expect(sha256hex(await store.get(c.hash))).toBe(c.hash)
      else expect(await store.has(c.hash)).toBe(false)
    }
    await store.close()
    await dir.cleanup()
  })

  it('a torn record at the end of a pack (crash mid-append) is dead space: old and new chunks stay readable', async () => {
    const dir = await tempDir()
    let store = packWithKv(dir.path, 1024 * 1024)
    await store.open()
    const rand = prng(5)
    const a = rand(1000)
    await store.put(sha256hex(a), a)
    await store.close()
    // a crash in the middle of an append: a partial header and some bytes, never indexed
    const packs = await readdir(join(dir.path, 'packs'))
    await appendFile(join(dir.path, 'packs', packs[0]), Buffer.concat([Buffer.from('OHC1'), rand(100)]))
    store = packWithKv(dir.path, 1024 * 1024)
    await store.open()
    const b = rand(3000)
    await store.put(sha256hex(b), b)
    await store.flush()
    expect(sha256hex(await store.get(sha256hex(a)))).toBe(sha256hex(a))
    expect(sha256hex(await store.get(sha256hex(b)))).toBe(sha256hex(b))
    expect(await store.stats()).toMatchObject({ count: 2, bytes: 4000 })
    await store.close()
    await dir.cleanup()
  })
})
