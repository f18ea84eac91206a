/**
 * Chunk store on its own LevelDB, tuned for bulk values: 64 MiB write buffer,
 * no compression, batched writes. Keys: 'd' + hash -> bytes, 's' + hash ->
 * size (so listing never reads chunk bytes), '!stats' -> counters.
 * `flush()` writes all staged chunks in one synced batch.
 */
import { mkdir } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import type { ChunkStore, ChunkStoreStats, CompactResult } from './chunk-store.js'
import { decodeCounters, encodeCounters } from './chunk-store.js'
import { Mutex } from './mutex.js'
import { NotFoundError, StoreLockedError } from '../errors.js'

const STATS_KEY = '!stats'

function sizeValue (n: number): Uint8Array {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

export class LevelChunkStore implements ChunkStore {
  readonly backend = 'leveldb'
  private readonly db: ClassicLevel<string, Uint8Array>
  private staged = new Map<string, Uint8Array>()
  private stagedBytes = 0
  /** The batch being written, still visible to has/get until it lands. */
  private writing?: Map<string, Uint8Array>
  /** Batches written without sync since the last flush. */
  private unsynced = false
  private readonly lock = new Mutex()
  /** Staged bytes above which put() writes a (non-synced) batch, bounding memory. */
  private readonly maxStagedBytes = 8 * 1024 * 1024

  constructor (private readonly path: string, init: { writeBufferSize?: number } = {}) {
    this.db = new ClassicLevel<string, Uint8Array>(path, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: init.writeBufferSize ?? 64 * 1024 * 1024,
      compression: false
    })
  }

  async open (): Promise<void> {
    await mkdir(this.path, { recursive: true })
    try {
      await this.db.open()
    } catch (err: any) {
      if (err?.cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(`database ${this.path} is locked by another process`, { path: this.path })
      throw err
    }
  }

  async close (): Promise<void> {
    await this.flush()
    await this.db.close()
  }

  async has (hash: string): Promise<boolean> {
    return this.staged.has(hash) || this.writing?.has(hash) === true || await this.db.has('s' + hash)
  }

  async get (hash: string): Promise<Uint8Array> {
    const staged = this.staged.get(hash) ?? this.writing?.get(hash)
    if (staged !== undefined) return staged
    const value = await this.db.get('d' + hash)
    if (value === undefined) throw new NotFoundError(`chunk not found: ${hash}`, { hash })
    return value
  }

  async put (hash: string, bytes: Uint8Array): Promise<boolean> {
    if (this.staged.has(hash) || this.writing?.has(hash) === true || await this.db.has('s' + hash)) return false
    if (this.staged.has(hash) || this.writing?.has(hash) === true) return false // staged by a concurrent put meanwhile
    // copy: callers may reuse their buffers after put resolves
    this.staged.set(hash, Uint8Array.prototype.slice.call(bytes))
    this.stagedBytes += bytes.byteLength
    if (this.stagedBytes >= this.maxStagedBytes) await this.writeStaged(false)
    return true
  }

  async flush (): Promise<void> {
    await this.writeStaged(true)
  }

  private async writeStaged (sync: boolean): Promise<void> {
    await this.lock.run(async () => {
      if (this.staged.size === 0) {
        if (sync && this.unsynced) {
          await this.db.batch([{ type: 'del', key: '!sync' }], { sync: true })
          this.unsynced = false
        }
        return
      }
      const staged = this.staged
      this.writing = staged
      this.staged = new Map()
      this.stagedBytes = 0
      const keys = [...staged.keys()]
      const existing = await this.db.getMany(keys.map(h => 's' + h))
      const counters = decodeCounters(await this.db.get(STATS_KEY))
      const batch = this.db.batch()
      keys.forEach((hash, i) => {
        if (existing[i] !== undefined) return
        const bytes = staged.get(hash)!
        batch.put('d' + hash, bytes)
        batch.put('s' + hash, sizeValue(bytes.byteLength))
        counters.count += 1
        counters.bytes += bytes.byteLength
      })
      batch.put(STATS_KEY, encodeCounters(counters.count, counters.bytes))
      await batch.write({ sync })
      this.writing = undefined
      this.unsynced = !sync
    })
  }

  async delete (hashes: string[]): Promise<number> {
    if (hashes.length === 0) return 0
    return await this.lock.run(async () => {
      const unique = [...new Set(hashes)]
      const sizes = await this.db.getMany(unique.map(h => 's' + h))
      const counters = decodeCounters(await this.db.get(STATS_KEY))
      const batch = this.db.batch()
      let freed = 0
      unique.forEach((hash, i) => {
        const s = sizes[i]
        if (s === undefined) return
        const size = Buffer.from(s.buffer, s.byteOffset, s.byteLength).readUInt32BE(0)
        batch.del('d' + hash)
        batch.del('s' + hash)
        counters.count -= 1
        counters.bytes -= size
        freed += size
      })
      batch.put(STATS_KEY, encodeCounters(counters.count, counters.bytes))
      await batch.write({ sync: true })
      return freed
    })
  }

  async * entries (): AsyncIterable<{ hash: string, size: number }> {
    for await (const [key, value] of this.db.iterator({ gte: 's', lt: 't' })) {
      yield { hash: key.slice(1), size: Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0) }
    }
  }

  async stats (): Promise<ChunkStoreStats> {
    return decodeCounters(await this.db.get(STATS_KEY))
  }

  async compact (): Promise<CompactResult> {
    // LevelDB reclaims deleted values during its own compactions; nudge it.
    await this.db.compactRange('d', 'e')
    return { reclaimed_bytes: 0, files_removed: 0 }
  }
}
