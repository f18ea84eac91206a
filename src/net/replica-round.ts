/**
 * One pin's replication work (replicator.ts schedules it): a round probes
 * the peers that may hold the pin, then asks others to REPLICATE it until
 * enough copies exist; an unpin withdraws the requests. Refusals are
 * remembered per peer and hash for REFUSAL_TTL_MS.
 */
import type { ReplicateCall } from './replicate.js'
import { REQ_PROBE, REQ_REPLICATE, REQ_WITHDRAW, RES_ACCEPTED, RES_FAILED, RES_HAVE, RES_REFUSED, RES_STORED } from './replicate.js'
import type { ReplicatorOptions } from './replicator.js'

const REFUSAL_TTL_MS = 10 * 60_000

/** What a round reads and updates of a pin's job. */
export interface RoundJob {
  hash: string
  priority: number
  /** Peers holding it on our request. */
  holders: Set<string>
}

type RoundOptions = Pick<ReplicatorOptions, 'repo' | 'net' | 'config' | 'searchTimeoutMs' | 'log'>

export class ReplicaRounds {
  /** `<peer>/<hash>` → when to ask again, and why it refused. */
  private readonly refusals = new Map<string, { until: number, reason: string }>()

  /** `saveHolders` records a job's holders (called when a peer accepts). */
  constructor (private readonly options: RoundOptions, private readonly saveHolders: (job: RoundJob) => Promise<void>) {}

  private get factor (): number { return this.options.config.factor }

  /** One round: count live copies, then ask for the missing ones. */
  async round (job: RoundJob, signal: AbortSignal): Promise<{ copies: number, reasons: string[], asked: number }> {
    const { net, config } = this.options
    if (this.factor <= 1) return { copies: 1, reasons: [], asked: 0 }
    if (await this.options.repo.getObject(job.hash) === undefined) throw new Error('content is not here yet')
    const search = AbortSignal.any([signal, AbortSignal.timeout(this.options.searchTimeoutMs)])

    // 1. who has it: our holders and the DHT's providers, each probed
    const known = new Set(job.holders)
    try {
      for await (const p of net.providers(job.hash, search)) {
        if (p !== net.selfId) known.add(p)
        if (known.size >= this.factor * 4) break
      }
    } catch {}
    const live = new Set<string>()
    await Promise.all([...known].map(async (peer) => {
      try {
        const r = await this.call(peer, async (c) => {
          await c.send(REQ_PROBE, { hash: job.hash })
          return await c.answer(config.probe_timeout_ms)
        }, signal)
        if (r.kind === RES_HAVE && r.body.have === true) live.add(peer)
      } catch {}
    }))
    for (const h of [...job.holders]) if (!live.has(h)) job.holders.delete(h)
    if (1 + live.size >= this.factor) return { copies: 1 + live.size, reasons: [], asked: 0 }

    // 2. ask others until enough have stored it
    const rec = await this.options.repo.getObject(job.hash)
    const size = rec?.size ?? 0
    const now = Date.now()
    for (const [k, r] of this.refusals) if (r.until <= now) this.refusals.delete(k)
    let candidates: string[] = []
    try { candidates = await net.candidates(job.hash, search) } catch {}
    const reasons: string[] = []
    const queue = candidates.filter((p) => {
      if (p === net.selfId || live.has(p)) return false
      const refused = this.refusals.get(`${p}/${job.hash}`)
      if (refused !== undefined) reasons.push(`${p}: refused: ${refused.reason}`)
      return refused === undefined
    })
    let copies = 1 + live.size
    let asking = 0
    let asked = 0
    const worker = async (): Promise<void> => {
      // asks in flight count too: never more copies than the factor
      while (copies + asking < this.factor && queue.length > 0 && !signal.aborted) {
        const peer = queue.shift()!
        asking++
        asked++
        const stored = await this.ask(job, peer, size, signal).catch((err) => {
          reasons.push(`${peer}: ${String((err as Error)?.message ?? err)}`)
          return false
        }).finally(() => { asking-- })
        if (stored) copies++
      }
    }
    await Promise.all(Array.from({ length: this.factor - copies }, worker))
    return { copies, reasons, asked: asked + known.size }
  }

  /** Ask `peer` to hold a replica; true once it reports it stored. */
  private async ask (job: RoundJob, peer: string, size: number, signal: AbortSignal): Promise<boolean> {
    const { config } = this.options
    return await this.call(peer, async (c) => {
      await c.send(REQ_REPLICATE, { hash: job.hash, size, priority: job.priority })
      const first = await c.answer(config.probe_timeout_ms)
      if (first.kind === RES_REFUSED) {
        this.refusals.set(`${peer}/${job.hash}`, { until: Date.now() + REFUSAL_TTL_MS, reason: String(first.body.reason) })
        throw new Error(`refused: ${String(first.body.reason)}`)
      }
      if (first.kind !== RES_ACCEPTED) throw new Error(`unexpected answer ${first.kind}`)
      // recorded before it is stored, so that an unpin meanwhile withdraws it too
      job.holders.add(peer)
      await this.saveHolders(job)
      const done = await c.answer(config.store_timeout_ms)
      if (done.kind === RES_STORED) return true
      job.holders.delete(peer)
      throw new Error(done.kind === RES_FAILED ? `failed: ${String(done.body.reason)}` : `unexpected answer ${done.kind}`)
    }, signal)
  }

  private async call<T> (peer: string, fn: (c: ReplicateCall) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const dial = AbortSignal.any([...(signal !== undefined ? [signal] : []), AbortSignal.timeout(this.options.config.probe_timeout_ms)])
    const c = await this.options.net.open(peer, dial)
    const onAbort = (): void => { c.abort() }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const r = await fn(c)
      await c.close()
      return r
    } catch (err) {
      c.abort()
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Withdraw our requests for `hash` from `holders` (the pin is gone); a peer that does not answer is logged. */
  async withdraw (hash: string, holders: Set<string>): Promise<void> {
    await Promise.all([...holders].map(async (peer) => {
      try {
        await this.call(peer, async (c) => {
          await c.send(REQ_WITHDRAW, { hash })
          await c.answer(this.options.config.probe_timeout_ms)
        })
      } catch (err) {
        this.options.log?.(`withdraw ${hash} from ${peer}: ${String((err as Error)?.message ?? err)}`)
      }
    }))
  }
}
