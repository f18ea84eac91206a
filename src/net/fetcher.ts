/**
 * Fetch an object from peers, verified, into the local store as unpinned
 * cache. Every chunk is checked against its SHA-256 (and its expected length)
 * before it reaches the store; a file's whole SHA-256 is checked before the
 * object is committed (Repo.importFile's expectHash), a directory's encoding
 * before it is decoded. A provider that misbehaves (bad chunk, forged chunk
 * list, broken protocol, timeout, disconnect) is dropped from the fetch and
 * its work goes to the others; when none is left the fetch fails and nothing
 * partial stays behind (the import is abandoned and swept).
 */
import { AbortedError, CorruptDataError, FetchFailedError, NotFoundError, ProtocolError } from '../errors.js'
import { sha256hex, sha256hexAsync } from '../content/hash.js'
import { decodeDirectory } from '../content/directory.js'
import type { Guard, ObjectRecord, Repo } from '../store/repo.js'
import type { ExchangeSession, ObjectMessage } from './exchange.js'
import { MAX_CHUNKS_PAGE } from './exchange.js'

export interface FetcherDeps {
  repo: Repo
  /** Peers announcing `hash` (peer id strings); ends when the search ends or `signal` aborts. */
  findProviders: (hash: string, signal: AbortSignal) => AsyncIterable<string>
  /** Dial the peer (if needed) and open an exchange stream. */
  openSession: (peer: string, signal: AbortSignal) => Promise<ExchangeSession>
  log?: (msg: string) => void
}

export interface FetcherOptions {
  /** Give up finding a provider after this long (then NOT_FOUND). */
  searchTimeoutMs: number
  /** Providers to fetch from in parallel. */
  maxProviders: number
  /** Chunk requests in flight per provider. */
  window: number
  /** After the first provider answers, keep looking for more for this long. */
  extraProvidersMs?: number
}

export interface FetchProgress { hash: string, bytes: number, total?: number }

interface Provider {
  peer: string
  session: ExchangeSession
  alive: boolean
  /** OBJECT answers already received from this provider, by hash. */
  metas: Map<string, ObjectMessage>
}

class Notifier {
  private waiters: Array<() => void> = []
  notify (): void { for (const w of this.waiters.splice(0)) w() }
  async wait (): Promise<void> { await new Promise<void>(resolve => this.waiters.push(resolve)) }
}

function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortedError('fetch aborted')
}

function checkMeta (hash: string, m: ObjectMessage): void {
  const ok = m !== null && typeof m === 'object' && m.hash === hash && typeof m.filename === 'string' && typeof m.mime_type === 'string' &&
    Number.isSafeInteger(m.size) && m.size >= 0 && typeof m.mod_time === 'string' && typeof m.is_directory === 'boolean' &&
    Number.isSafeInteger(m.chunk_count) && m.chunk_count >= 0
  if (!ok) throw new ProtocolError(`malformed OBJECT answer for ${hash}`)
  if (m.is_directory) {
    if (typeof m.encoding !== 'string') throw new ProtocolError(`directory ${hash} came without its encoding`)
  } else {
    const cs = m.chunk_size
    if (cs === undefined || !Number.isSafeInteger(cs) || cs < 1 || cs > 4 * 1024 * 1024) throw new ProtocolError(`bad chunk size for ${hash}`)
    if (m.chunk_count !== Math.ceil(m.size / cs)) throw new ProtocolError(`chunk count ${m.chunk_count} does not fit size ${m.size} for ${hash}`)
  }
}

export class Fetcher {
  private readonly active = new Map<string, Promise<ObjectRecord>>()

  constructor (private readonly deps: FetcherDeps, private readonly options: FetcherOptions) {}

  /** Fetches in progress (hash -> promise), e.g. for stats. */
  get inProgress (): number { return this.active.size }

  /**
   * The object, from the local store, or else fetched from the network.
   * Concurrent fetches of one hash share the work. NOT_FOUND when no
   * provider answers within the search time; FETCH_FAILED when providers
   * were found but none delivered intact data.
   */
  async fetch (hash: string, options: { signal?: AbortSignal } = {}): Promise<ObjectRecord> {
    const local = await this.deps.repo.getObject(hash)
    if (local !== undefined) return local
    let running = this.active.get(hash)
    if (running === undefined) {
      running = this.run(hash, options.signal).finally(() => this.active.delete(hash))
      this.active.set(hash, running)
    }
    return await running
  }

  private async run (hash: string, signal?: AbortSignal): Promise<ObjectRecord> {
    const providers = await this.discover(hash, signal)
    if (providers.length === 0) {
      throw new NotFoundError(`content not found: ${hash} (not stored here, and no peer provided it within ${this.options.searchTimeoutMs} ms)`, { hash, operation: 'content_retrieval' })
    }
    const guard = this.deps.repo.guard()
    try {
      return await this.fetchObject(hash, providers, guard, signal)
    } finally {
      guard.release()
      await Promise.all(providers.map(async p => { await p.session.close() }))
    }
  }

  /** Find providers on the DHT and ask each for the object, within the search time. */
  private async discover (hash: string, signal?: AbortSignal): Promise<Provider[]> {
    const deadline = new AbortController()
    const stopSearch = new AbortController()
    const timer = setTimeout(() => deadline.abort(), this.options.searchTimeoutMs)
    const onAbort = (): void => deadline.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    const searchSignal = AbortSignal.any([deadline.signal, stopSearch.signal])
    const found: Provider[] = []
    const tried = new Set<string>()
    const probes: Array<Promise<void>> = []
    let extraTimer: NodeJS.Timeout | undefined
    let returned = false
    const probe = async (peer: string): Promise<void> => {
      let session: ExchangeSession | undefined
      try {
        session = await this.deps.openSession(peer, deadline.signal)
        const meta = await session.object(hash)
        if (meta === undefined) { await session.close(); return }
        checkMeta(hash, meta)
        if (returned) { await session.close(); return } // too late for this fetch
        found.push({ peer, session, alive: true, metas: new Map([[hash, meta]]) })
        if (found.length === 1) extraTimer = setTimeout(() => stopSearch.abort(), this.options.extraProvidersMs ?? 500)
        if (found.length >= this.options.maxProviders) stopSearch.abort()
      } catch (err) {
        this.deps.log?.(`provider ${peer} for ${hash}: ${String((err as Error)?.message ?? err)}`)
        await session?.close().catch(() => {})
      }
    }
    try {
      try {
        for await (const peer of this.deps.findProviders(hash, searchSignal)) {
          if (tried.has(peer)) continue
          tried.add(peer)
          probes.push(probe(peer))
          if (searchSignal.aborted) break
        }
      } catch (err) {
        if (!searchSignal.aborted) this.deps.log?.(`provider search for ${hash}: ${String((err as Error)?.message ?? err)}`)
      }
      // wait for the probes: all of them while none has answered, else until the extra time ends
      if (found.length === 0) {
        await Promise.race([Promise.allSettled(probes), new Promise(resolve => deadline.signal.addEventListener('abort', resolve, { once: true }))])
      } else if (!stopSearch.signal.aborted) {
        await Promise.race([Promise.allSettled(probes), new Promise(resolve => stopSearch.signal.addEventListener('abort', resolve, { once: true }))])
      }
      throwIfAborted(signal)
      return [...found]
    } finally {
      returned = true
      clearTimeout(timer)
      clearTimeout(extraTimer)
      signal?.removeEventListener('abort', onAbort)
      deadline.abort() // stragglers stop dialing
    }
  }

  private alive (providers: Provider[]): Provider[] { return providers.filter(p => p.alive && !p.session.closed) }

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
      checkMeta(hash, m)
      p.metas.set(hash, m)
    }
    return m
  }

  /** Fetch `hash` (file or directory) from the providers, trying each in turn for its metadata. */
  private async fetchObject (hash: string, providers: Provider[], guard: Guard, signal?: AbortSignal): Promise<ObjectRecord> {
    const failures: string[] = []
    for (const p of providers) {
      throwIfAborted(signal)
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
      try {
        return meta.is_directory
          ? await this.fetchDirectory(hash, meta, p, providers, guard, signal)
          : await this.fetchFile(hash, meta, p, providers, guard, signal)
      } catch (err: any) {
        if (err instanceof AbortedError || signal?.aborted === true) throw err
        if (err instanceof FetchFailedError) throw err // every provider is gone
        // the provider whose metadata/list we used lied or broke: drop it, try the next
        this.drop(p, String(err?.message ?? err))
        failures.push(`${p.peer}: ${String(err?.message ?? err)}`)
      }
    }
    throw new FetchFailedError(`could not fetch ${hash} intact from any provider (${failures.join('; ') || 'no provider left'})`, { hash, providers: providers.length })
  }

  private async fetchDirectory (hash: string, meta: ObjectMessage, from: Provider, providers: Provider[], guard: Guard, signal?: AbortSignal): Promise<ObjectRecord> {
    const encoding = Buffer.from(meta.encoding!, 'base64')
    if (sha256hex(encoding) !== hash) throw new CorruptDataError(`directory encoding from ${from.peer} does not hash to ${hash}`)
    const entries = decodeDirectory(encoding)
    for (const e of entries) {
      const child = await this.fetchObject(e.hash, [from, ...providers.filter(p => p !== from)], guard, signal)
      if (child.is_directory !== (e.type === 'dir') || child.size !== e.size) {
        // the encoding is authentic (it hashes to what we asked), so the directory itself is inconsistent
        throw new FetchFailedError(`directory ${hash}: entry ${JSON.stringify(e.name)} does not match the object it names`, { hash })
      }
    }
    return await this.deps.repo.commitDirectory(entries, { filename: meta.filename, mod_time: meta.mod_time }, { added: false, guard })
  }

  private async chunkList (hash: string, meta: ObjectMessage, p: Provider): Promise<string[]> {
    const list: string[] = []
    while (list.length < meta.chunk_count) {
      const page = await p.session.chunks(hash, list.length, Math.min(MAX_CHUNKS_PAGE, meta.chunk_count - list.length))
      if (page === undefined || page.length === 0) throw new ProtocolError(`chunk list of ${hash} ended at ${list.length} of ${meta.chunk_count}`)
      list.push(...page)
    }
    return list
  }

  private async fetchFile (hash: string, meta: ObjectMessage, from: Provider, providers: Provider[], guard: Guard, signal?: AbortSignal): Promise<ObjectRecord> {
    const list = await this.chunkList(hash, meta, from)
    const n = list.length
    const cs = meta.chunk_size!
    const expectedLength = (i: number): number => i < n - 1 ? cs : meta.size - (n - 1) * cs
    const results = new Map<number, Uint8Array>()
    const retry: number[] = []
    const lacking = new Map<number, Set<Provider>>()
    const change = new Notifier()
    let nextIssue = 0
    let nextYield = 0
    let finished = false
    let failure: Error | undefined
    const maxAhead = Math.max(this.options.window * 2, this.options.window * Math.min(providers.length, this.options.maxProviders))

    const fail = (err: Error): void => { failure ??= err; change.notify() }
    const checkProvidersLeft = (): void => {
      if (this.alive(providers).length === 0) fail(new FetchFailedError(`every provider of ${hash} failed or disconnected mid-transfer`, { hash }))
    }
    const take = (p: Provider): number | undefined => {
      const r = retry.findIndex(i => lacking.get(i)?.has(p) !== true)
      if (r >= 0) return retry.splice(r, 1)[0]
      if (nextIssue < n && nextIssue - nextYield < maxAhead) return nextIssue++
      return undefined
    }
    const worker = async (p: Provider): Promise<void> => {
      while (!finished && failure === undefined && p.alive) {
        const i = take(p)
        if (i === undefined) {
          if (nextYield >= n) return
          await change.wait()
          continue
        }
        let bytes: Uint8Array | undefined
        try {
          bytes = await p.session.block(list[i])
        } catch (err) {
          retry.unshift(i)
          this.drop(p, String((err as Error)?.message ?? err))
          checkProvidersLeft()
          change.notify()
          return
        }
        if (bytes === undefined) {
          const set = lacking.get(i) ?? new Set<Provider>()
          set.add(p)
          lacking.set(i, set)
          retry.unshift(i)
          if (this.alive(providers).every(q => set.has(q))) fail(new FetchFailedError(`no provider has chunk ${i} (${list[i]}) of ${hash}`, { hash }))
          change.notify()
          continue
        }
        if (bytes.byteLength !== expectedLength(i) || await sha256hexAsync(bytes) !== list[i]) {
          retry.unshift(i)
          this.drop(p, `sent a corrupt chunk ${list[i]}`)
          checkProvidersLeft()
          change.notify()
          return
        }
        results.set(i, bytes)
        change.notify()
      }
    }

    const workers: Array<Promise<void>> = []
    for (const p of this.alive(providers).slice(0, this.options.maxProviders)) {
      for (let k = 0; k < this.options.window; k++) workers.push(worker(p))
    }
    async function * source (): AsyncGenerator<Uint8Array> {
      while (nextYield < n) {
        const bytes = results.get(nextYield)
        if (bytes !== undefined) {
          results.delete(nextYield)
          nextYield++
          change.notify()
          yield bytes
          continue
        }
        if (failure !== undefined) throw failure
        await change.wait()
      }
    }
    try {
      return await this.deps.repo.importFile(source(), { filename: meta.filename, mod_time: meta.mod_time, mime_type: meta.mime_type }, { added: false, guard, expectHash: hash, signal })
    } finally {
      finished = true
      change.notify()
      await Promise.allSettled(workers)
    }
  }
}
