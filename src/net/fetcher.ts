/**
 * Fetch an object from peers, verified, into the local store as unpinned
 * cache. Every chunk is checked against its SHA-256 (and its expected length)
 * before it reaches the store; a file's whole SHA-256 is checked before the
 * object is committed (Repo.importFile's expectHash), a directory's encoding
 * before it is decoded. A provider that misbehaves (bad chunk, forged chunk
 * list, broken protocol, timeout, disconnect) is dropped from the fetch and
 * its work goes to the others; when none is left the fetch fails and nothing
 * partial stays behind (the import is abandoned and swept). Finding and
 * probing the providers: provider-probe.ts.
 */
import { setMaxListeners } from 'node:events'
import { AbortedError, CorruptDataError, FetchFailedError, InsufficientStorageError, NotFoundError, ProtocolError } from '../errors.js'
import { sha256hex } from '../format/hash.js'
import { decodeDirectory } from '../format/directory.js'
import type { Guard, ObjectRecord, Repo } from '../store/repo.js'
import type { ExchangeSession, ObjectMessage } from './exchange.js'
import { FileTransfer } from './file-transfer.js'
import type { Provider, ProviderSearch } from './provider-search.js'
import { checkMeta, discover } from './provider-probe.js'

/** Directories nested deeper than this in one fetch are refused (each level is a round trip and a stack frame). */
export const MAX_DIRECTORY_DEPTH = 256
/** Default for `maxObjectBytes` (network.max_object_bytes): 1 TiB. */
export const DEFAULT_MAX_OBJECT_BYTES = 2 ** 40

export interface FetcherDeps {
  repo: Repo
  /** Peers announcing `hash` (peer id strings); ends when the search ends or `signal` aborts. */
  findProviders: (hash: string, signal: AbortSignal) => AsyncIterable<string>
  /** Dial the peer (if needed) and open an exchange stream. */
  openSession: (peer: string, signal: AbortSignal) => Promise<ExchangeSession>
  /** Called with each fetched chunk once it is written to the store (its memory may be reused, e.g. by the sessions' BufferPool). */
  release?: (bytes: Uint8Array) => void
  log?: (msg: string) => void
}

export interface FetcherOptions {
  /** Give up finding a provider after this long (then NOT_FOUND). */
  searchTimeoutMs: number
  /** Providers to fetch from in parallel. */
  maxProviders: number
  /** Chunk requests in flight per provider. */
  window: number
  /** Largest object (file or directory total) a peer may announce; larger claims are a protocol error. */
  maxObjectBytes?: number
}

function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortedError('fetch aborted')
}

/** One fetch of a hash, shared by its concurrent requesters. */
interface Run {
  promise: Promise<ObjectRecord>
  ctrl: AbortController
  /** Requesters still waiting for it. */
  waiting: number
}

/** What one top-level fetch committed (children of a directory): dropped again if the fetch fails. */
interface FetchContext {
  created: string[]
  depth: number
}

export class Fetcher {
  private readonly active = new Map<string, Run>()
  /** Every run, shared or not (a replica's size-limited runs are not in `active`). */
  private readonly runs = new Set<Run>()
  /** Aborts every run (shutdown). */
  private readonly stopping = new AbortController()

  constructor (private readonly deps: FetcherDeps, private readonly options: FetcherOptions) {
    setMaxListeners(Infinity, this.stopping.signal)
  }

  private get maxObjectBytes (): number { return this.options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES }

  /** Fetches in progress (hash -> promise), e.g. for stats. */
  get inProgress (): number { return this.runs.size }

  /** Abort every fetch in progress, and refuse new ones (shutdown). */
  stop (): void { this.stopping.abort(new AbortedError('the node is shutting down')) }

  /**
   * The object, from the local store, or else fetched from the network.
   * Concurrent fetches of one hash share the work. NOT_FOUND when no
   * provider answers within the search time; FETCH_FAILED when providers
   * were found but none delivered intact data. A requester whose `signal`
   * aborts gets ABORTED at once; the shared fetch itself is aborted only
   * when every one of its requesters has aborted (or on stop()).
   */
  async fetch (hash: string, options: { signal?: AbortSignal, maxBytes?: number } = {}): Promise<ObjectRecord> {
    const { signal } = options
    throwIfAborted(signal)
    const local = await this.deps.repo.getObject(hash)
    if (local !== undefined) return local
    throwIfAborted(signal)
    if (this.stopping.signal.aborted) throw new AbortedError('the node is shutting down')
    let run = this.active.get(hash)
    if (run === undefined) {
      const ctrl = new AbortController()
      setMaxListeners(Infinity, ctrl.signal)
      const r: Run = { ctrl, waiting: 0, promise: undefined as unknown as Promise<ObjectRecord> }
      r.promise = this.run(hash, AbortSignal.any([ctrl.signal, this.stopping.signal]), options.maxBytes).finally(() => {
        if (this.active.get(hash) === r) this.active.delete(hash)
        this.runs.delete(r)
      })
      this.runs.add(r)
      // every requester gets the outcome through its own promise below
      r.promise.catch(() => {})
      // a run with a size limit (a replica's) is its own: others must not fail by that limit
      if (options.maxBytes === undefined) this.active.set(hash, r)
      run = r
    }
    const r = run
    r.waiting++
    return await new Promise<ObjectRecord>((resolve, reject) => {
      let settled = false
      const onAbort = (): void => {
        if (settled) return
        settled = true
        r.waiting--
        if (r.waiting === 0) {
          // the last one waiting went away: stop the work (a later request starts afresh)
          if (this.active.get(hash) === r) this.active.delete(hash)
          r.ctrl.abort(new AbortedError('every requester went away'))
        }
        reject(new AbortedError('fetch aborted', { hash }))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      r.promise.then((rec) => {
        if (settled) return
        settled = true
        r.waiting--
        signal?.removeEventListener('abort', onAbort)
        resolve(rec)
      }, (err) => {
        if (settled) return
        settled = true
        r.waiting--
        signal?.removeEventListener('abort', onAbort)
        reject(err)
      })
    })
  }

  private async run (hash: string, signal: AbortSignal, maxBytes?: number): Promise<ObjectRecord> {
    const search = discover(hash, this.deps, { ...this.options, maxObjectBytes: this.maxObjectBytes }, signal)
    const guard = this.deps.repo.guard()
    const ctx: FetchContext = { created: [], depth: 0 }
    // an abort closes the sessions at once: requests waiting on a silent peer fail now, not after request_timeout_ms
    const onAbort = (): void => { for (const p of search.list) this.drop(p, 'fetch aborted') }
    signal.addEventListener('abort', onAbort, { once: true })
    let ok = false
    try {
      await search.ready
      throwIfAborted(signal)
      if (search.list.length === 0) {
        if (search.rejected.length > 0) {
          throw new FetchFailedError(`could not fetch ${hash}: every provider found was refused (${search.rejected.join('; ')})`, { hash, providers: search.rejected.length })
        }
        throw new NotFoundError(`content not found: ${hash} (not stored here, and no peer provided it within ${this.options.searchTimeoutMs} ms)`, { hash, operation: 'content_retrieval' })
      }
      const rec = await this.fetchObject(hash, search, guard, signal, ctx, maxBytes)
      ok = true
      return rec
    } finally {
      signal.removeEventListener('abort', onAbort)
      search.close()
      guard.release()
      // close in the background: waiting for each peer to close its end would delay the answer by a round trip
      for (const p of search.list) void p.session.close().catch(() => {})
      // a failed directory fetch leaves none of its children behind as cache (those already here, or kept, stay)
      if (!ok && ctx.created.length > 0) {
        await this.deps.repo.dropCached(ctx.created).catch((err) => {
          this.deps.log?.(`dropping what the failed fetch of ${hash} stored: ${String((err as Error)?.message ?? err)}`)
        })
      }
    }
  }

  private drop (p: Provider, why: string): void {
    if (!p.alive) return
    p.alive = false
    this.deps.log?.(`dropping provider ${p.peer}: ${why}`)
    void p.session.close().catch(() => {})
  }

  /** The object's metadata from one provider (cached per provider). */
  private async metaFrom (p: Provider, hash: string): Promise<ObjectMessage | undefined> {
    let m = p.metas.get(hash)
    if (m === undefined) {
      m = await p.session.object(hash)
      if (m === undefined) return undefined
      checkMeta(hash, m, this.maxObjectBytes)
      p.metas.set(hash, m)
    }
    return m
  }

  /** Fetch `hash` (file or directory) from the providers, trying each in turn for its metadata. */
  private async fetchObject (hash: string, search: ProviderSearch, guard: Guard, signal: AbortSignal, ctx: FetchContext, maxBytes?: number): Promise<ObjectRecord> {
    const failures: string[] = []
    const providers = search.list
    for (let i = 0; ; i++) {
      throwIfAborted(signal)
      if (i >= providers.length) {
        // every provider known so far failed: wait for the search to bring another
        if (search.finished || search.closed) break
        await search.next()
        i--
        continue
      }
      const p = providers[i]
      if (!p.alive || p.session.closed) continue
      const local = await this.deps.repo.getObject(hash)
      if (local !== undefined) { guard.protectObject(hash); return local }
      let meta: ObjectMessage | undefined
      try {
        meta = await this.metaFrom(p, hash)
      } catch (err) {
        this.drop(p, String((err as Error)?.message ?? err))
        failures.push(`${p.peer}: ${String((err as Error)?.message ?? err)}`)
        continue
      }
      if (meta === undefined) { failures.push(`${p.peer}: does not have it`); continue }
      await this.checkFits(hash, meta)
      try {
        if (maxBytes !== undefined && meta.size > maxBytes) throw new ProtocolError(`${hash} is announced with ${meta.size} bytes, more than the ${maxBytes} expected`)
        const rec = meta.is_directory
          ? await this.fetchDirectory(hash, meta, p, search, guard, signal, ctx)
          : await this.fetchFile(hash, meta, p, search, guard, signal)
        ctx.created.push(hash)
        return rec
      } catch (err: any) {
        if (err instanceof AbortedError || signal?.aborted === true) throw err
        if (err instanceof FetchFailedError) throw err // every provider is gone
        if (err instanceof InsufficientStorageError) throw err // our disk, not the provider: no other provider helps
        // the provider whose metadata/list we used lied or broke: drop it, try the next
        this.drop(p, String(err?.message ?? err))
        failures.push(`${p.peer}: ${String(err?.message ?? err)}`)
      }
    }
    throw new FetchFailedError(`could not fetch ${hash} intact from any provider (${failures.join('; ') || 'no provider left'})`, { hash, providers: providers.length })
  }

  /** INSUFFICIENT_STORAGE before anything is fetched when the object is larger than the whole quota. */
  private async checkFits (hash: string, meta: ObjectMessage): Promise<void> {
    const q = await this.deps.repo.quotaStatus()
    if (q.max_bytes > 0 && meta.size > q.max_bytes) {
      throw new InsufficientStorageError(`not enough storage: ${hash} is ${meta.size} bytes, more than storage.max_bytes (${q.max_bytes})`, { hash, max_bytes: q.max_bytes, needed_bytes: meta.size })
    }
  }

  private async fetchDirectory (hash: string, meta: ObjectMessage, from: Provider, search: ProviderSearch, guard: Guard, signal: AbortSignal, ctx: FetchContext): Promise<ObjectRecord> {
    if (ctx.depth >= MAX_DIRECTORY_DEPTH) throw new ProtocolError(`directory ${hash} is nested more than ${MAX_DIRECTORY_DEPTH} levels deep`)
    const encoding = Buffer.from(meta.encoding!, 'base64')
    if (sha256hex(encoding) !== hash) throw new CorruptDataError(`directory encoding from ${from.peer} does not hash to ${hash}`)
    const entries = decodeDirectory(encoding)
    let total = 0
    for (const e of entries) total += e.size
    if (total !== meta.size) throw new ProtocolError(`directory ${hash}: its entries add up to ${total} bytes, not the ${meta.size} announced`)
    for (const e of entries) {
      throwIfAborted(signal)
      ctx.depth++
      let child: ObjectRecord
      try {
        child = await this.fetchObject(e.hash, search, guard, signal, ctx)
      } finally {
        ctx.depth--
      }
      if (child.is_directory !== (e.type === 'dir') || child.size !== e.size) {
        // the encoding is authentic (it hashes to what we asked), so the directory itself is inconsistent
        throw new FetchFailedError(`directory ${hash}: entry ${JSON.stringify(e.name)} does not match the object it names`, { hash })
      }
    }
    return await this.deps.repo.commitDirectory(entries, { filename: meta.filename, mod_time: meta.mod_time }, { added: false, guard })
  }

  private async fetchFile (hash: string, meta: ObjectMessage, from: Provider, search: ProviderSearch, guard: Guard, signal: AbortSignal): Promise<ObjectRecord> {
    throwIfAborted(signal)
    const { window, maxProviders } = this.options
    const drop = (p: Provider, why: string): void => { this.drop(p, why) }
    return await new FileTransfer({ hash, meta, from, search, guard, signal, repo: this.deps.repo, window, maxProviders, release: this.deps.release, drop }).run()
  }
}
