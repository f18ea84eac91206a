/**
 * One file's transfer from its providers into the store, verified: the chunk
 * list arrives page by page from one provider, chunk requests go to every
 * provider (`window` in flight each), each chunk is checked against its
 * SHA-256 and length on the hash worker, in index order, before it joins the
 * whole-file hash and goes to the import. A provider that sends a bad chunk,
 * breaks the protocol or disconnects is dropped and its chunks go to the
 * others; the file's hash is checked (Repo.importFile's expectHash) before
 * anything is committed. Memory is bounded by the chunks requested ahead of
 * the import (`maxAhead`), whatever the size or chunk count a peer claims.
 */
import { AbortedError, FetchFailedError } from '../errors.js'
import { FileVerifier } from '../format/hasher.js'
import type { ChunkHasher } from '../format/hasher.js'
import type { Guard, ObjectRecord, Repo } from '../store/repo.js'
import type { ObjectMessage } from './exchange.js'
import { ChunkListWindow } from './chunk-list.js'
import { Notifier, alive } from './provider-search.js'
import type { Provider, ProviderSearch } from './provider-search.js'

/** Chunks checked on the hash worker at a time (in index order), per fetch. */
const CHECK_WINDOW = 8

export interface FileTransferInit {
  hash: string
  meta: ObjectMessage
  /** The provider whose chunk list is used. */
  from: Provider
  search: ProviderSearch
  guard: Guard
  signal: AbortSignal
  repo: Repo
  /** Chunk requests in flight per provider. */
  window: number
  /** Providers pulled from at once. */
  maxProviders: number
  /** Called with each chunk once the store has written it (its memory may be reused). */
  release?: (bytes: Uint8Array) => void
  /** Drop a misbehaving provider from the fetch (and close its session). */
  drop: (p: Provider, why: string) => void
}

export class FileTransfer {
  private readonly n: number
  private readonly cs: number
  private readonly list: ChunkListWindow
  /** Received, not yet checked (with who sent them). */
  private readonly arrived = new Map<number, { bytes: Buffer, from: Provider }>()
  /** Checked, and part of the whole-file hash: waiting for the import. */
  private readonly verified = new Map<number, Buffer>()
  private readonly retry: number[] = []
  /** Chunks some providers said they do not have, with those providers. */
  private readonly lacking = new Map<number, Set<Provider>>()
  private readonly change = new Notifier()
  private readonly verifier = new FileVerifier()
  /** Chunks requested but not yet imported, whatever their state: bounds the memory a fetch holds. */
  private readonly maxAhead: number
  private readonly workers: Array<Promise<void>> = []
  private nextIssue = 0
  private nextCheck = 0
  private checking = 0
  private nextYield = 0
  private pulling = 0
  private named = 0
  private finished = false
  private failure: Error | undefined

  constructor (private readonly init: FileTransferInit) {
    const { hash, meta, from, window, maxProviders, search } = init
    this.n = meta.chunk_count
    this.cs = meta.chunk_size!
    // the chunk list arrives page by page from `from`, as the fetch window moves: never whole
    this.list = new ChunkListWindow(hash, this.n, async (start, count) => await from.session.chunks(hash, start, count))
    this.maxAhead = Math.max(window * 2, window * Math.min(search.list.length, maxProviders))
  }

  /** Fetch, check and import the file; the committed record, or the first failure. */
  async run (): Promise<ObjectRecord> {
    const { hash, meta, search, signal, guard } = this.init
    const onAbort = (): void => { this.fail(new AbortedError('fetch aborted', { hash })) }
    signal.addEventListener('abort', onAbort, { once: true })
    for (const p of alive(search.list)) this.start(p)
    // providers found after the fetch started join it; the end of the search may leave it with none
    const unjoin = search.onJoin((p) => { this.start(p) })
    const unfinish = search.onFinish(() => { this.checkProvidersLeft(); this.change.notify() })
    if (this.n > 0) this.pageAhead()
    try {
      return await this.init.repo.importFile(this.source(), { filename: meta.filename, mod_time: meta.mod_time, mime_type: meta.mime_type }, {
        added: false,
        guard,
        expectHash: hash,
        signal,
        prehashed: { hasher: this.prehashed(), chunkSize: this.cs, release: this.init.release }
      })
    } finally {
      this.finished = true
      signal.removeEventListener('abort', onAbort)
      unjoin()
      unfinish()
      this.change.notify()
      this.verifier.dispose() // no-op once digested
      await Promise.allSettled(this.workers)
    }
  }

  private expectedLength (i: number): number { return i < this.n - 1 ? this.cs : this.init.meta.size - (this.n - 1) * this.cs }

  private fail (err: Error): void { this.failure ??= err; this.change.notify() }

  private get stopped (): boolean { return this.finished || this.failure !== undefined }

  /** Load the next page of the list when the chunks asked for come near its end. */
  private pageAhead (): void {
    const { list } = this
    if (list.loaded >= this.n || list.loaded - this.nextIssue > this.maxAhead) return
    void list.more().then(() => {
      if (list.failed !== undefined) this.fail(list.failed)
      this.change.notify()
    })
  }

  private checkProvidersLeft (): void {
    const { search, hash } = this.init
    // none left, and the search will bring no other
    if (alive(search.list).length === 0 && (search.finished || search.closed)) this.fail(new FetchFailedError(`every provider of ${hash} failed or disconnected mid-transfer`, { hash }))
  }

  /** The next chunk for `p` to ask for: one to retry that `p` did not say it lacks, else the next in order. */
  private take (p: Provider): number | undefined {
    const r = this.retry.findIndex(i => this.lacking.get(i)?.has(p) !== true)
    if (r >= 0) return this.retry.splice(r, 1)[0]
    if (this.nextIssue < this.n && this.nextIssue - this.nextYield < this.maxAhead) {
      this.pageAhead()
      if (this.list.has(this.nextIssue)) return this.nextIssue++
    }
    return undefined
  }

  private refetch (i: number, p: Provider, why: string): void {
    this.retry.unshift(i)
    this.init.drop(p, why)
    this.checkProvidersLeft()
    this.change.notify()
  }

  /**
   * Check arrived chunks on the hash worker, in index order, a few at a
   * time: a chunk joins the whole-file hash only if it is intact and the
   * next one. A corrupt chunk is fetched again (its sender dropped); the
   * chunks sent for checking after it come back unfed and are checked again
   * after its replacement.
   */
  private pump (): void {
    while (this.checking < CHECK_WINDOW && !this.stopped) {
      const i = this.nextCheck
      const got = this.arrived.get(i)
      if (got === undefined) return
      this.arrived.delete(i)
      this.nextCheck++
      this.checking++
      this.verifier.check(i, got.bytes, this.list.get(i)).then((r) => {
        this.checking--
        if (r.fed) {
          this.verified.set(i, r.bytes)
          this.lacking.delete(i)
        } else {
          if (r.corrupt) this.refetch(i, got.from, `sent a corrupt chunk ${this.list.get(i)}`)
          else this.arrived.set(i, { bytes: r.bytes, from: got.from }) // after a corrupt one: check again in turn
          this.nextCheck = Math.min(this.nextCheck, i)
        }
        this.change.notify()
        this.pump()
      }, (err) => { this.checking--; this.fail(err instanceof Error ? err : new Error(String(err))) })
    }
  }

  /** `p` said it does not hold chunk `i`: someone else is asked; when nobody left has it, the fetch fails. */
  private lacks (i: number, p: Provider): void {
    const set = this.lacking.get(i) ?? new Set<Provider>()
    set.add(p)
    this.lacking.set(i, set)
    this.retry.unshift(i)
    if (alive(this.init.search.list).every(q => set.has(q))) this.fail(new FetchFailedError(`no provider has chunk ${i} (${this.list.get(i)}) of ${this.init.hash}`, { hash: this.init.hash }))
    this.change.notify()
  }

  /** One request slot of a provider: asks for chunks one at a time until the file is done or the provider dropped. */
  private async worker (p: Provider): Promise<void> {
    while (!this.stopped && p.alive) {
      const i = this.take(p)
      if (i === undefined) {
        if (this.nextYield >= this.n) return
        await this.change.wait()
        continue
      }
      let bytes: Buffer | undefined
      try {
        bytes = await p.session.block(this.list.get(i))
      } catch (err) {
        this.refetch(i, p, String((err as Error)?.message ?? err))
        return
      }
      if (bytes === undefined) {
        this.lacks(i, p)
        continue
      }
      if (bytes.byteLength !== this.expectedLength(i)) {
        this.refetch(i, p, `sent chunk ${this.list.get(i)} with a wrong length`)
        return
      }
      this.arrived.set(i, { bytes, from: p })
      this.pump()
    }
  }

  /** Start pulling from a provider (up to `maxProviders` at once), `window` requests in flight. */
  private start (p: Provider): void {
    if (this.stopped || !p.alive || this.pulling >= this.init.maxProviders) return
    this.pulling++
    for (let k = 0; k < this.init.window; k++) this.workers.push(this.worker(p))
    this.change.notify()
  }

  /** The checked chunks, in order, for the import. */
  private async * source (): AsyncGenerator<Uint8Array> {
    while (this.nextYield < this.n) {
      const bytes = this.verified.get(this.nextYield)
      if (bytes !== undefined) {
        this.verified.delete(this.nextYield)
        this.nextYield++
        this.change.notify()
        yield bytes
        continue
      }
      if (this.failure !== undefined) throw this.failure
      await this.change.wait()
    }
  }

  /**
   * Every chunk the import sees was checked against the list on its way in: it need not hash them again (one
   * more pass over the data), only take their names and the whole-file hash.
   */
  private prehashed (): ChunkHasher {
    return {
      chunk: async (bytes) => {
        const i = this.named++
        if (i >= this.n || bytes.byteLength !== this.expectedLength(i)) throw new Error(`import saw chunk ${i} of ${this.init.hash} cut differently from the list`)
        const h = this.list.get(i)
        this.list.release(i + 1)
        return { hash: h, bytes }
      },
      digest: async () => await this.verifier.digest(),
      dispose: () => { this.verifier.dispose() }
    }
  }
}
