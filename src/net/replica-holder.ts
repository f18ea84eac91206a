/**
 * The holder's side of replication: this node's policy for keeping content on
 * peers' behalf. A request is refused when the node does not accept replicas
 * (`replication.accept` false), when the peer is not in
 * `replication.accept_from` (if that list is not empty), when the object is
 * larger than network.max_object_bytes, or when holding it would take the
 * bytes held for others past the total budget or that peer's past its own
 * (replica-budget.ts). An accepted replica is recorded as a hold first
 * (Repo.hold: a GC root that is not the user's pin), then fetched through the
 * verified exchange (the requester is asked first, and the content may not be
 * larger than the requester said), and reported stored only once the object
 * is committed here. A withdraw aborts a fetch still running for that peer.
 *
 * Holds whose content never arrived (the node stopped mid-fetch) are resumed
 * at start under the same limits; each resumed fetch counts an attempt
 * durably (`ra/<hash>`) before it starts, so a hold whose fetch keeps failing
 * (or crashes the node) is dropped after `replication.hold_max_attempts`.
 */
import { setMaxListeners } from 'node:events'
import type { Config } from '../config.js'
import type { HoldRecord, Repo } from '../store/repo.js'
import type { KvStore } from '../store/kv.js'
import type { ReplicaPolicy, ReplicateRequest } from './replicate.js'
import type { ReplicaBudget } from './replica-budget.js'

export interface ReplicaHolderOptions {
  repo: Repo
  /** The store's ra/ part (a prefixed view, store/keys.ts): fetch attempts per held hash. */
  kv: KvStore
  config: Config['replication']
  budget: ReplicaBudget
  /** network.max_object_bytes */
  maxObjectBytes: number
  /** Fetch `hash` (verified), asking `providers` first, at most `maxBytes`; resolves once it is stored here. */
  fetch: (hash: string, options: { signal?: AbortSignal, providers?: string[], maxBytes?: number }) => Promise<unknown>
  log?: (line: string) => void
}

export interface HolderStats {
  /** Distinct objects held for peers. */
  replicas_held: number
  /** Their bytes (an object held for several peers counts once). */
  replica_bytes: number
  replica_budget_bytes: number
  replica_budget_per_peer_bytes: number
  accepts_replicas: boolean
}

type Verdict = { accept: true } | { accept: false, reason: string }

const slot = (owner: string, hash: string): string => `${owner}/${hash}`

export class ReplicaHolder implements ReplicaPolicy {
  /** Accepted requests still fetching, by owner/hash: their sizes count against the budgets. */
  private readonly reserved = new Map<string, { owner: string, hash: string, size: number }>()
  /** Fetches running for a hold (requests and resumes), by owner/hash: a withdraw aborts them. */
  private readonly running = new Map<string, AbortController>()
  private readonly stopping = new AbortController()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly options: ReplicaHolderOptions) {
    setMaxListeners(Infinity, this.stopping.signal)
  }

  /** Bytes held for others (each object once) and per owner, plus accepted ones still arriving. */
  private async usage (skip?: string): Promise<{ total: number, perOwner: Map<string, number> }> {
    const sizes = new Map<string, number>()
    const perOwner = new Map<string, number>()
    const count = (owner: string, hash: string, size: number): void => {
      if (skip === slot(owner, hash)) return
      sizes.set(hash, Math.max(size, sizes.get(hash) ?? 0))
      perOwner.set(owner, (perOwner.get(owner) ?? 0) + size)
    }
    const holds = await this.options.repo.holds()
    for (const [hash, list] of holds) for (const h of list) count(h.owner, hash, h.size)
    for (const r of this.reserved.values()) {
      // a reserved request already recorded as a hold is counted once
      if ((holds.get(r.hash) ?? []).some(h => h.owner === r.owner)) continue
      count(r.owner, r.hash, r.size)
    }
    let total = 0
    for (const s of sizes.values()) total += s
    return { total, perOwner }
  }

  /** Whether `owner` may have `size` bytes of `hash` held here, given what is held already. */
  private admissible (owner: string, hash: string, size: number, used: { total: number, perOwner: Map<string, number> }, alreadyCounted: boolean): Verdict {
    const { config, budget, maxObjectBytes } = this.options
    if (!config.accept) return { accept: false, reason: 'this node does not hold replicas' }
    if (config.accept_from.length > 0 && !config.accept_from.includes(owner)) return { accept: false, reason: 'this node does not hold replicas for this peer' }
    if (size > maxObjectBytes) return { accept: false, reason: `object of ${size} bytes is over the largest this node fetches (${maxObjectBytes})` }
    if (!alreadyCounted && used.total + size > budget.total) {
      return { accept: false, reason: `over the replica budget (${used.total} of ${budget.total} bytes held, ${size} asked)` }
    }
    const mine = used.perOwner.get(owner) ?? 0
    if (mine + size > budget.perPeer) {
      return { accept: false, reason: `over this peer's replica budget (${mine} of ${budget.perPeer} bytes held for it, ${size} asked)` }
    }
    return { accept: true }
  }

  async consider (owner: string, req: ReplicateRequest): Promise<Verdict> {
    const used = await this.usage(slot(owner, req.hash))
    const sameObjectHeld = (await this.options.repo.holdsOf(req.hash)).some(h => h.owner !== owner) ||
      [...this.reserved.values()].some(r => r.hash === req.hash && r.owner !== owner)
    const verdict = this.admissible(owner, req.hash, req.size, used, sameObjectHeld)
    if (!verdict.accept) return verdict
    // counted from now on, so that concurrent requests cannot all fit in the same space
    const k = slot(owner, req.hash)
    this.reserved.set(k, { owner, hash: req.hash, size: Math.max(req.size, this.reserved.get(k)?.size ?? 0) })
    return { accept: true }
  }

  cancel (owner: string, req: ReplicateRequest): void {
    this.reserved.delete(slot(owner, req.hash))
  }

  async store (owner: string, req: ReplicateRequest, signal: AbortSignal): Promise<void> {
    const { repo } = this.options
    const k = slot(owner, req.hash)
    const existed = (await repo.holdsOf(req.hash)).some(h => h.owner === owner)
    const ctrl = new AbortController()
    this.running.get(k)?.abort()
    this.running.set(k, ctrl)
    try {
      // the hold first: once the object commits it is never collected or evicted
      await repo.hold(req.hash, owner, { size: req.size, priority: req.priority })
      // never more than the requester said: its claim is what the budget admitted
      const rec = await this.options.fetch(req.hash, { signal: AbortSignal.any([signal, ctrl.signal, this.stopping.signal]), providers: [owner], maxBytes: req.size }) as { size?: number } | undefined
      const size = rec?.size ?? req.size
      if (size > req.size) {
        // the content was here already, larger than the requester said: hold it only if the real size fits too
        this.reserved.set(k, { owner, hash: req.hash, size })
        const verdict = this.admissible(owner, req.hash, size, await this.usage(k), false)
        if (!verdict.accept) throw new Error(`${verdict.reason}: the content is ${size} bytes, not ${req.size}`)
        await repo.hold(req.hash, owner, { size, priority: req.priority })
      }
    } catch (err) {
      if (!existed) await repo.unhold(req.hash, owner).catch((e) => { this.options.log?.(`unhold ${req.hash} for ${owner}: ${String(e?.message ?? e)}`) })
      this.options.log?.(`replica ${req.hash} for ${owner} failed: ${String((err as Error)?.message ?? err)}`)
      throw err
    } finally {
      this.reserved.delete(k)
      if (this.running.get(k) === ctrl) this.running.delete(k)
    }
  }

  async have (owner: string, hash: string): Promise<{ have: boolean, held_for_you: boolean }> {
    const { repo } = this.options
    const have = await repo.getObject(hash) !== undefined
    const held = (await repo.holdsOf(hash)).some(h => h.owner === owner)
    return { have, held_for_you: held && have }
  }

  /** Our policy on withdrawal: stop a fetch still running for it, drop the hold at once; the content becomes cache (evictable, collectable). */
  async withdraw (owner: string, hash: string): Promise<boolean> {
    this.running.get(slot(owner, hash))?.abort()
    return await this.options.repo.unhold(hash, owner)
  }

  /**
   * Holds whose content never arrived (the node stopped mid-fetch): fetch
   * them again under today's limits (a hold the policy would not accept now
   * is dropped), at most `replication.concurrency` at a time, each at most
   * `replication.hold_max_attempts` times in all (counted durably, across
   * restarts), then dropped. Returns at once; the fetches run in the background.
   */
  async resume (signal?: AbortSignal): Promise<void> {
    const { repo, config } = this.options
    const all = await repo.holds()
    // what arrived counts first; missing ones are admitted in turn while they fit
    const used = { total: 0, perOwner: new Map<string, number>() }
    const missing: Array<[string, HoldRecord[]]> = []
    for (const [hash, list] of all) {
      if (await repo.getObject(hash) === undefined) { missing.push([hash, list]); continue }
      used.total += Math.max(...list.map(h => h.size))
      for (const h of list) used.perOwner.set(h.owner, (used.perOwner.get(h.owner) ?? 0) + h.size)
      await this.clearAttempts(hash)
    }
    const queue: Array<{ hash: string, owners: string[], size: number }> = []
    for (const [hash, list] of missing) {
      const kept: HoldRecord[] = []
      for (const h of list) {
        const v = this.admissible(h.owner, hash, h.size, used, kept.length > 0)
        if (!v.accept) {
          this.options.log?.(`dropping held replica ${hash} for ${h.owner} at start: ${v.reason}`)
          await repo.unhold(hash, h.owner)
          continue
        }
        if (kept.length === 0) used.total += h.size
        used.perOwner.set(h.owner, (used.perOwner.get(h.owner) ?? 0) + h.size)
        kept.push(h)
      }
      if (kept.length === 0) { await this.clearAttempts(hash); continue }
      queue.push({ hash, owners: kept.map(h => h.owner), size: Math.max(...kept.map(h => h.size)) })
    }
    const stop = signal === undefined ? this.stopping.signal : AbortSignal.any([signal, this.stopping.signal])
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < queue.length && !stop.aborted) await this.resumeOne(queue[next++], stop)
    }
    for (let i = 0; i < Math.min(config.concurrency, queue.length); i++) {
      void worker().catch((err) => { this.options.log?.(`resuming held replicas: ${String(err?.message ?? err)}`) })
    }
  }

  private async resumeOne (job: { hash: string, owners: string[], size: number }, stop: AbortSignal): Promise<void> {
    const { repo, config } = this.options
    const { hash, owners } = job
    for (;;) {
      if (stop.aborted) return
      const current = (await repo.holdsOf(hash)).filter(h => owners.includes(h.owner))
      if (current.length === 0) { await this.clearAttempts(hash); return } // withdrawn meanwhile
      const attempts = await this.attempts(hash)
      if (attempts >= config.hold_max_attempts) {
        this.options.log?.(`dropping held replica ${hash}: its fetch failed ${attempts} times`)
        for (const h of current) await repo.unhold(hash, h.owner)
        await this.clearAttempts(hash)
        return
      }
      // counted before the fetch starts: a fetch that takes the node down counts too
      await this.options.kv.batch([{ type: 'put', key: hash, value: Buffer.from(String(attempts + 1)) }], { sync: true })
      const ctrl = new AbortController()
      for (const h of current) this.running.set(slot(h.owner, hash), ctrl)
      try {
        await this.options.fetch(hash, { signal: AbortSignal.any([stop, ctrl.signal]), providers: current.map(h => h.owner), maxBytes: job.size })
        await this.clearAttempts(hash)
        return
      } catch (err) {
        if (stop.aborted) {
          // the node is shutting down: that was no failure of the hold (a crash, on the other hand, stays counted)
          await this.options.kv.batch([{ type: 'put', key: hash, value: Buffer.from(String(attempts)) }], { sync: true }).catch((e) => {
            this.options.log?.(`held replica ${hash}: could not uncount the attempt cut short by shutdown: ${String(e?.message ?? e)}`)
          })
          return
        }
        this.options.log?.(`held replica ${hash}: fetch attempt ${attempts + 1} of ${config.hold_max_attempts} failed: ${String((err as Error)?.message ?? err)}`)
      } finally {
        for (const h of current) if (this.running.get(slot(h.owner, hash)) === ctrl) this.running.delete(slot(h.owner, hash))
      }
      if (stop.aborted || ctrl.signal.aborted) return
      const wait = Math.min(config.retry_max_ms, config.retry_base_ms * 2 ** attempts)
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { this.timers.delete(t); resolve() }, wait)
        t.unref()
        this.timers.add(t)
        stop.addEventListener('abort', () => { clearTimeout(t); this.timers.delete(t); resolve() }, { once: true })
      })
    }
  }

  private async attempts (hash: string): Promise<number> {
    const v = await this.options.kv.get(hash)
    const n = v === undefined ? 0 : Number(Buffer.from(v).toString('utf8'))
    return Number.isSafeInteger(n) && n >= 0 ? n : 0
  }

  private async clearAttempts (hash: string): Promise<void> {
    if (await this.options.kv.get(hash) === undefined) return
    await this.options.kv.batch([{ type: 'del', key: hash }], { sync: true })
  }

  /** Abort every fetch for a hold (shutdown). */
  stop (): void {
    this.stopping.abort()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  async stats (): Promise<HolderStats> {
    let bytes = 0
    let n = 0
    for (const list of (await this.options.repo.holds()).values()) { n++; bytes += Math.max(...list.map(h => h.size)) }
    return { replicas_held: n, replica_bytes: bytes, replica_budget_bytes: this.options.budget.total, replica_budget_per_peer_bytes: this.options.budget.perPeer, accepts_replicas: this.options.config.accept }
  }
}
