/**
 * Provider discovery for one fetch (fetcher.ts): the peers the DHT (and the
 * neighbour probe) name are probed, at most MAX_PROBES of them, each asked
 * for the object's metadata, which is checked before the peer joins the
 * fetch's ProviderSearch.
 */
import { setMaxListeners } from 'node:events'
import { ProtocolError } from '../errors.js'
import type { ExchangeSession, ObjectMessage } from './exchange.js'
import type { FetcherDeps } from './fetcher.js'
import { ProviderSearch } from './provider-search.js'

/** The chunk sizes a store may have (storage.chunk_size): a sender's outside them is a protocol error. */
export const MIN_CHUNK_SIZE = 4096
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024
/** Peers probed per fetch at most (connected ones and DHT providers): a DHT that names endless providers costs no more. */
export const MAX_PROBES = 64

/** What discovery uses of the fetcher's dependencies. */
type ProbeDeps = Pick<FetcherDeps, 'findProviders' | 'openSession' | 'log'>

interface ProbeLimits {
  searchTimeoutMs: number
  maxProviders: number
  maxObjectBytes: number
}

/** Throws PROTOCOL_ERROR unless `m` is a well-formed OBJECT answer for `hash` within the limits. */
export function checkMeta (hash: string, m: ObjectMessage, maxObjectBytes: number): void {
  const ok = m !== null && typeof m === 'object' && m.hash === hash && typeof m.filename === 'string' && typeof m.mime_type === 'string' &&
    Number.isSafeInteger(m.size) && m.size >= 0 && typeof m.mod_time === 'string' && typeof m.is_directory === 'boolean' &&
    Number.isSafeInteger(m.chunk_count) && m.chunk_count >= 0
  if (!ok) throw new ProtocolError(`malformed OBJECT answer for ${hash}`)
  if (m.size > maxObjectBytes) throw new ProtocolError(`object ${hash} claims ${m.size} bytes, over network.max_object_bytes (${maxObjectBytes})`)
  if (m.is_directory) {
    if (typeof m.encoding !== 'string') throw new ProtocolError(`directory ${hash} came without its encoding`)
  } else {
    const cs = m.chunk_size
    if (cs === undefined || !Number.isSafeInteger(cs) || cs < MIN_CHUNK_SIZE || cs > MAX_CHUNK_SIZE) throw new ProtocolError(`bad chunk size ${String(cs)} for ${hash} (expected ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE})`)
    if (m.chunk_count !== Math.ceil(m.size / cs)) throw new ProtocolError(`chunk count ${m.chunk_count} does not fit size ${m.size} for ${hash}`)
  }
}

/**
 * Find providers on the DHT and ask each for the object. Resolves as soon
 * as one answers (or, with none, when the search time is up); the search
 * goes on in the background, and later providers join `list` (and the
 * running fetch, through `joined`) until `maxProviders`, the search time,
 * or `close()`.
 */
export function discover (hash: string, deps: ProbeDeps, limits: ProbeLimits, signal?: AbortSignal): ProviderSearch {
  const search = new ProviderSearch()
  const deadline = new AbortController()
  // every probe's dial and stream listen to it (connected peers and DHT providers: more than Node's default 10)
  setMaxListeners(Infinity, deadline.signal)
  const timer = setTimeout(() => deadline.abort(), limits.searchTimeoutMs)
  const onAbort = (): void => deadline.abort()
  signal?.addEventListener('abort', onAbort, { once: true })
  search.onClose(() => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); deadline.abort() })
  const tried = new Set<string>()
  const probes: Array<Promise<void>> = []
  const probe = async (peer: string): Promise<void> => {
    let session: ExchangeSession | undefined
    try {
      session = await deps.openSession(peer, deadline.signal)
      const meta = await session.object(hash)
      if (meta === undefined) { await session.close(); return }
      try {
        checkMeta(hash, meta, limits.maxObjectBytes)
      } catch (err) {
        if (search.rejected.length < limits.maxProviders * 4) search.rejected.push(`${peer}: ${String((err as Error)?.message ?? err)}`)
        throw err
      }
      if (search.closed || search.list.length >= limits.maxProviders) { await session.close(); return }
      search.add({ peer, session, alive: true, metas: new Map([[hash, meta]]) })
      if (search.list.length >= limits.maxProviders) deadline.abort()
    } catch (err) {
      deps.log?.(`provider ${peer} for ${hash}: ${String((err as Error)?.message ?? err)}`)
      await session?.close().catch(() => {})
    }
  }
  void (async () => {
    try {
      for await (const peer of deps.findProviders(hash, deadline.signal)) {
        if (tried.has(peer)) continue
        tried.add(peer)
        probes.push(probe(peer))
        if (deadline.signal.aborted || tried.size >= MAX_PROBES) break
      }
    } catch (err) {
      if (!deadline.signal.aborted) deps.log?.(`provider search for ${hash}: ${String((err as Error)?.message ?? err)}`)
    }
    // the search is over once every probe has answered (or the deadline passed)
    await Promise.race([Promise.allSettled(probes), new Promise(resolve => deadline.signal.addEventListener('abort', resolve, { once: true }))])
    search.finish()
  })()
  return search
}
