/**
 * The repo: objects, manifests, reference counts and pins over a KvStore
 * (metadata) and a ChunkStore (bytes). Knows nothing of HTTP or libp2p.
 *
 * Invariants (checked by `verify`):
 * - c/<chunk> = number of occurrences of <chunk> across all manifest segments
 *   m/<mid>/<seq> that exist, whatever the manifest's state. A segment and its
 *   count changes are written in one atomic batch, so crashes never skew counts.
 * - An object's `refs` = number of entries naming it across stored directories.
 *   ref_count (as shown) = refs + (added ? 1 : 0).
 * - A manifest is `staging` while its add runs, `live` once an object owns it,
 *   `released` when it is to be unwound (dedup, abort, object deleted, or a
 *   crashed add). Released manifests are unwound segment by segment; each
 *   segment's removal and its decrements share one batch.
 * See docs/storage.md.
 */
import { randomBytes } from 'node:crypto'
import type { ContentInfo, GcResult, OperationOptions, QuotaStatus, VerifyResult } from '../interface.js'
import { DEFAULT_PRIORITY } from '../interface.js'
import { ChunkPool, chunker } from '../format/chunker.js'
import { FileHasher } from '../format/hasher.js'
import type { ChunkHasher } from '../format/hasher.js'
import type { DirEntry } from '../format/directory.js'
import { hashDirectory } from '../format/directory.js'
import { DIRECTORY_MIME, SNIFF_BYTES, detectMime } from '../format/mime.js'
import { CorruptDataError, NotAddedError, NotFoundError, throwIfAborted } from '../errors.js'
import type { ChunkStore } from './chunk-store.js'
import type { KvOp, KvStore } from './kv.js'
import { Mutex } from './mutex.js'
import { K, countBy, dec, enc } from './keys.js'
import type { Counters, HoldRecord, ObjectRecord, PinRecord } from './records.js'
import { readCounters, toInfo } from './records.js'
import { Guard, Protections } from './guard.js'
import { AccessClock } from './access.js'
import { Manifests } from './manifests.js'
import { Pins } from './pins.js'
import type { Collected } from './collect.js'
import { Collector } from './collect.js'
import type { AddQuota, EvictResult, QuotaOptions } from './quota.js'
import { Quota } from './quota.js'
import { Reader, SEGMENT_CHUNKS } from './reader.js'
import { gc } from './gc.js'
import { verify } from './verify.js'

export { Guard } from './guard.js'
export { SEGMENT_CHUNKS } from './reader.js'
export type { Counters, HoldRecord, ObjectRecord, PinRecord } from './records.js'
export type { EvictResult, QuotaOptions } from './quota.js'

/** Chunks of one add hashed and written concurrently (bounds the extra memory to this many chunks). */
export const PUT_WINDOW = 8
export { ACCESS_FLUSH_MS } from './access.js'

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
}

export interface FileMeta {
  filename: string
  mod_time?: string
  mime_type?: string
}


export interface RepoInit {
  kv: KvStore
  chunks: ChunkStore
  chunkSize: number
  verifyOnRead?: boolean
  /** Chunks read ahead when streaming a file. */
  readAhead?: number
  /** storage.max_bytes and its water marks; unlimited when absent. */
  quota?: QuotaOptions
}

export class Repo {
  readonly kv: KvStore
  readonly chunks: ChunkStore
  readonly chunkSize: number
  /** Serialises every read-modify-write of metadata, and GC's check-then-delete. */
  private readonly lock = new Mutex()
  private readonly gcMutex = new Mutex()
  private readonly protections = new Protections()
  private readonly access: AccessClock
  private readonly manifests: Manifests
  private readonly collector: Collector
  private readonly quotaPart: Quota
  private readonly reader: Reader

  private readonly pinsPart: Pins

  constructor (init: RepoInit) {
    this.kv = init.kv
    this.access = new AccessClock(init.kv, this.lock)
    this.pinsPart = new Pins({ kv: init.kv, lock: this.lock, requireObject: async (h) => await this.requireObject(h) })
    this.manifests = new Manifests(init.kv, init.chunks, this.lock)
    this.collector = new Collector({
      kv: init.kv,
      chunks: init.chunks,
      lock: this.lock,
      protections: this.protections,
      pins: this.pinsPart,
      access: this.access,
      onFreed: (bytes) => { this.quotaPart.freed(bytes) }
    })
    this.quotaPart = new Quota({
      kv: init.kv,
      chunks: init.chunks,
      gcMutex: this.gcMutex,
      protections: this.protections,
      pins: this.pinsPart,
      access: this.access,
      collector: this.collector,
      manifests: this.manifests
    }, init.quota ?? { maxBytes: 0, highWater: 1, lowWater: 1 })
    this.chunks = init.chunks
    this.chunkSize = init.chunkSize
    this.reader = new Reader({ kv: init.kv, chunks: init.chunks, access: this.access, chunkSize: init.chunkSize, verifyOnRead: init.verifyOnRead ?? true, readAhead: init.readAhead ?? 4 })
  }

  guard (): Guard { return new Guard(this.protections) }

  /** Load the stored byte count the quota starts from (before the first write). */
  async init (): Promise<void> {
    await this.quotaPart.init()
  }

  /**
   * Stop background work: abort a running eviction, wait for it, and write
   * pending last-access times. Call before closing the stores.
   */
  async close (): Promise<void> {
    this.access.stop()
    await this.quotaPart.stop()
    await this.flushAccess().catch(() => {})
  }

  // ---------------------------------------------------------------- access order (store/access.ts)

  /** Record a use of `hash` (eviction order: least recently used first). */
  touch (hash: string): void { this.access.touch(hash) }

  /** Write pending last-access times (one non-synced batch; only for objects that still exist). */
  async flushAccess (): Promise<void> { await this.access.flush() }

  /** When `hash` was last used (ms): pending, else stored, else its creation; undefined if there is no such object. */
  async lastAccess (hash: string): Promise<number | undefined> {
    const rec = await this.getObject(hash)
    return rec === undefined ? undefined : await this.access.last(hash, rec.created_at)
  }

  // ---------------------------------------------------------------- reading (store/reader.ts)

  async getObject (hash: string): Promise<ObjectRecord | undefined> { return await this.reader.getObject(hash) }
  async requireObject (hash: string): Promise<ObjectRecord> { return await this.reader.requireObject(hash) }
  async info (hash: string): Promise<ContentInfo> { return await this.reader.info(hash) }
  async entries (hash: string): Promise<DirEntry[]> { return await this.reader.entries(hash) }
  list (options: { after?: string, limit?: number } = {}): AsyncGenerator<ContentInfo> { return this.reader.list(options) }
  /** Chunk hashes of a file, in order, one segment at a time. */
  manifestChunks (rec: ObjectRecord, fromChunk = 0): AsyncGenerator<string> { return this.reader.manifestChunks(rec, fromChunk) }
  /** Stream a file's bytes (optionally a range), verifying each chunk. */
  read (hash: string, options: { offset?: number, length?: number, signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> { return this.reader.read(hash, options) }
  /** One chunk's bytes, checked against their hash with storage.verify_on_read unless `verify` is false. */
  async readChunk (h: string, options: { verify?: boolean } = {}): Promise<Uint8Array> { return await this.reader.readChunk(h, options) }

  // ---------------------------------------------------------------- writing

  /**
   * Import a byte stream as a file object. Resolves once the object is
   * durable. With `added`, the object is a local add (a GC root).
   * `guard`, when given, keeps the new object protected until the caller
   * releases it (directory imports).
   */
  async importFile (source: AsyncIterable<Uint8Array>, meta: FileMeta, options: ImportOptions): Promise<ObjectRecord> {
    await this.quotaPart.init()
    const guard = options.guard ?? this.guard()
    const quota: AddQuota = { rescanned: false }
    const mid = randomBytes(16).toString('hex')
    this.protections.manifests.add(mid)
    // chunk and whole-file SHA-256 on a worker thread, over pooled chunk buffers
    const chunkSize = options.prehashed?.chunkSize ?? this.chunkSize
    const hasher = options.prehashed?.hasher ?? new FileHasher()
    const pool = options.prehashed === undefined ? new ChunkPool(chunkSize, PUT_WINDOW + 2) : undefined
    let seg: string[] = []
    let seq = 0
    let size = 0
    let count = 0
    let head: Buffer | undefined
    let committed = false
    let inflight: Promise<void> = Promise.resolve()
    /**
     * Chunks being hashed and written, in stream order. Each resolves to its
     * hash once the chunk is guarded and put; only then does it join `seg`, so
     * a segment names only chunks already written (commitSegment's flush then
     * makes them durable before the segment is). Holds at most PUT_WINDOW
     * chunks; a chunk's buffer goes back to the pool once it is put. (The
     * chunker copies every piece into pool buffers before asking for the
     * next, so a source may reuse a piece's memory from then on.)
     */
    const window: Array<Promise<string>> = []
    const collect = async (): Promise<void> => {
      const h = await window[0]
      window.shift()
      seg.push(h)
      count++
      if (seg.length >= SEGMENT_CHUNKS) {
        // one commit in flight: segment k syncs while segment k+1 is read, hashed and written
        await inflight
        inflight = this.manifests.commitSegment(mid, seq++, seg, guard)
        inflight.catch(() => {})
        seg = []
      }
    }
    try {
      for await (const chunk of chunker(source, chunkSize, pool)) {
        throwIfAborted(options.signal)
        if (head === undefined) head = Buffer.from(chunk.subarray(0, SNIFF_BYTES))
        if (window.length >= PUT_WINDOW) await collect()
        size += chunk.byteLength
        // the chunk's memory moves to the hashing worker (which also feeds the
        // whole-file hash, in stream order) and comes back with its hash
        const hashed = hasher.chunk(chunk as Buffer)
        const put = (async () => {
          const { hash: h, bytes } = await hashed
          guard.protectChunk(h) // before the put: gc must not sweep it until a segment counts it
          // room under storage.max_bytes (evicting cached content if need be) before a new chunk is written
          const reserved = await this.quotaPart.admit(h, bytes.byteLength, quota)
          try {
            // under the repo lock, so gc's check-then-delete of an orphan chunk never
            // interleaves with this put (put skips chunks the store already has)
            await this.lock.run(async () => {
              if (await this.chunks.put(h, bytes)) this.quotaPart.stored(bytes.byteLength)
            })
          } finally {
            this.quotaPart.unreserve(reserved)
          }
          pool?.give(bytes) // written (or copied by the store): the buffer may be reused
          options.prehashed?.release?.(bytes)
          return h
        })()
        put.catch(() => {}) // observed when collected (or settled on failure); never an unhandled rejection
        window.push(put)
        options.onProgress?.({ type: 'add:bytes', bytes: size, total: options.total })
      }
      while (window.length > 0) await collect()
      throwIfAborted(options.signal)
      await inflight
      // A file of one segment (most files) commits its segment and counts in the final synced
      // batch: one fsync, not two. Longer files committed their segments as they went.
      const single = seq === 0
      if (single) await this.chunks.flush()
      else if (seg.length > 0) await this.manifests.commitSegment(mid, seq++, seg, guard)
      const hash = await hasher.digest()
      if (options.expectHash !== undefined && hash !== options.expectHash) {
        // content from a peer that is not what was asked for: never committed, swept below
        throw new CorruptDataError(`content does not match its hash: expected ${options.expectHash}, got ${hash}`, { expected: options.expectHash, actual: hash })
      }
      const { record, dedup } = await this.lock.run(async () => {
        const existing = await this.getObject(hash)
        if (existing !== undefined) {
          // single: no manifest was ever written; this add's chunks are swept below
          const ops: KvOp[] = single ? [] : [Manifests.releasedOp(mid)]
          if (options.added && !existing.added) {
            existing.added = true
            ops.push({ type: 'put', key: K.object(hash), value: enc(existing) })
          }
          if (ops.length > 0) await this.kv.batch(ops, { sync: true })
          guard.protectObject(hash)
          return { record: existing, dedup: true }
        }
        const now = new Date().toISOString()
        const record: ObjectRecord = {
          hash,
          filename: meta.filename,
          mime_type: meta.mime_type ?? detectMime(meta.filename, head ?? Buffer.alloc(0)),
          size,
          mod_time: meta.mod_time ?? now,
          created_at: now,
          is_directory: false,
          chunk_count: count,
          chunk_size: chunkSize,
          manifest: mid,
          added: options.added,
          refs: 0
        }
        const counters = await this.counters()
        counters.objects++
        counters.files++
        counters.logical_bytes += size
        const ops: KvOp[] = single ? await this.manifests.segmentOps(mid, 0, seg) : []
        ops.push(
          { type: 'put', key: K.object(hash), value: enc(record) },
          Manifests.stateOp(mid, { state: 'live', object: hash, created_at: now }),
          { type: 'put', key: K.counters, value: enc(counters) }
        )
        await this.kv.batch(ops, { sync: true })
        guard.protectObject(hash)
        return { record, dedup: false }
      })
      committed = true
      this.touch(hash)
      if (single) {
        guard.releaseChunks(seg) // counted now (or, after a dedup, never: unreferenced ones are swept)
        if (dedup) await this.sweepChunks(seg).catch(() => {})
      } else if (dedup) await this.manifests.release(mid)
      this.quotaPart.afterWrite(hash)
      return record
    } catch (err) {
      // no put or commit may race the cleanup: let every one settle first
      await Promise.allSettled(window)
      await inflight.catch(() => {})
      hasher.dispose()
      if (!committed) await this.abandon(mid, guard)
      throw err
    } finally {
      this.protections.manifests.delete(mid)
      if (options.guard === undefined) guard.release()
    }
  }

  /** An add that failed or was aborted: unwind its manifest and sweep what it alone wrote. */
  private async abandon (mid: string, guard: Guard): Promise<void> {
    // chunks written but never counted by a segment; the counted ones come back from releaseManifest
    const uncounted = [...guard.chunkHashes]
    try {
      await this.lock.run(async () => {
        if (await this.kv.get(K.manifest(mid)) !== undefined) {
          await this.kv.batch([Manifests.releasedOp(mid)])
        }
      })
      guard.releaseChunks(uncounted)
      // staged chunks are only deletable once indexed: flush first, so none is left to count against the quota
      if (uncounted.length > 0) await this.chunks.flush()
      await this.sweepChunks(uncounted)
      await this.manifests.release(mid, async (zeroed) => { await this.sweepChunks(zeroed) })
    } catch {
      // leftovers stay for the next gc
    }
  }

  /**
   * Store a directory object for `entries` (whose objects must exist and be
   * protected by `guard`). Resolves once durable.
   */
  async commitDirectory (entries: DirEntry[], meta: { filename: string, mod_time?: string }, options: { added: boolean, guard: Guard }): Promise<ObjectRecord> {
    const { hash, encoding } = hashDirectory(entries)
    return await this.lock.run(async () => {
      const existing = await this.getObject(hash)
      if (existing !== undefined) {
        if (options.added && !existing.added) {
          existing.added = true
          await this.kv.batch([{ type: 'put', key: K.object(hash), value: enc(existing) }], { sync: true })
        }
        options.guard.protectObject(hash)
        this.touch(hash)
        return existing
      }
      const counts = countBy(entries.map(e => e.hash))
      const children = [...counts.keys()]
      const values = await this.kv.getMany(children.map(K.object))
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
      const counters = await this.counters()
      counters.objects++
      counters.directories++
      ops.push({ type: 'put', key: K.object(hash), value: enc(record) })
      ops.push({ type: 'put', key: K.dir(hash), value: encoding })
      ops.push({ type: 'put', key: K.counters, value: enc(counters) })
      await this.kv.batch(ops, { sync: true })
      options.guard.protectObject(hash)
      this.touch(hash)
      return record
    })
  }

  /** Release a local add. The object stays until gc finds nothing else holds it. */
  async rm (hash: string): Promise<ContentInfo> {
    return await this.lock.run(async () => {
      const rec = await this.requireObject(hash)
      if (!rec.added) {
        throw new NotAddedError(`not a local add: ${hash} (referenced by ${rec.refs} director${rec.refs === 1 ? 'y' : 'ies'})`, { hash, ref_count: rec.refs })
      }
      rec.added = false
      await this.kv.batch([{ type: 'put', key: K.object(hash), value: enc(rec) }], { sync: true })
      return toInfo(rec)
    })
  }

  // ---------------------------------------------------------------- pins and holds (store/pins.ts)

  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinRecord> { return await this.pinsPart.pin(hash, priority) }
  /** Returns whether it was pinned. */
  async unpin (hash: string): Promise<boolean> { return await this.pinsPart.unpin(hash) }
  /** A pin asked for content that is not here yet (kept until it arrives or is withdrawn). */
  async wantPin (hash: string, priority: number): Promise<PinRecord> { return await this.pinsPart.wantPin(hash, priority) }
  /** Withdraw a wanted pin; returns whether there was one. */
  async unwantPin (hash: string): Promise<boolean> { return await this.pinsPart.unwantPin(hash) }
  /** The content arrived: turn the wanted pin into a pin, in one batch. */
  async fulfilPin (hash: string): Promise<PinRecord | undefined> { return await this.pinsPart.fulfilPin(hash) }
  async wantedPins (): Promise<Map<string, PinRecord>> { return await this.pinsPart.wantedPins() }
  async getPin (hash: string): Promise<PinRecord | undefined> { return await this.pinsPart.getPin(hash) }
  async pins (): Promise<Map<string, PinRecord>> { return await this.pinsPart.pins() }
  /** Keep `hash` on behalf of `owner` (durable; the content may arrive later). */
  async hold (hash: string, owner: string, info: { size: number, priority: number }): Promise<HoldRecord> { return await this.pinsPart.hold(hash, owner, info) }
  /** Stop keeping `hash` for `owner`; returns whether there was such a hold. */
  async unhold (hash: string, owner: string): Promise<boolean> { return await this.pinsPart.unhold(hash, owner) }
  /** Every hold, by content hash. */
  async holds (): Promise<Map<string, HoldRecord[]>> { return await this.pinsPart.holds() }
  /** The holds of one hash. */
  async holdsOf (hash: string): Promise<HoldRecord[]> { return await this.pinsPart.holdsOf(hash) }
  /** Whether something keeps `hash` from collection: a pin or a hold. */
  async isKept (hash: string): Promise<boolean> { return await this.pinsPart.isKept(hash) }

  // ---------------------------------------------------------------- stats

  async counters (): Promise<Counters> {
    return await readCounters(this.kv)
  }

  // ---------------------------------------------------------------- quota and eviction (store/quota.ts)

  /** What the quota counts, and what eviction has done since the store was opened. */
  async quotaStatus (): Promise<QuotaStatus> { return await this.quotaPart.status() }

  /** Objects eviction may remove, least recently used first. */
  async evictionCandidates (exclude?: ReadonlySet<string>): Promise<string[]> { return await this.quotaPart.candidates(exclude) }

  /** Remove those of `hashes` that are only cache, with what they alone hold (after a failed fetch). */
  async dropCached (hashes: readonly string[]): Promise<EvictResult> { return await this.quotaPart.dropCached(hashes) }

  /** Resolves once no background eviction runs (tests, shutdown). */
  async idle (): Promise<void> { await this.quotaPart.idle() }

  // ---------------------------------------------------------------- gc

  /**
   * Delete every object nothing references (not added, not pinned, in no
   * stored directory, not protected by an add in progress), unwind their
   * manifests, delete chunks no manifest counts, and compact the chunk store.
   * Safe to run while adds run; resumable after a crash at any point.
   */
  async gc (options: OperationOptions = {}): Promise<GcResult> {
    return await this.gcMutex.run(async () => await gc({
      kv: this.kv,
      chunks: this.chunks,
      lock: this.lock,
      protections: this.protections,
      manifests: this.manifests,
      collectObject: async (h) => await this.collectObject(h),
      sweepChunks: async (hs) => await this.sweepChunks(hs)
    }, options))
  }

  /** Delete `hash` if nothing holds it (store/collect.ts). */
  private async collectObject (hash: string): Promise<Collected | undefined> { return await this.collector.collectObject(hash) }

  /** Delete those of `hashes` that no manifest counts and no add protects (store/collect.ts). */
  private async sweepChunks (hashes: readonly string[]): Promise<{ count: number, bytes: number }> { return await this.collector.sweepChunks(hashes) }

  // ---------------------------------------------------------------- verify

  /**
   * Re-hash every chunk and every object, and recompute every reference
   * count (store/verify.ts). Reports problems; changes nothing.
   */
  async verify (options: OperationOptions = {}): Promise<VerifyResult> {
    return await verify({ kv: this.kv, chunks: this.chunks }, options)
  }
}
