/**
 * Chunk store on append-only pack files, indexed in the metadata KV.
 *
 * Layout: <dir>/NNNNNNNN.pack files made of records
 *   [magic "OHC1" (4)][sha256 (32)][length u32 BE (4)][bytes]
 * Index: KV key `pk/<hash>` -> [pack u32][offset f64][length u32] (16 bytes),
 * counters at `pk!stats`.
 *
 * Durability: `flush()` fdatasyncs the pack, then writes the index entries in
 * one synced KV batch, so an indexed chunk is always on disk. Bytes appended
 * but never indexed (a crash before the batch) are dead space that
 * `compact()` reclaims. `compact()` copies live records out of mostly-dead
 * packs, re-indexes them (synced), then unlinks the old pack; that includes
 * the pack being written (the active pack) when it is mostly dead: the writer
 * moves to a new pack first.
 *
 * Write checks: an append whose write is short (libuv reports a full disk
 * mid-write as a short count, without an error) or fails is rolled back: the
 * pack is truncated to its last good end, nothing is staged, and the put
 * throws (a full disk as INSUFFICIENT_STORAGE, see disk-full.ts). With a
 * space reserve (space-reserve.ts), a full disk releases it and later
 * appends keep its size free.
 */
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkStore, ChunkStoreStats, CompactResult } from './chunk-store.js'
import { decodeCounters, encodeCounters } from './chunk-store.js'
import type { KvOp, KvStore } from './kv.js'
import { isGroupCommit } from './kv-group.js'
import type { CommitParticipant } from './kv-group.js'
import { Mutex } from './mutex.js'
import { CorruptDataError, NotFoundError } from '../errors.js'
import { asDiskFull, isDiskFull } from '../disk-full.js'
import type { SpaceReserve } from './space-reserve.js'
import { PACK_STATS, PREFIX } from './keys.js'

const MAGIC = Buffer.from('OHC1')
const HEADER = 40
const INDEX_PREFIX = PREFIX.packIndex
const STATS_KEY = PACK_STATS

interface Location { pack: number, offset: number, length: number }

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

function encodeLocation (loc: Location): Uint8Array {
  const buf = Buffer.alloc(16)
  buf.writeUInt32BE(loc.pack, 0)
  buf.writeDoubleBE(loc.offset, 4)
  buf.writeUInt32BE(loc.length, 12)
  return buf
}

function decodeLocation (value: Uint8Array): Location {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return { pack: buf.readUInt32BE(0), offset: buf.readDoubleBE(4), length: buf.readUInt32BE(12) }
}

const packName = (id: number): string => `${String(id).padStart(8, '0')}.pack`

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
  private writer?: { id: number, fh: FileHandle, size: number, dirty: boolean }
  private staged = new Map<string, Location>()
  /** Chunks being made durable by the running flush (still visible to has/get). */
  private flushing?: Map<string, Location>
  /** Handles of packs the writer rotated away from (already synced); closed by the next flush. */
  private retired: FileHandle[] = []
  /** Serialises appends (they pick offsets). */
  private readonly writeLock = new Mutex()
  /** Serialises flushes; appends go on while a flush syncs. */
  private readonly flushLock = new Mutex()
  private readonly indexLock = new Mutex()
  private releaseIndex?: () => void
  private readonly syncAheadBytes: number
  /** Bytes appended since the last background sync started, and whether one runs. */
  private unsyncedBytes = 0
  private syncingAhead = false
  private readonly space?: SpaceReserve

  constructor (private readonly dir: string, private readonly kv: KvStore, init: PackChunkStoreInit = {}) {
    this.maxPackBytes = init.maxPackBytes ?? 256 * 1024 * 1024
    this.compactThreshold = init.compactThreshold ?? 0.5
    this.syncAheadBytes = init.syncAheadBytes ?? 16 * 1024 * 1024
    this.space = init.space
    this.joinsCommits = isGroupCommit(kv)
    if (isGroupCommit(kv)) kv.join(this)
  }

  /** A failed write: a full disk releases the space reserve and becomes the typed disk-full error. */
  private failed (err: unknown): unknown {
    if (isDiskFull(err)) this.space?.noteFull()
    return asDiskFull(err, this.dir)
  }

  async open (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const ids = await this.packIds()
    const last = ids.at(-1)
    if (last !== undefined) {
      const size = (await stat(join(this.dir, packName(last)))).size
      if (size < this.maxPackBytes) {
        this.writer = { id: last, fh: await open(join(this.dir, packName(last)), 'r+'), size, dirty: false }
        return
      }
    }
    await this.rotate((last ?? 0) + 1)
  }

  async close (): Promise<void> {
    await this.flush()
    for (const fh of this.retired.splice(0)) await fh.close().catch(() => {})
    await this.writer?.fh.close()
    this.writer = undefined
    for (const p of this.readers.values()) await (await p).close().catch(() => {})
    this.readers.clear()
  }

  private async packIds (): Promise<number[]> {
    return (await readdir(this.dir))
      .filter(n => /^\d{8}\.pack$/.test(n))
      .map(n => Number.parseInt(n, 10))
      .sort((a, b) => a - b)
  }

  /** Start a new pack. Caller holds writeLock. */
  private async rotate (id: number): Promise<void> {
    const old = this.writer
    if (old !== undefined) {
      if (old.dirty) await old.fh.datasync()
      old.dirty = false
    }
    const path = join(this.dir, packName(id))
    const fh = await open(path, 'wx+')
    try {
      // make the new file's directory entry durable
      const dirFh = await open(this.dir, 'r')
      try { await dirFh.sync() } finally { await dirFh.close() }
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(path).catch(() => {})
      throw err
    }
    if (old !== undefined) this.retired.push(old.fh) // a running flush may still sync it
    this.writer = { id, fh, size: 0, dirty: false }
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
        if (bytesRead !== buf.length || !buf.subarray(0, 4).equals(MAGIC) ||
            buf.subarray(4, 36).toString('hex') !== hash || buf.readUInt32BE(36) !== loc.length) {
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
      await this.append(hash, bytes)
      return true
    })
  }

  /**
   * Append one record to the writer. Caller holds writeLock. `keepRoom`:
   * with the space reserve released, refuse unless the reserve's size stays
   * free (compaction's copies skip it: they free more than they take).
   */
  private async append (hash: string, bytes: Uint8Array, keepRoom = true): Promise<Location> {
    if (this.writer === undefined) throw new Error('pack store is not open')
    const recordBytes = HEADER + bytes.byteLength
    try {
      if (keepRoom) await this.space?.checkRoom(recordBytes)
      if (this.writer.size >= this.maxPackBytes) await this.rotate(this.writer.id + 1)
    } catch (err) {
      throw this.failed(err)
    }
    const w = this.writer
    const header = Buffer.alloc(HEADER)
    MAGIC.copy(header, 0)
    header.write(hash, 4, 'hex')
    header.writeUInt32BE(bytes.byteLength, 36)
    const loc = { pack: w.id, offset: w.size, length: bytes.byteLength }
    w.dirty = true
    try {
      const { bytesWritten } = await w.fh.writev([header, bytes], loc.offset)
      if (bytesWritten !== recordBytes) {
        // libuv's answer to a disk that filled mid-write: a short count and no error
        throw Object.assign(new Error(`short write to ${packName(w.id)}: ${bytesWritten} of ${recordBytes} bytes (no space left on device)`), { code: 'ENOSPC' })
      }
    } catch (err) {
      // roll back: the next record goes where this one started; the cut bytes are cut off
      await w.fh.truncate(loc.offset).catch(() => {}) // if even that fails, the next append overwrites them
      throw this.failed(err)
    }
    w.size += recordBytes
    this.staged.set(hash, loc)
    this.unsyncedBytes += HEADER + bytes.byteLength
    if (this.syncAheadBytes > 0 && this.unsyncedBytes >= this.syncAheadBytes && !this.syncingAhead) this.syncAhead(w.fh)
    return loc
  }

  /**
   * Write back what was appended so far, in the background (appends go on).
   * Only a head start for the next flush, which syncs again and reports
   * errors: a failure here is ignored. FileHandle.close() waits for it.
   */
  private syncAhead (fh: FileHandle): void {
    this.syncingAhead = true
    this.unsyncedBytes = 0
    fh.datasync().catch(() => {}).finally(() => { this.syncingAhead = false })
  }

  async flush (): Promise<void> {
    // grouped: the next group syncs the pack and indexes what is staged (prepare below)
    if (isGroupCommit(this.kv)) { await this.kv.sync(); return }
    await this.flushLock.run(async () => {
      const staged = await this.syncStaged()
      if (staged === undefined) return
      try {
        await this.indexLock.run(async () => { await this.kv.batch(await this.indexOps(staged), { sync: true }) })
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
      return await this.indexOps(staged)
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
    for (const fh of this.retired.splice(0)) await fh.close().catch(() => {})
    if (this.staged.size === 0) return undefined
    const { staged, writer } = await this.writeLock.run(async () => {
      const staged = this.staged
      this.staged = new Map()
      this.flushing = staged
      const writer = this.writer
      const dirty = writer?.dirty === true
      if (writer !== undefined) writer.dirty = false
      return { staged, writer: dirty ? writer : undefined }
    })
    try {
      if (writer !== undefined) await writer.fh.datasync().catch((err) => { throw this.failed(err) })
    } catch (err) {
      this.restage(staged)
      this.flushing = undefined
      throw err
    }
    return staged
  }

  /** The index entries of `staged` and the counters with them (read-modify-write: call under indexLock). */
  private async indexOps (staged: Map<string, Location>): Promise<KvOp[]> {
    const counters = decodeCounters(await this.kv.get(STATS_KEY))
    const ops: KvOp[] = []
    for (const [hash, loc] of staged) {
      ops.push({ type: 'put', key: INDEX_PREFIX + hash, value: encodeLocation(loc) })
      counters.count += 1
      counters.bytes += loc.length
    }
    ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
    return ops
  }

  /** Chunks whose sync or indexing failed: staged again (the pack synced again) for the next try. */
  private restage (staged: Map<string, Location>): void {
    for (const [h, loc] of staged) if (!this.staged.has(h)) this.staged.set(h, loc)
    if (this.writer !== undefined) this.writer.dirty = true
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
      const values = await this.kv.getMany(hashes.map(h => INDEX_PREFIX + h))
      const counters = decodeCounters(await this.kv.get(STATS_KEY))
      const ops: KvOp[] = []
      let freed = 0
      const seen = new Set<string>()
      hashes.forEach((hash, i) => {
        const v = values[i]
        if (v === undefined || seen.has(hash)) return
        seen.add(hash)
        const loc = decodeLocation(v)
        ops.push({ type: 'del', key: INDEX_PREFIX + hash })
        counters.count -= 1
        counters.bytes -= loc.length
        freed += loc.length
      })
      if (ops.length === 0) return { durable: Promise.resolve(), freed: 0 }
      ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
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
    for (const id of await this.packIds()) {
      disk += (await stat(join(this.dir, packName(id))).catch(() => ({ size: 0 }))).size
    }
    return { ...counters, disk_bytes: disk }
  }

  async compact (options: { threshold?: number } = {}): Promise<CompactResult> {
    const threshold = options.threshold ?? this.compactThreshold
    await this.flush()
    // one scan for live bytes per pack, a second one only if some pack must move
    const live = new Map<number, number>()
    for await (const [, value] of this.kv.iterate({ prefix: INDEX_PREFIX })) {
      const loc = decodeLocation(value)
      live.set(loc.pack, (live.get(loc.pack) ?? 0) + HEADER + loc.length)
    }
    const selected = new Map<number, number>()
    for (const id of await this.packIds()) {
      if (id === this.writer?.id) continue
      const size = (await stat(join(this.dir, packName(id)))).size
      const liveBytes = live.get(id) ?? 0
      if (size === 0 || liveBytes / size < threshold) selected.set(id, size)
    }
    const active = await this.retireActive(live, threshold)
    if (active !== undefined) {
      live.set(active.id, active.live)
      selected.set(active.id, active.size)
    }
    const toMove = new Map<number, Array<[string, Location]>>()
    if ([...selected.keys()].some(id => (live.get(id) ?? 0) > 0)) {
      for await (const [key, value] of this.kv.iterate({ prefix: INDEX_PREFIX })) {
        const loc = decodeLocation(value)
        if (!selected.has(loc.pack)) continue
        let list = toMove.get(loc.pack)
        if (list === undefined) toMove.set(loc.pack, list = [])
        list.push([key.slice(INDEX_PREFIX.length), loc])
      }
    }
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
    const w = this.writer
    if (w === undefined || w.size === 0 || (live.get(w.id) ?? 0) / w.size >= threshold) return undefined
    return await this.flushLock.run(async () => await this.writeLock.run(async () => {
      if (this.writer !== w || this.staged.size > 0 || this.flushing !== undefined) return undefined
      let liveBytes = 0
      for await (const [, value] of this.kv.iterate({ prefix: INDEX_PREFIX })) {
        const loc = decodeLocation(value)
        if (loc.pack === w.id) liveBytes += HEADER + loc.length
      }
      if (liveBytes / w.size >= threshold) return undefined
      try {
        await this.rotate(w.id + 1)
      } catch (err) {
        throw this.failed(err)
      }
      // no flush runs: close its handle now, so that unlinking it frees its space at once
      for (const fh of this.retired.splice(0)) await fh.close().catch(() => {})
      return { id: w.id, size: w.size, live: liveBytes }
    }))
  }

  /** Copy every live record of pack `id` to the writer and re-index it (synced). */
  private async movePack (id: number, batch: Array<[string, Location]>): Promise<void> {
    const moved = new Map<string, Location>()
    await this.writeLock.run(async () => {
      for (const [hash] of batch) {
        const bytes = await this.get(hash)
        const loc = await this.append(hash, bytes, false)
        this.staged.delete(hash)
        moved.set(hash, loc)
      }
      if (this.writer?.dirty === true) {
        await this.writer.fh.datasync()
        this.writer.dirty = false
      }
    })
    const durable = await this.indexLock.run(async () => {
      // only re-point chunks that are still indexed in the old pack
      const keys = [...moved.keys()]
      const current = await this.kv.getMany(keys.map(h => INDEX_PREFIX + h))
      const ops: KvOp[] = []
      keys.forEach((hash, i) => {
        const v = current[i]
        if (v !== undefined && decodeLocation(v).pack === id) {
          ops.push({ type: 'put', key: INDEX_PREFIX + hash, value: encodeLocation(moved.get(hash)!) })
        }
      })
      return { done: this.kv.batch(ops, { sync: true }) }
    })
    await durable.done
  }
}
