/**
 * The repo: objects, manifests, reference counts and pins over a KvStore
 * (metadata) and a ChunkStore (bytes). Knows nothing of HTTP or libp2p.
 *
 * A facade: each concern lives in its own file (access, guard, pins,
 * manifests, collect, quota, reader, writer, gc, verify) and Repo delegates.
 * Its invariants (reference counts, manifest states, checked by `verify`)
 * are in docs/storage.md, Reference counting.
 */
import type { ContentInfo, GcResult, OperationOptions, QuotaStatus, VerifyResult } from '../interface.js'
import { DEFAULT_PRIORITY } from '../interface.js'
import type { DirEntry } from '../format/directory.js'
import type { ChunkStore } from './chunk-store.js'
import type { KvStore } from './kv.js'
import { Mutex } from './mutex.js'
import type { Counters, HoldRecord, ObjectRecord, PinRecord } from './records.js'
import { readCounters } from './records.js'
import { Guard, Protections } from './guard.js'
import { AccessClock } from './access.js'
import { Manifests } from './manifests.js'
import { Pins } from './pins.js'
import type { Collected } from './collect.js'
import { Collector } from './collect.js'
import type { EvictResult, QuotaOptions } from './quota.js'
import { Quota } from './quota.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'
import type { FileMeta, ImportOptions } from './writer.js'
import { gc } from './gc.js'
import { verify } from './verify.js'
import { logger } from '../logger.js'

const log = logger('store')

export { Guard } from './guard.js'
export type { Counters, HoldRecord, ObjectRecord, PinRecord } from './records.js'
export type { EvictResult, QuotaOptions } from './quota.js'
export type { FileMeta, ImportOptions } from './writer.js'

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
  private readonly writer: Writer

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
    this.writer = new Writer({
      kv: init.kv,
      chunks: init.chunks,
      lock: this.lock,
      protections: this.protections,
      manifests: this.manifests,
      quota: this.quotaPart,
      collector: this.collector,
      access: this.access,
      chunkSize: init.chunkSize,
      requireObject: async (h) => await this.requireObject(h)
    })
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
    await this.flushAccess().catch((err) => { log.error('writing access times at close failed: %s', err?.message ?? err) })
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

  // ---------------------------------------------------------------- writing (store/writer.ts)

  /**
   * Import a byte stream as a file object. Resolves once the object is
   * durable. With `added`, the object is a local add (a GC root).
   * `guard`, when given, keeps the new object protected until the caller
   * releases it (directory imports).
   */
  async importFile (source: AsyncIterable<Uint8Array>, meta: FileMeta, options: ImportOptions): Promise<ObjectRecord> { return await this.writer.importFile(source, meta, options) }

  /** Store a directory object for `entries` (whose objects must exist and be protected by `guard`). Resolves once durable. */
  async commitDirectory (entries: DirEntry[], meta: { filename: string, mod_time?: string }, options: { added: boolean, guard: Guard, deferred?: boolean }): Promise<ObjectRecord> { return await this.writer.commitDirectory(entries, meta, options) }

  /** Release a local add. The object stays until gc finds nothing else holds it. */
  async rm (hash: string): Promise<ContentInfo> { return await this.writer.rm(hash) }

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
