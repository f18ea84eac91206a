/**
 * Chunk store on append-only pack files, indexed in the metadata KV.
 *
 * Layout: <dir>/NNNNNNNN.pack files made of records, appended by
 * PackWriter (pack-file.ts). Index: KV keys `pk/<hash>` (pack-index.ts).
 * This file holds the store: reads, staging and flushes (alone or as a
 * group-commit participant), deletes and compaction.
 *
 * Durability: `flush()` fdatasyncs the pack, then writes the index entries in
 * one synced KV batch, so an indexed chunk is always on disk. Bytes appended
 * but never indexed (a crash before the batch) are dead space that
 * `compact()` reclaims. `compact()` copies live records out of mostly-dead
 * packs, re-indexes them (synced), then unlinks the old pack; that includes
 * the pack being written (the active pack) when it is mostly dead: the writer
 * moves to a new pack first.
 *
 * Write checks: an append that fails or is short is rolled back and nothing
 * is staged (pack-file.ts).
 */
import { mkdir, open, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkStore, ChunkStoreStats, CompactResult } from './chunk-store.js'
import { decodeCounters } from './chunk-store.js'
import type { KvOp, KvStore } from './kv.js'
import { isGroupCommit } from './kv-group.js'
import type { CommitParticipant } from './kv-group.js'
import { Mutex } from './mutex.js'
import { CorruptDataError, NotFoundError } from '../errors.js'
import type { SpaceReserve } from './space-reserve.js'
import { HEADER, PackWriter, isRecord, packIds, packName } from './pack-file.js'
import { INDEX_PREFIX, STATS_KEY, decodeLocation, deleteOps, indexOps, liveBytesPerPack, recordsIn, repointOps } from './pack-index.js'
import type { Location } from './pack-index.js'

export interface PackChunkStoreInit {
  /** Start a new pack file once the current one reaches this size. */
  maxPackBytes?: number
  /** compact() rewrites packs whose live fraction is below this. */
  compactThreshold?: number
  /**
   * Start a background fdatasync of the pack each time this many bytes were
   * appended since the last one (0: never), so the page cache is written back
   * while a large add or fetch goes on and its final flush has little left to
   * sync. Durability does not depend on it: flush() still syncs everything.
   */
  syncAheadBytes?: number
  /** The data directory's space reserve: released on a full disk, then checked before each append. */
  space?: SpaceReserve
}

export class PackChunkStore implements ChunkStore, CommitParticipant {
  readonly backend = 'pack'
  /**
   * Over a GroupCommitKv the store joins every group: the group syncs the
   * pack and writes its index entries in the same batch as the records that
   * name them, so a commit of an object needs no flush() of its own.
   */
  readonly joinsCommits: boolean
  /** get reads each record into a buffer of its own. */
  readonly ownsReads = true
  private readonly maxPackBytes: number
  private readonly compactThreshold: number
  private readonly readers = new Map<number, Promise<FileHandle>>()
  private readonly writer: PackWriter
  private staged = new Map<string, Location>()
  /** Chunks being made durable by the running flush (still visible to has/get). */
  private flushing?: Map<string, Location>
  /** Serialises appends (they pick offsets) and rotations. */
  private readonly writeLock = new Mutex()
  /** Serialises flushes; appends go on while a flush syncs. */
  private readonly flushLock = new Mutex()
  private readonly indexLock = new Mutex()
  private releaseIndex?: () => void
  private readonly space?: SpaceReserve

  constructor (private readonly dir: string, private readonly kv: KvStore, init: PackChunkStoreInit = {}) {
    this.maxPackBytes = init.maxPackBytes ?? 256 * 1024 * 1024
    this.compactThreshold = init.compactThreshold ?? 0.5
    this.space = init.space
    this.writer = new PackWriter(dir, { maxPackBytes: this.maxPackBytes, syncAheadBytes: init.syncAheadBytes ?? 16 * 1024 * 1024, space: init.space })
    this.joinsCommits = isGroupCommit(kv)
    if (isGroupCommit(kv)) kv.join(this)
  }

  async open (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const last = (await packIds(this.dir)).at(-1)
    const size = last === undefined ? 0 : (await stat(join(this.dir, packName(last)))).size
    await this.writer.open(last, size)
  }

  async close (): Promise<void> {
    await this.flush()
    await this.writer.close()
    for (const p of this.readers.values()) await (await p).close().catch(() => {})
    this.readers.clear()
  }

  private async locate (hash: string): Promise<Location | undefined> {
    const staged = this.staged.get(hash) ?? this.flushing?.get(hash)
    if (staged !== undefined) return staged
    const value = await this.kv.get(INDEX_PREFIX + hash)
    return value === undefined ? undefined : decodeLocation(value)
  }

  async has (hash: string): Promise<boolean> {
    return (await this.locate(hash)) !== undefined
  }

  private reader (id: number): Promise<FileHandle> {
    let p = this.readers.get(id)
    if (p === undefined) {
      p = open(join(this.dir, packName(id)), 'r')
      p.catch(() => this.readers.delete(id))
      this.readers.set(id, p)
    }
    return p
  }

  async get (hash: string): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      const loc = await this.locate(hash)
      if (loc === undefined) throw new NotFoundError(`chunk not found: ${hash}`, { hash })
      try {
        const fh = await this.reader(loc.pack)
        const buf = Buffer.allocUnsafe(HEADER + loc.length)
        const { bytesRead } = await fh.read(buf, 0, buf.length, loc.offset)
        if (bytesRead !== buf.length || !isRecord(buf, hash, loc)) {
          throw new CorruptDataError(`chunk ${hash}: pack record at ${packName(loc.pack)}:${loc.offset} is damaged`, { hash })
        }
        return buf.subarray(HEADER)
      } catch (err: any) {
        // compaction may have moved the chunk and removed its old pack: look again once
        if (attempt === 0 && (err?.code === 'ENOENT' || err?.code === 'EBADF')) {
          this.readers.delete(loc.pack)
          continue
        }
        throw err
      }
    }
  }

  async put (hash: string, bytes: Uint8Array): Promise<boolean> {
    if (this.staged.has(hash) || this.flushing?.has(hash) === true) return false
    return await this.writeLock.run(async () => {
      if (await this.locate(hash) !== undefined) return false
      this.staged.set(hash, await this.writer.append(hash, bytes))
      return true
    })
  }

  async flush (): Promise<void> {
    // grouped: the next group syncs the pack and indexes what is staged (prepare below)
    if (isGroupCommit(this.kv)) { await this.kv.sync(); return }
    await this.flushLock.run(async () => {
      const staged = await this.syncStaged()
      if (staged === undefined) return
      try {
        await this.indexLock.run(async () => { await this.kv.batch(await indexOps(this.kv, staged), { sync: true }) })
      } catch (err) {
        this.restage(staged) // a later flush retries
        throw err
      } finally {
        this.flushing = undefined
      }
    })
  }

  /** Group commit, first half: sync the pack, hand over the index entries of what is staged. */
  async prepare (): Promise<KvOp[]> {
    const staged = await this.syncStaged()
    if (staged === undefined) return []
    try {
      // the counters are read here and written by the group: no delete or re-index may come between
      await this.holdIndex()
      return await indexOps(this.kv, staged)
    } catch (err) {
      this.settle(false)
      throw err
    }
  }

  /** Group commit, second half: indexed; or, on failure, staged again for the next group. */
  settle (ok: boolean): void {
    this.releaseIndex?.()
    this.releaseIndex = undefined
    const flushing = this.flushing
    this.flushing = undefined
    if (!ok && flushing !== undefined) this.restage(flushing)
  }

  /**
   * Take the staged chunks (appends go on meanwhile) and fdatasync the pack
   * they are in; they stay visible as `flushing` until indexed. Packs rotated
   * away from were synced by rotate(). Undefined when nothing is staged.
   */
  private async syncStaged (): Promise<Map<string, Location> | undefined> {
    await this.writer.closeRetired()
    if (this.staged.size === 0) return undefined
    const { staged, dirty } = await this.writeLock.run(async () => {
      const staged = this.staged
      this.staged = new Map()
      this.flushing = staged
      return { staged, dirty: this.writer.takeDirty() }
    })
    try {
      if (dirty !== undefined) await dirty.datasync().catch((err) => { throw this.writer.failed(err) })
    } catch (err) {
      this.restage(staged)
      this.flushing = undefined
      throw err
    }
    return staged
  }

  /** Chunks whose sync or indexing failed: staged again (the pack synced again) for the next try. */
  private restage (staged: Map<string, Location>): void {
    for (const [h, loc] of staged) if (!this.staged.has(h)) this.staged.set(h, loc)
    this.writer.markDirty()
  }

  /** Take indexLock until settle() lets it go. */
  private async holdIndex (): Promise<void> {
    await new Promise<void>(resolve => {
      void this.indexLock.run(async () => {
        resolve()
        await new Promise<void>(resolve => { this.releaseIndex = resolve })
      })
    })
  }

  async delete (hashes: string[]): Promise<number> {
    if (hashes.length === 0) return 0
    const { durable, freed } = await this.indexLock.run(async () => {
      const { ops, freed } = await deleteOps(this.kv, hashes)
      if (ops.length === 0) return { durable: Promise.resolve(), freed: 0 }
      return { durable: this.kv.batch(ops, { sync: true }), freed }
    })
    // awaited outside the lock: a group's prepare takes it
    await durable
    return freed
  }

  async * entries (): AsyncIterable<{ hash: string, size: number }> {
    for await (const [key, value] of this.kv.iterate({ prefix: INDEX_PREFIX })) {
      yield { hash: key.slice(INDEX_PREFIX.length), size: decodeLocation(value).length }
    }
  }

  async stats (): Promise<ChunkStoreStats> {
    const counters = decodeCounters(await this.kv.get(STATS_KEY))
    let disk = 0
    for (const id of await packIds(this.dir)) {
      disk += (await stat(join(this.dir, packName(id))).catch(() => ({ size: 0 }))).size
    }
    return { ...counters, disk_bytes: disk }
  }

  async compact (options: { threshold?: number } = {}): Promise<CompactResult> {
    const threshold = options.threshold ?? this.compactThreshold
    await this.flush()
    // one scan for live bytes per pack, a second one only if some pack must move
    const live = await liveBytesPerPack(this.kv)
    const selected = new Map<number, number>()
    for (const id of await packIds(this.dir)) {
      if (id === this.writer.id) continue
      const size = (await stat(join(this.dir, packName(id)))).size
      const liveBytes = live.get(id) ?? 0
      if (size === 0 || liveBytes / size < threshold) selected.set(id, size)
    }
    const active = await this.retireActive(live, threshold)
    if (active !== undefined) {
      live.set(active.id, active.live)
      selected.set(active.id, active.size)
    }
    const toMove = [...selected.keys()].some(id => (live.get(id) ?? 0) > 0)
      ? await recordsIn(this.kv, selected)
      : new Map<number, Array<[string, Location]>>()
    let reclaimed = 0
    let removed = 0
    // emptiest packs first: on a full disk, what they free makes room for the copies of the others
    const order = [...selected].sort((a, b) => (live.get(a[0]) ?? 0) - (live.get(b[0]) ?? 0))
    for (const [id, size] of order) {
      const records = toMove.get(id)
      if (records !== undefined) await this.movePack(id, records)
      const fh = this.readers.get(id)
      this.readers.delete(id)
      if (fh !== undefined) await (await fh).close().catch(() => {})
      await unlink(join(this.dir, packName(id)))
      reclaimed += size - (live.get(id) ?? 0)
      removed++
    }
    await this.space?.restore()
    return { reclaimed_bytes: reclaimed, files_removed: removed }
  }

  /**
   * The active pack, when mostly dead, is made an ordinary one: the writer
   * moves to a new pack so that compact() can rewrite and unlink it. Checked
   * again under both locks (no flush running, nothing staged: every record
   * of the pack is indexed, and no append can add one) with a fresh count of
   * its live bytes. Returns that pack, or undefined when it stays.
   */
  private async retireActive (live: Map<number, number>, threshold: number): Promise<{ id: number, size: number, live: number } | undefined> {
    const id = this.writer.id
    if (id === undefined || this.writer.size === 0 || (live.get(id) ?? 0) / this.writer.size >= threshold) return undefined
    return await this.flushLock.run(async () => await this.writeLock.run(async () => {
      if (this.writer.id !== id || this.staged.size > 0 || this.flushing !== undefined) return undefined
      const size = this.writer.size
      const packLive = (await liveBytesPerPack(this.kv, id)).get(id) ?? 0
      if (packLive / size >= threshold) return undefined
      try {
        await this.writer.rotate(id + 1)
      } catch (err) {
        throw this.writer.failed(err)
      }
      // no flush runs: close its handle now, so that unlinking it frees its space at once
      await this.writer.closeRetired()
      return { id, size, live: packLive }
    }))
  }

  /** Copy every live record of pack `id` to the writer and re-index it (synced). */
  private async movePack (id: number, batch: Array<[string, Location]>): Promise<void> {
    const moved = new Map<string, Location>()
    await this.writeLock.run(async () => {
      for (const [hash] of batch) {
        const bytes = await this.get(hash)
        moved.set(hash, await this.writer.append(hash, bytes, false))
      }
      await this.writer.sync()
    })
    const durable = await this.indexLock.run(async () => {
      // only re-point chunks that are still indexed in the old pack
      const ops = await repointOps(this.kv, id, moved)
      return { done: this.kv.batch(ops, { sync: true }) }
    })
    await durable.done
  }
}
