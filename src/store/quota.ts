/**
 * storage.max_bytes: what the quota counts (unique chunk bytes stored plus
 * those admitted and being written), admission of new chunks, and eviction
 * of cached content (least recently used first) to make room, in the
 * foreground when an add needs room and in the background past the
 * high-water mark. One eviction or gc at a time (the gc lock).
 */
import type { OperationOptions, QuotaStatus } from '../interface.js'
import type { AccessClock } from './access.js'
import type { ChunkStore } from './chunk-store.js'
import type { Collector } from './collect.js'
import type { Protections } from './guard.js'
import type { KvStore } from './kv.js'
import type { Manifests } from './manifests.js'
import type { Mutex } from './mutex.js'
import type { Pins } from './pins.js'
import { K, PREFIX, dec, keyName, num } from './keys.js'
import type { ObjectRecord } from './records.js'
import { InsufficientStorageError } from '../errors.js'
import { logger } from '../logger.js'

const log = logger('store:quota')

/** storage.max_bytes and its water marks (fractions of max_bytes). */
export interface QuotaOptions {
  /** Largest sum of stored unique chunk bytes; 0 = unlimited. */
  maxBytes: number
  /** After a write, past highWater × maxBytes, eviction runs in the background… */
  highWater: number
  /** …down to lowWater × maxBytes. */
  lowWater: number
}

export interface EvictResult { objects_removed: number, bytes_freed: number }

/** One add's view of the eviction order (computed on its first eviction). */
export interface AddQuota { candidates?: string[], rescanned: boolean }

export interface QuotaContext {
  kv: KvStore
  chunks: ChunkStore
  gcMutex: Mutex
  protections: Protections
  pins: Pick<Pins, 'keptForEviction' | 'wanted'>
  access: Pick<AccessClock, 'unwritten'>
  collector: Collector
  manifests: Manifests
}

export class Quota {
  /** Unique chunk bytes stored, staged ones included: chunks.stats().bytes at open, then kept up to date by puts and sweeps. */
  private used?: number
  private usedLoading?: Promise<void>
  /** Bytes of new chunks admitted under the quota whose put has not finished. */
  private reserved = 0
  /** The background eviction past the high-water mark, while it runs. */
  private background?: Promise<void>
  private readonly closing = new AbortController()
  private evicted = { objects: 0, bytes: 0 }

  constructor (private readonly ctx: QuotaContext, private readonly options: QuotaOptions) {}

  /** Load the stored byte count the quota starts from (before the first write). */
  async init (): Promise<void> {
    if (this.used !== undefined) return
    this.usedLoading ??= (async () => { this.used ??= (await this.ctx.chunks.stats()).bytes })()
    await this.usedLoading
  }

  /** Abort a running background eviction and wait for it. */
  async stop (): Promise<void> {
    this.closing.abort()
    await this.background?.catch(() => {})
  }

  /** A new chunk of `bytes` was stored. */
  stored (bytes: number): void { this.used! += bytes }
  /** Chunk bytes were deleted. */
  freed (bytes: number): void { if (this.used !== undefined) this.used -= bytes }
  /** A put admitted by `admit` is done: its reservation ends. */
  unreserve (bytes: number): void { this.reserved -= bytes }

  /** What the quota counts, and what eviction has done since the store was opened. */
  async status (): Promise<QuotaStatus> {
    await this.init()
    return {
      used_bytes: this.used!,
      max_bytes: this.options.maxBytes,
      gc_high_water: this.options.highWater,
      gc_low_water: this.options.lowWater,
      evicted_objects: this.evicted.objects,
      evicted_bytes: this.evicted.bytes
    }
  }

  /**
   * Under a quota, whether the chunk store's dead space (disk bytes beyond
   * the live ones) exceeds the eviction band, (1 - gc_low_water) ×
   * max_bytes (at least a tenth of it): then compaction rewrites every pack
   * with dead space, the active one included, so that disk use stays near
   * max_bytes (defect 7 of issue 13; see docs/storage.md).
   */
  private async bloated (): Promise<boolean> {
    const { maxBytes, lowWater } = this.options
    if (maxBytes === 0) return false
    const st = await this.ctx.chunks.stats()
    if (st.disk_bytes === undefined) return false
    return st.disk_bytes - st.bytes > Math.max(1 - lowWater, 0.1) * maxBytes
  }

  private fits (bytes: number): boolean {
    return this.used! + this.reserved + bytes <= this.options.maxBytes
  }

  /**
   * Admit a chunk of `bytes` under the quota before it is put: reserve its
   * bytes if they fit; else, if the store does not have the chunk already,
   * evict cached content (least recently used first) until they fit, or fail
   * with INSUFFICIENT_STORAGE. Returns the bytes reserved (released by the
   * caller once the put is done). The chunk must already be guarded.
   */
  async admit (hash: string, bytes: number, state: AddQuota): Promise<number> {
    if (this.options.maxBytes === 0) return 0 // no quota: nothing to reserve
    if (this.fits(bytes)) { this.reserved += bytes; return bytes }
    if (await this.ctx.chunks.has(hash)) return 0 // stored already: the put writes nothing
    return await this.ctx.gcMutex.run(async () => {
      for (;;) {
        if (this.fits(bytes)) { this.reserved += bytes; return bytes }
        state.candidates ??= await this.candidates()
        const next = state.candidates.shift()
        if (next !== undefined) {
          await this.evictTree(next)
          // what eviction deleted is dead pack space: reclaimed before it outgrows the quota's band
          if (this.fits(bytes) && await this.bloated()) await this.ctx.chunks.compact({ threshold: 1 })
          continue
        }
        // objects may have become evictable since the list was made: look once more
        if (state.rescanned) break
        state.rescanned = true
        state.candidates = undefined
      }
      const max = this.options.maxBytes
      throw new InsufficientStorageError(
        `not enough storage: storage.max_bytes is ${max} bytes, ${this.used! + this.reserved} are in use by pinned, added or in-progress content, and this write needs ${bytes} more; nothing else can be evicted`,
        { max_bytes: max, used_bytes: this.used!, reserved_bytes: this.reserved, needed_bytes: bytes })
    })
  }

  /**
   * Objects eviction may remove, least recently used first: no directory
   * names them (refs 0), not local adds, not pinned, not held, not
   * protected by an add in progress (what gc collects), and not awaited by
   * a wanted pin.
   */
  async candidates (exclude?: ReadonlySet<string>): Promise<string[]> {
    const kept = await this.ctx.pins.keptForEviction()
    const found: Array<{ hash: string, at: number }> = []
    for await (const [k, v] of this.ctx.kv.iterate({ prefix: PREFIX.object })) {
      const hash = keyName(PREFIX.object, k)
      if (kept.has(hash) || this.ctx.protections.objects.has(hash) || exclude?.has(hash) === true) continue
      const rec = dec<ObjectRecord>(v)
      if (rec.refs === 0 && !rec.added) found.push({ hash, at: Date.parse(rec.created_at) })
    }
    if (found.length === 0) return []
    const stored = await this.ctx.kv.getMany(found.map(c => K.access(c.hash)))
    found.forEach((c, i) => {
      const at = this.ctx.access.unwritten(c.hash) ?? (stored[i] === undefined ? undefined : num(stored[i]))
      if (at !== undefined && Number.isFinite(at)) c.at = at
    })
    found.sort((a, b) => a.at - b.at || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))
    return found.map(c => c.hash)
  }

  /** Collect `hash` if nothing keeps it, cascading into a directory's children, and sweep the chunks it alone held. */
  private async evictTree (hash: string): Promise<EvictResult> {
    const result: EvictResult = { objects_removed: 0, bytes_freed: 0 }
    const sweep = async (zeroed: string[]): Promise<void> => { result.bytes_freed += (await this.ctx.collector.sweepChunks(zeroed)).bytes }
    let work = [hash]
    while (work.length > 0) {
      const next: string[] = []
      for (const h of work) {
        const removed = await this.ctx.collector.collectObject(h)
        if (removed === undefined) continue
        result.objects_removed++
        if (removed.manifest !== undefined) await this.ctx.manifests.release(removed.manifest, sweep)
        next.push(...removed.orphans)
      }
      work = next
    }
    this.evicted.objects += result.objects_removed
    this.evicted.bytes += result.bytes_freed
    return result
  }

  /**
   * Remove those of `hashes` that are only cache (what eviction may remove:
   * not added, pinned, held, wanted, referenced by a directory or protected
   * by work in progress), with what they alone hold. For a fetch that failed:
   * the objects it stored on the way are not left behind.
   */
  async dropCached (hashes: readonly string[]): Promise<EvictResult> {
    await this.init()
    return await this.ctx.gcMutex.run(async () => {
      const wanted = await this.ctx.pins.wanted()
      const total: EvictResult = { objects_removed: 0, bytes_freed: 0 }
      // parents first: removing a directory leaves its children unreferenced, and they go with it
      for (const h of [...hashes].reverse()) {
        if (wanted.has(h)) continue
        const r = await this.evictTree(h)
        total.objects_removed += r.objects_removed
        total.bytes_freed += r.bytes_freed
      }
      // not evictions to make room: the quota's counters stay as they were
      this.evicted.objects -= total.objects_removed
      this.evicted.bytes -= total.bytes_freed
      return total
    })
  }

  private async evictDown (targetBytes: number, options: OperationOptions & { exclude?: ReadonlySet<string> }): Promise<EvictResult> {
    const result: EvictResult = { objects_removed: 0, bytes_freed: 0 }
    if (this.used! + this.reserved <= targetBytes) return result
    for (const hash of await this.candidates(options.exclude)) {
      if (this.used! + this.reserved <= targetBytes || options.signal?.aborted === true) break
      const r = await this.evictTree(hash)
      result.objects_removed += r.objects_removed
      result.bytes_freed += r.bytes_freed
      options.onProgress?.({ type: 'evict:objects', count: result.objects_removed, bytes: result.bytes_freed })
    }
    return result
  }

  /**
   * After a write: past the high-water mark, evict in the background down to
   * the low-water mark (never the object just written), then compact. At
   * most one such run at a time.
   */
  afterWrite (hash: string): void {
    const { maxBytes, highWater, lowWater } = this.options
    if (maxBytes === 0 || this.background !== undefined || this.closing.signal.aborted) return
    if (this.used! + this.reserved <= highWater * maxBytes) return
    const signal = this.closing.signal
    this.background = this.ctx.gcMutex.run(async () => {
      const r = await this.evictDown(Math.floor(lowWater * maxBytes), { exclude: new Set([hash]), signal })
      if (signal.aborted) return
      if (await this.bloated()) await this.ctx.chunks.compact({ threshold: 1 })
      else if (r.objects_removed > 0) await this.ctx.chunks.compact()
    }).catch((err) => {
      log.error('background eviction failed: %s', err?.message ?? err)
    }).finally(() => { this.background = undefined })
  }

  /** Resolves once no background eviction runs (tests, shutdown). */
  async idle (): Promise<void> {
    while (this.background !== undefined) await this.background
  }
}
