/**
 * Writing, the only way in: import a byte stream as a file (chunked, hashed
 * on the worker, written under the quota, committed segment by segment: the
 * chunk loop is writer-file.ts),
 * commit a directory, release a local add. A failed or aborted add is
 * unwound (its manifest released, the chunks it alone wrote swept).
 */
import { randomBytes } from 'node:crypto'
import type { ContentInfo, OperationOptions } from '../interface.js'
import { ChunkPool } from '../format/chunker.js'
import { FileHasher } from '../format/hasher.js'
import type { ChunkHasher } from '../format/hasher.js'
import type { DirEntry } from '../format/directory.js'
import { hashDirectory } from '../format/directory.js'
import { DIRECTORY_MIME, detectMime } from '../format/mime.js'
import { CorruptDataError, NotAddedError, NotFoundError } from '../errors.js'
import type { AccessClock } from './access.js'
import type { ChunkStore } from './chunk-store.js'
import type { Collector } from './collect.js'
import { Guard } from './guard.js'
import type { Protections } from './guard.js'
import type { KvOp, KvStore } from './kv.js'
import { isGroupCommit } from './kv-group.js'
import { Manifests } from './manifests.js'
import type { Mutex } from './mutex.js'
import type { Quota } from './quota.js'
import { FileChunks, PUT_WINDOW } from './writer-file.js'
import { K, countBy, dec, enc } from './keys.js'
import type { ObjectRecord } from './records.js'
import { readCounters, toInfo } from './records.js'
import { logger } from '../logger.js'

const log = logger('store:writer')

export interface ImportOptions extends OperationOptions {
  /** A local add (a GC root); false for cached copies fetched from peers. */
  added: boolean
  /** Keeps the new object protected until the caller releases it (directory imports). */
  guard?: Guard
  /** Expected size, for progress events. */
  total?: number
  /** The object must hash to this (content fetched from peers); otherwise nothing is committed. */
  expectHash?: string
  /**
   * Chunks of `chunkSize` bytes whose hashes the caller already knows (e.g. chunks checked against a
   * peer's chunk list as they arrived): `hasher` names each and gives the whole-file hash, instead of
   * a FileHasher hashing them again. `release`, when given, is called with each chunk (as the hasher
   * returned it) once it is written: the import no longer uses its memory.
   */
  prehashed?: { hasher: ChunkHasher, chunkSize: number, release?: (bytes: Uint8Array) => void }
  /**
   * Part of a larger add (the files and subfolders of a folder): the record
   * rides with the next group commit instead of waiting for one of its own,
   * so a folder of many small files shares a few syncs. Not durable when it
   * resolves: the caller's last step (the folder's own commitDirectory, not
   * deferred) makes the whole add durable. Leftovers of an add that never
   * gets there are unreferenced objects that gc reclaims.
   */
  deferred?: boolean
}

export interface FileMeta {
  filename: string
  mod_time?: string
  mime_type?: string
}

/** What commitFile records: the add's outcome. */
interface FileCommit {
  hash: string
  mid: string
  meta: FileMeta
  head?: Buffer
  size: number
  count: number
  chunkSize: number
  /** The file fit in one segment, not written yet: it goes in the same batch as the record. */
  single: boolean
  seg: string[]
  added: boolean
  guard: Guard
  deferred: boolean
}

export interface WriterContext {
  kv: KvStore
  chunks: ChunkStore
  lock: Mutex
  protections: Protections
  manifests: Manifests
  quota: Pick<Quota, 'init' | 'admit' | 'stored' | 'unreserve' | 'afterWrite'>
  collector: Pick<Collector, 'sweepChunks'>
  access: Pick<AccessClock, 'touch'>
  /** The store's chunk size. */
  chunkSize: number
  requireObject: (hash: string) => Promise<ObjectRecord>
}

/** Random per process; manifest ids are this and a counter (32 hex digits, as 16 random bytes were: one randomBytes call per file cost ~8 µs). */
const MID_PREFIX = randomBytes(8).toString('hex')
let midCounter = 0

function newManifestId (): string { return MID_PREFIX + (midCounter++).toString(16).padStart(16, '0') }

export class Writer {
  constructor (private readonly ctx: WriterContext) {}

  private async object (hash: string): Promise<ObjectRecord | undefined> {
    const v = await this.ctx.kv.get(K.object(hash))
    return v === undefined ? undefined : dec<ObjectRecord>(v)
  }

  /**
   * Import a byte stream as a file object. Resolves once the object is
   * durable. With `added`, the object is a local add (a GC root).
   * `guard`, when given, keeps the new object protected until the caller
   * releases it (directory imports).
   */
  async importFile (source: AsyncIterable<Uint8Array>, meta: FileMeta, options: ImportOptions): Promise<ObjectRecord> {
    await this.ctx.quota.init()
    const guard = options.guard ?? new Guard(this.ctx.protections)
    const mid = newManifestId()
    this.ctx.protections.manifests.add(mid)
    // chunk and whole-file SHA-256 on a worker thread, over pooled chunk buffers
    const chunkSize = options.prehashed?.chunkSize ?? this.ctx.chunkSize
    const hasher = options.prehashed?.hasher ?? new FileHasher(chunkSize)
    const pool = options.prehashed === undefined ? new ChunkPool(chunkSize, PUT_WINDOW + 2) : undefined
    const file = new FileChunks(this.ctx, { signal: options.signal, onProgress: options.onProgress, total: options.total, mid, guard, hasher, chunkSize, pool, release: options.prehashed?.release })
    let committed = false
    try {
      await file.write(source)
      // A file of one segment (most files) commits its segment and counts in the final synced
      // batch: one fsync, not two. Longer files committed their segments as they went.
      const single = file.seq === 0
      if (single) {
        // grouped: the record's group commit syncs the pack and indexes these chunks with it
        if (this.ctx.chunks.joinsCommits !== true) await this.ctx.chunks.flush()
      } else if (file.seg.length > 0) await this.ctx.manifests.commitSegment(mid, file.seq++, file.seg, guard)
      const hash = await hasher.digest()
      if (options.expectHash !== undefined && hash !== options.expectHash) {
        // content from a peer that is not what was asked for: never committed, swept below
        throw new CorruptDataError(`content does not match its hash: expected ${options.expectHash}, got ${hash}`, { expected: options.expectHash, actual: hash })
      }
      const { size, count, head, seg } = file
      const { record, dedup } = await this.commitFile({ hash, mid, meta, head, size, count, chunkSize, single, seg, added: options.added, guard, deferred: options.deferred === true })
      committed = true
      await this.afterCommit(hash, mid, single ? seg : undefined, dedup, guard, options.deferred === true)
      return record
    } catch (err) {
      // no put or commit may race the cleanup: let every one settle first
      await file.settle()
      hasher.dispose()
      if (!committed) await this.abandon(mid, guard)
      throw err
    } finally {
      this.ctx.protections.manifests.delete(mid)
      if (options.guard === undefined) guard.release()
    }
  }

  /**
   * A committed add: its use recorded (but not a new file's within a tree); a one-segment file's chunks (`single`) no longer guarded;
   * after a dedup, what this add alone wrote goes (its chunks, or its manifest); the quota checked.
   */
  private async afterCommit (hash: string, mid: string, single: string[] | undefined, dedup: boolean, guard: Guard, deferred: boolean): Promise<void> {
    // a new file inside a tree add was last used when it was created (Access.last falls back to
    // created_at): no at/ key for each of a folder's files
    if (dedup || !deferred) this.ctx.access.touch(hash)
    if (single !== undefined) {
      guard.releaseChunks(single) // counted now (or, after a dedup, never: unreferenced ones are swept)
      if (dedup) await this.ctx.collector.sweepChunks(single).catch((err) => { log.error('sweeping the chunks of a duplicate add failed (gc will): %s', err?.message ?? err) })
    } else if (dedup) await this.ctx.manifests.release(mid)
    this.ctx.quota.afterWrite(hash)
  }

  /** The file's record, in one synced batch (with its only segment when `single`); or, if the object exists, mark it added. */
  private async commitFile (f: FileCommit): Promise<{ record: ObjectRecord, dedup: boolean }> {
    const { durable, result } = await this.ctx.lock.run(async () => {
      const generation = this.generation()
      const existing = await this.object(f.hash)
      if (existing !== undefined) {
        // single: no manifest was ever written; this add's chunks are swept below
        const ops: KvOp[] = f.single ? [] : [Manifests.releasedOp(f.mid)]
        if (f.added && !existing.added) {
          existing.added = true
          ops.push({ type: 'put', key: K.object(f.hash), value: enc(existing) })
        }
        f.guard.protectObject(f.hash)
        // the record found may itself be waiting for its group: acknowledged only once durable
        return { durable: this.commit(ops, generation, f.deferred), result: { record: existing, dedup: true } }
      }
      const now = new Date().toISOString()
      const record: ObjectRecord = {
        hash: f.hash,
        filename: f.meta.filename,
        mime_type: f.meta.mime_type ?? detectMime(f.meta.filename, f.head ?? Buffer.alloc(0)),
        size: f.size,
        mod_time: f.meta.mod_time ?? now,
        created_at: now,
        is_directory: false,
        chunk_count: f.count,
        chunk_size: f.chunkSize,
        manifest: f.mid,
        added: f.added,
        refs: 0
      }
      const counters = await readCounters(this.ctx.kv)
      counters.objects++
      counters.files++
      counters.logical_bytes += f.size
      const ops: KvOp[] = f.single ? await this.ctx.manifests.segmentOps(f.mid, 0, f.seg) : []
      ops.push(
        { type: 'put', key: K.object(f.hash), value: enc(record) },
        Manifests.stateOp(f.mid, { state: 'live', object: f.hash, created_at: now }),
        { type: 'put', key: K.counters, value: enc(counters) }
      )
      f.guard.protectObject(f.hash)
      return { durable: this.commit(ops, generation, f.deferred), result: { record, dedup: false } }
    })
    // awaited outside the lock, so the writers behind it join the same group commit
    await durable
    return result
  }

  private generation (): number | undefined {
    return isGroupCommit(this.ctx.kv) ? this.ctx.kv.generation : undefined
  }

  /**
   * Queue `ops` (visible at once) and return the promise of their durability,
   * to await once the lock is released. With no ops, the promise that what
   * was read is durable (it may be pending in a group).
   */
  private commit (ops: KvOp[], generation: number | undefined, deferred = false): Promise<void> {
    const kv = this.ctx.kv
    // queued (and visible) now, durable with a later group; only when the chunks these records name are
    // made durable by that same group (pack backend), else each commit waits as usual
    if (deferred && isGroupCommit(kv) && this.ctx.chunks.joinsCommits === true) return kv.batch(ops, { generation })
    const p = ops.length > 0 ? kv.batch(ops, { sync: true, generation }) : isGroupCommit(kv) ? kv.sync() : Promise.resolve()
    p.catch(() => {}) // awaited by the caller once the lock is released
    return p
  }

  /** An add that failed or was aborted: unwind its manifest and sweep what it alone wrote. */
  private async abandon (mid: string, guard: Guard): Promise<void> {
    // chunks written but never counted by a segment; the counted ones come back from releaseManifest
    const uncounted = [...guard.chunkHashes]
    try {
      await this.ctx.lock.run(async () => {
        if (await this.ctx.kv.get(K.manifest(mid)) !== undefined) {
          await this.ctx.kv.batch([Manifests.releasedOp(mid)])
        }
      })
      guard.releaseChunks(uncounted)
      // staged chunks are only deletable once indexed: flush first, so none is left to count against the quota
      if (uncounted.length > 0) await this.ctx.chunks.flush()
      await this.ctx.collector.sweepChunks(uncounted)
      await this.ctx.manifests.release(mid, async (zeroed) => { await this.ctx.collector.sweepChunks(zeroed) })
    } catch {
      // leftovers stay for the next gc
    }
  }

  /**
   * Store a directory object for `entries` (whose objects must exist and be
   * protected by `guard`). Resolves once durable.
   */
  async commitDirectory (entries: DirEntry[], meta: { filename: string, mod_time?: string }, options: { added: boolean, guard: Guard, deferred?: boolean }): Promise<ObjectRecord> {
    const deferred = options.deferred === true
    const { hash, encoding } = hashDirectory(entries)
    const { durable, record } = await this.ctx.lock.run(async () => {
      const generation = this.generation()
      const existing = await this.object(hash)
      if (existing !== undefined) {
        const ops: KvOp[] = []
        if (options.added && !existing.added) {
          existing.added = true
          ops.push({ type: 'put', key: K.object(hash), value: enc(existing) })
        }
        options.guard.protectObject(hash)
        this.ctx.access.touch(hash)
        return { durable: this.commit(ops, generation, deferred), record: existing }
      }
      const counts = countBy(entries.map(e => e.hash))
      const children = [...counts.keys()]
      const values = await this.ctx.kv.getMany(children.map(K.object))
      const ops: KvOp[] = []
      children.forEach((h, i) => {
        const v = values[i]
        if (v === undefined) throw new NotFoundError(`directory entry object not found: ${h}`, { hash: h })
        const child = dec<ObjectRecord>(v)
        child.refs += counts.get(h)!
        ops.push({ type: 'put', key: K.object(h), value: enc(child) })
      })
      const now = new Date().toISOString()
      const record: ObjectRecord = {
        hash,
        filename: meta.filename,
        mime_type: DIRECTORY_MIME,
        size: entries.reduce((s, e) => s + e.size, 0),
        mod_time: meta.mod_time ?? now,
        created_at: now,
        is_directory: true,
        chunk_count: 0,
        entry_count: entries.length,
        added: options.added,
        refs: 0
      }
      const counters = await readCounters(this.ctx.kv)
      counters.objects++
      counters.directories++
      ops.push({ type: 'put', key: K.object(hash), value: enc(record) })
      ops.push({ type: 'put', key: K.dir(hash), value: encoding })
      ops.push({ type: 'put', key: K.counters, value: enc(counters) })
      options.guard.protectObject(hash)
      if (!deferred) this.ctx.access.touch(hash) // a new subfolder: like a new file in a tree (afterCommit)
      return { durable: this.commit(ops, generation, deferred), record }
    })
    await durable
    return record
  }

  /** Release a local add. The object stays until gc finds nothing else holds it. */
  async rm (hash: string): Promise<ContentInfo> {
    const { durable, rec } = await this.ctx.lock.run(async () => {
      const generation = this.generation()
      const rec = await this.ctx.requireObject(hash)
      if (!rec.added) {
        throw new NotAddedError(`not a local add: ${hash} (referenced by ${rec.refs} director${rec.refs === 1 ? 'y' : 'ies'})`, { hash, ref_count: rec.refs })
      }
      rec.added = false
      return { durable: this.commit([{ type: 'put', key: K.object(hash), value: enc(rec) }], generation), rec }
    })
    await durable
    return toInfo(rec)
  }
}
