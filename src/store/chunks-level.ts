/**
 * Chunk store on LevelDB, in two databases so that memory stays bounded
 * whatever the size of what is added:
 *
 * - the index, at `<path>` (the database earlier versions kept everything
 *   in): 's' + hash -> u32 BE size + u64 BE value number; '!stats' -> counters;
 *   '!next' -> the next value number; 'x' + value number -> a value whose
 *   chunk was deleted and that compact() still has to reclaim;
 * - the values, at `<path>/values`: u64 BE value number -> chunk bytes.
 *
 * Value numbers only grow, so every memtable LevelDB flushes holds a key range
 * above all earlier ones: the table goes straight to level 2 and later moves
 * down by a rename (a "trivial move"), never merged. Chunk bytes are written
 * twice (log and table) instead of once per level, and compaction never maps
 * them into memory. Each memtable (1 MiB) becomes one table of about 1 MiB,
 * and at most 64 tables are open (mapped) at a time, so reading a file maps at
 * most ~64 MiB of it, whatever its size. Writes go out in batches of at most
 * 1 MiB through LevelDB's array batch, whose native copy is freed as soon as
 * it is written (a chained batch's lives until the JS garbage collector runs).
 *
 * Durability: `flush()` writes what is staged, fsyncs the values' log files
 * (LevelDB closes a full memtable's log without syncing it, so a synced write
 * alone would not cover it), then writes the index entries and fsyncs the
 * index's log files. An index entry is only ever written for a value already
 * durable; values past the durable '!next' (written before a crash, never
 * indexed) are removed at open.
 *
 * Stores written before this layout keep 'd' + hash -> bytes in the index
 * database with a 4-byte size value; they stay readable and deletable.
 * Keys, values and index batches: level-layout.ts.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import type { ChunkStore, ChunkStoreStats, CompactResult } from './chunk-store.js'
import { decodeCounters } from './chunk-store.js'
import { Mutex } from './mutex.js'
import { NotFoundError, StoreLockedError } from '../errors.js'
import { asDiskFull, isDiskFull } from '../disk-full.js'
import { NEXT_KEY, STATS_KEY, decodeIndex, decodeNumber, indexBatch, syncLogs, unindexBatch, valueKey } from './level-layout.js'

const MiB = 1024 * 1024
/** Staged bytes written as one batch (and so one memtable, one table). */
const VALUE_BATCH_BYTES = MiB
/** Values written but not yet indexed, past which put() indexes them (bounded memory without flushes). */
const MAX_PENDING = 1024

type Bytes = Uint8Array

export class LevelChunkStore implements ChunkStore {
  readonly backend = 'leveldb'
  private readonly index: ClassicLevel<string, Bytes>
  private readonly values: ClassicLevel<Bytes, Bytes>
  private readonly valuesPath: string
  /** Chunks not yet written: copies, or the caller's buffer while its put awaits the write. */
  private staged = new Map<string, Bytes>()
  private stagedBytes = 0
  /** The batch being written, still visible to has/get until it lands. */
  private writing?: Map<string, Bytes>
  /** Written to the values database, not yet indexed. */
  private pending = new Map<string, { size: number, n: number }>()
  private next = 0
  /** Writes to the values / index databases since their logs were last synced. */
  private valuesUnsynced = false
  private indexUnsynced = false
  private readonly lock = new Mutex()

  /** `onDiskFull` hears of every write that met a full disk (e.g. to release the space reserve). */
  constructor (private readonly path: string, private readonly onDiskFull?: () => void) {
    this.valuesPath = join(path, 'values')
    this.index = new ClassicLevel<string, Bytes>(path, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: 4 * MiB,
      compression: false
    })
    this.values = new ClassicLevel<Bytes, Bytes>(this.valuesPath, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      // one memtable per ~1 MiB batch: tables of ~1 MiB, flushed straight to level 2
      writeBufferSize: VALUE_BATCH_BYTES,
      // the least LevelDB allows (74 files, 64 tables open): bounds the mapped bytes
      maxOpenFiles: 74,
      // a compaction (after deletes) splits its output into tables of one 1 MiB chunk
      maxFileSize: MiB,
      compression: false
    })
  }

  async open (): Promise<void> {
    await mkdir(this.path, { recursive: true })
    try {
      await this.index.open()
    } catch (err: any) {
      if (err?.cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(`database ${this.path} is locked by another process`, { path: this.path })
      throw this.failed(err)
    }
    try {
      await mkdir(this.valuesPath, { recursive: true })
      await this.values.open()
      this.next = decodeNumber(await this.index.get(NEXT_KEY))
      // values written before a crash that no durable index entry names
      await this.values.clear({ gte: valueKey(this.next) })
    } catch (err) {
      await this.values.close().catch(() => {})
      await this.index.close()
      throw this.failed(err)
    }
  }

  /** A full disk becomes the typed disk-full error (and is reported to onDiskFull). */
  private failed (err: unknown): unknown {
    if (!isDiskFull(err)) return err
    this.onDiskFull?.()
    return asDiskFull(err, this.path)
  }

  /** Run a write; a full disk surfaces as the typed disk-full error. */
  private async checked<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw this.failed(err)
    }
  }

  async close (): Promise<void> {
    if (this.index.status !== 'open') return
    await this.flush()
    await this.values.close()
    await this.index.close()
  }

  private staging (hash: string): boolean {
    return this.staged.has(hash) || this.writing?.has(hash) === true || this.pending.has(hash)
  }

  /** Index lookups are synchronous: small values, mostly in memory, and no await between check and staging in put. */
  private indexed (hash: string): Bytes | undefined {
    return this.index.getSync('s' + hash)
  }

  async has (hash: string): Promise<boolean> {
    return this.staging(hash) || this.indexed(hash) !== undefined
  }

  async get (hash: string): Promise<Bytes> {
    const staged = this.staged.get(hash) ?? this.writing?.get(hash)
    // a copy: a staged chunk may be the caller's buffer (see put)
    if (staged !== undefined) return Uint8Array.prototype.slice.call(staged)
    const written = this.pending.get(hash)
    let n = written?.n
    if (n === undefined) {
      const entry = this.indexed(hash)
      if (entry === undefined) throw new NotFoundError(`chunk not found: ${hash}`, { hash })
      n = decodeIndex(entry).n
      if (n === undefined) {
        const old = await this.index.get('d' + hash)
        if (old === undefined) throw new NotFoundError(`chunk not found: ${hash}`, { hash })
        return old
      }
    }
    // synchronous too: a copy out of a mapped table; through the thread pool it
    // was slower, and its concurrent native copies added ~5-10 MiB to the RSS
    const value = this.values.getSync(valueKey(n))
    if (value === undefined) throw new NotFoundError(`chunk not found: ${hash}`, { hash })
    return value
  }

  async put (hash: string, bytes: Bytes): Promise<boolean> {
    if (this.staging(hash) || this.indexed(hash) !== undefined) return false
    // callers may reuse their buffers once put resolves: a chunk that fills a
    // batch is written before put resolves, so needs no copy; smaller ones do
    const whole = bytes.byteLength >= VALUE_BATCH_BYTES
    this.staged.set(hash, whole ? bytes : Uint8Array.prototype.slice.call(bytes))
    this.stagedBytes += bytes.byteLength
    if (whole || this.stagedBytes >= VALUE_BATCH_BYTES || this.pending.size >= MAX_PENDING) {
      await this.checked(async () => await this.lock.run(async () => {
        await this.writeStaged()
        if (this.pending.size >= MAX_PENDING) await this.commitIndex()
      }))
    }
    return true
  }

  async flush (): Promise<void> {
    await this.checked(async () => await this.lock.run(async () => { await this.flushLocked() }))
  }

  private async flushLocked (): Promise<void> {
    await this.writeStaged()
    await this.commitIndex()
    if (this.indexUnsynced) {
      await syncLogs(this.path)
      this.indexUnsynced = false
    }
  }

  /** Write the staged chunks to the values database (not synced). Under the lock. */
  private async writeStaged (): Promise<void> {
    if (this.staged.size === 0) return
    const staged = this.staged
    this.writing = staged
    this.staged = new Map()
    this.stagedBytes = 0
    try {
      // put checks and stages with no await in between: no chunk here is indexed or pending
      const ops: Array<{ type: 'put', key: Bytes, value: Bytes }> = []
      const numbered: Array<[string, { size: number, n: number }]> = []
      for (const [hash, bytes] of staged) {
        const n = this.next++
        ops.push({ type: 'put', key: valueKey(n), value: bytes })
        numbered.push([hash, { size: bytes.byteLength, n }])
      }
      // the array form: LevelDB's copy of the batch is freed as soon as it is written
      await this.values.batch(ops, { sync: false })
      this.valuesUnsynced = true
      for (const [hash, entry] of numbered) this.pending.set(hash, entry)
    } catch (err) {
      // not written: staged again (copies: a whole chunk may be a caller's buffer) for a later flush,
      // since puts that resolved true count on them; their value numbers stay unused
      for (const [hash, bytes] of staged) {
        if (this.staged.has(hash)) continue
        this.staged.set(hash, Uint8Array.prototype.slice.call(bytes))
        this.stagedBytes += bytes.byteLength
      }
      throw err
    } finally {
      this.writing = undefined
    }
  }

  /** Make the written values durable, then index them (not synced). Under the lock. */
  private async commitIndex (): Promise<void> {
    if (this.pending.size === 0) return
    if (this.valuesUnsynced) {
      await syncLogs(this.valuesPath)
      this.valuesUnsynced = false
    }
    const ops = indexBatch(await this.index.get(STATS_KEY), this.pending, this.next)
    await this.index.batch(ops, { sync: false })
    this.indexUnsynced = true
    this.pending.clear()
  }

  async delete (hashes: string[]): Promise<number> {
    if (hashes.length === 0) return 0
    return await this.checked(async () => await this.lock.run(async () => {
      const unique = [...new Set(hashes)]
      // chunks not indexed yet: index them first, so that they are deleted too
      if (unique.some(h => this.staging(h))) await this.flushLocked()
      const entries = await this.index.getMany(unique.map(h => 's' + h))
      const { ops, dead, freed } = unindexBatch(await this.index.get(STATS_KEY), unique, entries)
      if (ops.length === 0) return 0
      await this.index.batch(ops, { sync: false })
      await syncLogs(this.path)
      this.indexUnsynced = false
      if (dead.length > 0) {
        await this.values.batch(dead.map(key => ({ type: 'del' as const, key })), { sync: false })
        this.valuesUnsynced = true
      }
      return freed
    }))
  }

  async * entries (): AsyncIterable<{ hash: string, size: number }> {
    for await (const [key, value] of this.index.iterator({ gte: 's', lt: 't' })) {
      yield { hash: key.slice(1), size: decodeIndex(value).size }
    }
  }

  async stats (): Promise<ChunkStoreStats> {
    return decodeCounters(await this.index.get(STATS_KEY))
  }

  async compact (): Promise<CompactResult> {
    await this.checked(async () => await this.lock.run(async () => {
      const markers: string[] = []
      for await (const key of this.index.keys({ gt: 'x', lt: 'y' })) markers.push(key)
      if (markers.length > 0) {
        const numbers = markers.map(k => parseInt(k.slice(1), 16)).sort((a, b) => a - b)
        await this.values.batch(numbers.map(n => ({ type: 'del' as const, key: valueKey(n) })), { sync: false })
        await syncLogs(this.valuesPath)
        this.valuesUnsynced = false
        // compact each run of consecutive deleted values: rewrites little besides them
        let start = numbers[0]
        for (let i = 1; i <= numbers.length; i++) {
          if (i < numbers.length && numbers[i] === numbers[i - 1] + 1) continue
          await this.values.compactRange(valueKey(start), valueKey(numbers[i - 1]))
          if (i < numbers.length) start = numbers[i]
        }
        await this.index.batch(markers.map(key => ({ type: 'del' as const, key })), { sync: false })
        this.indexUnsynced = true
      }
      // chunks of the earlier layout
      await this.index.compactRange('d', 'e')
    }))
    return { reclaimed_bytes: 0, files_removed: 0 }
  }
}
