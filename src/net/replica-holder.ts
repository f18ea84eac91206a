/**
 * The holder's side of replication: this node's policy for keeping content on
 * peers' behalf. A request is refused when the node does not accept replicas
 * (`replication.accept` false) or when holding it would take the bytes held
 * for others past `replication.max_bytes`. An accepted replica is recorded as
 * a hold first (Repo.hold: a GC root that is not the user's pin), then
 * fetched through the verified exchange (the requester is asked first), and
 * reported stored only once the object is committed here.
 */
import type { Config } from '../config.js'
import type { Repo } from '../store/repo.js'
import type { ReplicaPolicy, ReplicateRequest } from './replicate.js'

export interface ReplicaHolderOptions {
  repo: Repo
  config: Config['replication']
  /** Fetch `hash` (verified), asking `providers` first; resolves once it is stored here. */
  fetch: (hash: string, options: { signal?: AbortSignal, providers?: string[] }) => Promise<unknown>
  log?: (line: string) => void
}

export interface HolderStats {
  /** Distinct objects held for peers. */
  replicas_held: number
  /** Their bytes (an object held for several peers counts once). */
  replica_bytes: number
  replica_budget_bytes: number
  accepts_replicas: boolean
}

export class ReplicaHolder implements ReplicaPolicy {
  /** Accepted requests still fetching, by hash: their sizes count against the budget. */
  private readonly reserved = new Map<string, number>()

  constructor (private readonly options: ReplicaHolderOptions) {}

  /** Bytes held for others, each object once, plus accepted ones still arriving. */
  private async heldBytes (): Promise<Map<string, number>> {
    const sizes = new Map<string, number>()
    for (const [hash, list] of await this.options.repo.holds()) sizes.set(hash, Math.max(...list.map(h => h.size)))
    for (const [hash, size] of this.reserved) sizes.set(hash, Math.max(size, sizes.get(hash) ?? 0))
    return sizes
  }

  async consider (owner: string, req: ReplicateRequest): Promise<{ accept: true } | { accept: false, reason: string }> {
    const { config } = this.options
    if (!config.accept) return { accept: false, reason: 'this node does not hold replicas' }
    const sizes = await this.heldBytes()
    if (!sizes.has(req.hash)) {
      let used = 0
      for (const s of sizes.values()) used += s
      if (used + req.size > config.max_bytes) {
        return { accept: false, reason: `over the replica budget (${used} of ${config.max_bytes} bytes held, ${req.size} asked)` }
      }
    }
    // counted from now on, so that concurrent requests cannot all fit in the same space
    this.reserved.set(req.hash, Math.max(req.size, this.reserved.get(req.hash) ?? 0))
    return { accept: true }
  }

  async store (owner: string, req: ReplicateRequest, signal: AbortSignal): Promise<void> {
    const { repo } = this.options
    const existed = (await repo.holdsOf(req.hash)).some(h => h.owner === owner)
    try {
      // the hold first: once the object commits it is never collected or evicted
      await repo.hold(req.hash, owner, { size: req.size, priority: req.priority })
      const rec = await this.options.fetch(req.hash, { signal, providers: [owner] }) as { size?: number } | undefined
      const size = rec?.size ?? req.size
      if (size > req.size) {
        // the requester understated the size: hold it only if the real size fits too
        this.reserved.set(req.hash, size)
        let used = 0
        for (const [h, s] of await this.heldBytes()) if (h !== req.hash) used += s
        if (used + size > this.options.config.max_bytes) throw new Error(`over the replica budget: the content is ${size} bytes, not ${req.size}`)
        await repo.hold(req.hash, owner, { size, priority: req.priority })
      }
    } catch (err) {
      if (!existed) await repo.unhold(req.hash, owner).catch(() => {})
      this.options.log?.(`replica ${req.hash} for ${owner} failed: ${String((err as Error)?.message ?? err)}`)
      throw err
    } finally {
      this.reserved.delete(req.hash)
    }
  }

  async have (owner: string, hash: string): Promise<{ have: boolean, held_for_you: boolean }> {
    const { repo } = this.options
    const have = await repo.getObject(hash) !== undefined
    const held = (await repo.holdsOf(hash)).some(h => h.owner === owner)
    return { have, held_for_you: held && have }
  }

  /** Our policy on withdrawal: drop the hold at once; the content becomes cache (evictable, collectable). */
  async withdraw (owner: string, hash: string): Promise<boolean> {
    return await this.options.repo.unhold(hash, owner)
  }

  /** Holds whose content never arrived (the node stopped mid-fetch): fetch again, or drop them. */
  async resume (signal?: AbortSignal): Promise<void> {
    const { repo } = this.options
    for (const [hash, list] of await repo.holds()) {
      if (await repo.getObject(hash) !== undefined) continue
      const owners = list.map(h => h.owner)
      void this.options.fetch(hash, { signal, providers: owners }).catch(async () => {
        for (const o of owners) await repo.unhold(hash, o).catch(() => {})
      })
    }
  }

  async stats (): Promise<HolderStats> {
    let bytes = 0
    let n = 0
    for (const list of (await this.options.repo.holds()).values()) { n++; bytes += Math.max(...list.map(h => h.size)) }
    return { replicas_held: n, replica_bytes: bytes, replica_budget_bytes: this.options.config.max_bytes, accepts_replicas: this.options.config.accept }
  }
}
