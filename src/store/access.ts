/**
 * The access clock behind the eviction order (least recently used first):
 * uses are kept in memory and written to `at/<hash>` lazily, in one
 * non-synced batch at most every ACCESS_FLUSH_MS, only for objects that
 * still exist.
 */
import type { KvOp, KvStore } from './kv.js'
import type { Mutex } from './mutex.js'
import { K, num, numValue } from './keys.js'
import { logger } from '../logger.js'

const log = logger('store:access')

/** Last-access times are written (non-synced batch) at most this often. */
export const ACCESS_FLUSH_MS = 2000

export class AccessClock {
  /** Last accesses not yet written to `at/<hash>` (hash -> ms); newer than what is stored. */
  private readonly pending = new Map<string, number>()
  private clock = 0
  private timer?: NodeJS.Timeout
  private stopped = false

  constructor (private readonly kv: KvStore, private readonly lock: Mutex) {}

  /** Record a use of `hash`. */
  touch (hash: string): void {
    this.clock = Math.max(Date.now(), this.clock + 1)
    this.pending.set(hash, this.clock)
    if (this.timer === undefined && !this.stopped) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flush().catch((err) => { log.error('writing access times failed: %s', err?.message ?? err) })
      }, ACCESS_FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Write pending last-access times (one non-synced batch; only for objects that still exist). */
  async flush (): Promise<void> {
    if (this.pending.size === 0) return
    await this.lock.run(async () => {
      const pending = [...this.pending]
      const present = await this.kv.getMany(pending.map(([h]) => K.object(h)))
      const ops: KvOp[] = []
      pending.forEach(([h, at], i) => { if (present[i] !== undefined) ops.push({ type: 'put', key: K.access(h), value: numValue(at) }) })
      if (ops.length > 0) await this.kv.batch(ops)
      for (const [h, at] of pending) if (this.pending.get(h) === at) this.pending.delete(h)
    })
  }

  /** A use not yet written, if any. */
  unwritten (hash: string): number | undefined {
    return this.pending.get(hash)
  }

  /** When `hash` was last used (ms): pending, else stored, else `createdAt`. */
  async last (hash: string, createdAt: string): Promise<number> {
    const pending = this.pending.get(hash)
    if (pending !== undefined) return pending
    const v = await this.kv.get(K.access(hash))
    return v === undefined ? Date.parse(createdAt) : num(v)
  }

  /** The object is gone (its at/ key goes in the same batch). */
  forget (hash: string): void {
    this.pending.delete(hash)
  }

  /** No more timed flushes (the caller flushes once more itself). */
  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
  }
}
