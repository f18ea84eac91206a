/**
 * A file's chunk list as a fetch sees it: a sliding window over the list a
 * provider sends page by page (CHUNKS requests). Only the hashes between the
 * oldest chunk the import has not yet named and the newest page loaded are
 * held, so a fetch holds O(window + page) hashes whatever the chunk count a
 * peer claims. A page must be exactly as long as asked (a short or empty page
 * before the end, or a longer one, is a protocol error).
 */
import { ProtocolError } from '../errors.js'
import { MAX_CHUNKS_PAGE } from './exchange.js'

export type PageLoader = (from: number, count: number) => Promise<string[] | undefined>

const HASH = /^[0-9a-f]{64}$/

export class ChunkListWindow {
  /** hashes[head + k] is the hash of chunk base + k. */
  private hashes: string[] = []
  private head = 0
  private base = 0
  private loading: Promise<void> | undefined
  private failure: Error | undefined

  constructor (private readonly hash: string, readonly count: number, private readonly load: PageLoader, private readonly page = MAX_CHUNKS_PAGE) {}

  /** Index one past the last chunk whose hash is held. */
  get loaded (): number { return this.base + this.hashes.length - this.head }
  /** Hashes held now (for tests and diagnostics). */
  get held (): number { return this.hashes.length - this.head }
  get failed (): Error | undefined { return this.failure }

  has (i: number): boolean { return i >= this.base && i < this.loaded }

  get (i: number): string {
    if (!this.has(i)) throw new Error(`chunk ${i} of ${this.hash} is not in the list window (${this.base}..${this.loaded})`)
    return this.hashes[this.head + i - this.base]
  }

  /** Forget the hashes of the chunks before `i` (the import named them). */
  release (i: number): void {
    const drop = Math.min(i, this.loaded) - this.base
    if (drop <= 0) return
    this.head += drop
    this.base += drop
    if (this.head >= this.page) { this.hashes = this.hashes.slice(this.head); this.head = 0 }
  }

  /**
   * Load the next page unless one is loading or the list is complete;
   * resolves once it is in (or failed: see `failed`). Never throws.
   */
  async more (): Promise<void> {
    if (this.loading !== undefined) return await this.loading
    if (this.failure !== undefined || this.loaded >= this.count) return
    const from = this.loaded
    const want = Math.min(this.page, this.count - from)
    this.loading = (async () => {
      try {
        const got = await this.load(from, want)
        if (got === undefined) throw new ProtocolError(`chunk list of ${this.hash}: the provider no longer has it (at ${from} of ${this.count})`)
        if (got.length !== want) throw new ProtocolError(`chunk list of ${this.hash}: asked ${want} hashes from ${from}, got ${got.length}`)
        for (const h of got) if (typeof h !== 'string' || !HASH.test(h)) throw new ProtocolError(`chunk list of ${this.hash}: malformed hash`)
        for (const h of got) this.hashes.push(h)
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err))
      } finally {
        this.loading = undefined
      }
    })()
    return await this.loading
  }
}
