/**
 * The requester's side of replication: keep every pin on at least
 * `replication.factor` nodes (this one included).
 *
 * For each pin, highest priority first and at most `concurrency` at a time,
 * a round (1) probes the peers known to hold it (those that accepted our
 * requests, plus the DHT's providers) over /openhash/replicate/1.0.0 PROBE —
 * an unreachable peer or one that no longer has it does not count; (2) if
 * the live copies are fewer than the factor, asks other peers (the DHT's
 * closest to the content, then connected ones) to REPLICATE, skipping peers
 * that refused it recently, until enough have STORED it. A round short of
 * the factor is retried with exponential backoff; after `max_attempts`
 * rounds the pin's replication is `failed` (terminal until the pin changes
 * or the node restarts). Replicated pins are re-counted every
 * `check_interval_s`, and at once when a holder disconnects, so a vanished
 * holder is replaced. Unpinning withdraws the requests from their holders.
 *
 * The scheduling is here; one pin's round (probe, ask, withdraw) is
 * replica-round.ts.
 *
 * The peers that accepted are kept at `rr/<hash>` in the metadata store (its own prefixed view), so
 * they can be probed and withdrawn from after a restart.
 */
import { setMaxListeners } from 'node:events'
import type { Repo } from '../store/repo.js'
import type { KvStore } from '../store/kv.js'
import type { Config } from '../config.js'
import type { ReplicateCall } from './replicate.js'
import { ReplicaRounds } from './replica-round.js'
import type { RoundJob } from './replica-round.js'

export type ReplicationState = 'pending' | 'replicating' | 'replicated' | 'failed'

/** What the replicator needs of the network (network.ts implements it over libp2p). */
export interface ReplicationNet {
  readonly selfId: string
  /** Peers the DHT names as providers of `hash`. */
  providers(hash: string, signal: AbortSignal): AsyncIterable<string>
  /** Peers to ask for a replica, best first (closest to the content in the DHT, then connected peers). */
  candidates(hash: string, signal: AbortSignal): Promise<string[]>
  /** A fresh replication stream to `peer`. */
  open(peer: string, signal: AbortSignal): Promise<ReplicateCall>
  /** Calls `cb` when the connection to a peer is lost. */
  onPeerGone(cb: (peer: string) => void): void
  /** Calls `cb` when a peer connects. */
  onPeerJoined?(cb: (peer: string) => void): void
}

export interface ReplicaStatus {
  state: ReplicationState
  /** Copies known to exist, this node's included. */
  copies: number
  target: number
  /** Peers holding it on our request. */
  holders: string[]
  attempts: number
  error?: string
}

export interface ReplicatorOptions {
  repo: Repo
  /** The store's rr/ part (a prefixed view, store/keys.ts): the peers holding each pin for us, by hash. */
  kv: KvStore
  net: ReplicationNet
  config: Config['replication']
  /** How long to collect the DHT's providers / candidates per round. */
  searchTimeoutMs: number
  log?: (line: string) => void
  /** Observes each round as it starts (tests, diagnostics). */
  onRound?: (hash: string, priority: number) => void
}

interface Job {
  hash: string
  priority: number
  seq: number
  state: ReplicationState
  copies: number
  holders: Set<string>
  attempts: number
  due: number
  error?: string
  ctrl?: AbortController
  /** Set when something asks for a new round while one runs. */
  again?: boolean
  /** The last round found no peer at all to ask: waiting for one (does not use up attempts). */
  lonely?: boolean
}

export class Replicator {
  private readonly jobs = new Map<string, Job>()
  private readonly rounds: ReplicaRounds
  private running = 0
  private seq = 0
  private stopped = false
  private wake: NodeJS.Timeout | undefined
  private checkTimer: NodeJS.Timeout | undefined

  constructor (private readonly options: ReplicatorOptions) {
    this.rounds = new ReplicaRounds(options, async (job) => { await this.saveHolders(job) })
  }

  get factor (): number { return this.options.config.factor }

  /** Queue every pin (highest priority first), start periodic re-counts and watch holders. */
  async start (): Promise<void> {
    const pins = [...(await this.options.repo.pins()).entries()]
    for (const [hash, rec] of pins) await this.add(hash, rec.priority, false)
    this.pump()
    this.checkTimer = setInterval(() => { this.recheck(() => true) }, this.options.config.check_interval_s * 1000)
    this.checkTimer.unref()
    this.options.net.onPeerGone((peer) => {
      // a holder went away: count its copies again soon (it may only have reconnected)
      setTimeout(() => { this.recheck(j => j.holders.has(peer)) }, 250).unref()
    })
    this.options.net.onPeerJoined?.(() => {
      // a pin that had nobody to ask gets its next round now
      let woke = false
      for (const j of this.jobs.values()) if (j.state === 'pending' && j.lonely === true) { j.due = 0; j.lonely = false; woke = true }
      if (woke) this.pump()
    })
  }

  /**
   * Replicate `hash` (pinned here) at `priority`. Pinning again updates the
   * priority (queued work reorders) and restarts a failed replication.
   */
  async add (hash: string, priority: number, pump = true): Promise<void> {
    if (this.stopped) return
    let job = this.jobs.get(hash)
    if (job === undefined) {
      const stored = await this.options.kv.get(hash)
      const holders: string[] = stored === undefined ? [] : JSON.parse(Buffer.from(stored).toString('utf8')).holders ?? []
      job = { hash, priority, seq: this.seq++, state: 'pending', copies: 1, holders: new Set(holders), attempts: 0, due: 0 }
      this.jobs.set(hash, job)
    } else {
      job.priority = priority
      if (job.state === 'failed') { job.state = 'pending'; job.attempts = 0; job.due = 0; delete job.error }
    }
    if (pump) this.pump()
  }

  /** The pin is gone: stop, and withdraw our requests from the peers that hold it for us. */
  async remove (hash: string): Promise<void> {
    const job = this.jobs.get(hash)
    this.jobs.delete(hash)
    job?.ctrl?.abort()
    const stored = await this.options.kv.get(hash)
    const holders = new Set<string>(job?.holders ?? [])
    if (stored !== undefined) for (const p of JSON.parse(Buffer.from(stored).toString('utf8')).holders ?? []) holders.add(p)
    if (stored !== undefined) await this.options.kv.batch([{ type: 'del', key: hash }], { sync: true })
    await this.rounds.withdraw(hash, holders)
  }

  status (): Record<string, ReplicaStatus> {
    const out: Record<string, ReplicaStatus> = {}
    for (const [h, j] of this.jobs) {
      out[h] = { state: j.state, copies: j.copies, target: this.factor, holders: [...j.holders], attempts: j.attempts, ...(j.error !== undefined ? { error: j.error } : {}) }
    }
    return out
  }

  counts (): { pending: number, in_progress: number, replicated: number, failed: number } {
    const c = { pending: 0, in_progress: 0, replicated: 0, failed: 0 }
    for (const j of this.jobs.values()) {
      if (j.state === 'pending') c.pending++
      else if (j.state === 'replicating') c.in_progress++
      else if (j.state === 'replicated') c.replicated++
      else c.failed++
    }
    return c
  }

  /** Count the copies of matching replicated pins again now. */
  recheck (match: (job: Job) => boolean): void {
    for (const j of this.jobs.values()) {
      if (!match(j)) continue
      if (j.state === 'replicated') { j.state = 'pending'; j.due = 0 } else if (j.state === 'replicating') j.again = true
    }
    this.pump()
  }

  private pump (): void {
    if (this.stopped) return
    clearTimeout(this.wake)
    this.wake = undefined
    const now = Date.now()
    while (this.running < this.options.config.concurrency) {
      let best: Job | undefined
      for (const j of this.jobs.values()) {
        if (j.state !== 'pending' || j.due > now) continue
        if (best === undefined || j.priority > best.priority || (j.priority === best.priority && j.seq < best.seq)) best = j
      }
      if (best === undefined) break
      void this.run(best)
    }
    let next = Infinity
    for (const j of this.jobs.values()) if (j.state === 'pending' && j.due > now) next = Math.min(next, j.due)
    if (next !== Infinity) {
      this.wake = setTimeout(() => { this.pump() }, next - now)
      this.wake.unref()
    }
  }

  private async run (job: Job): Promise<void> {
    job.state = 'replicating'
    job.again = false
    job.ctrl = new AbortController()
    setMaxListeners(Infinity, job.ctrl.signal) // one listener per peer probed or asked
    this.running++
    this.options.onRound?.(job.hash, job.priority)
    try {
      const outcome = await this.rounds.round(job, job.ctrl.signal)
      if (this.jobs.get(job.hash) !== job) return // unpinned meanwhile
      job.copies = outcome.copies
      await this.saveHolders(job)
      job.lonely = false
      if (outcome.copies < this.factor && outcome.asked === 0 && outcome.reasons.length === 0) {
        // nobody to ask (no peers yet): wait for one, without using up attempts
        job.state = 'pending'
        job.lonely = true
        job.error = `${outcome.copies} of ${this.factor} copies: no peer to ask yet`
        job.due = Date.now() + this.options.config.retry_max_ms
      } else if (outcome.copies >= this.factor) {
        job.state = (job.again as boolean | undefined) === true ? 'pending' : 'replicated'
        job.attempts = 0
        job.due = 0
        delete job.error
      } else {
        job.attempts++
        job.error = `${outcome.copies} of ${this.factor} copies${outcome.reasons.length > 0 ? `: ${outcome.reasons.join('; ')}` : ': no peer to ask'}`
        if (job.attempts >= this.options.config.max_attempts) {
          job.state = 'failed'
          this.options.log?.(`replication of ${job.hash} failed: ${job.error}`)
        } else {
          job.state = 'pending'
          const { retry_base_ms: base, retry_max_ms: max } = this.options.config
          job.due = Date.now() + Math.min(max, base * 2 ** (job.attempts - 1))
        }
      }
    } catch (err) {
      if (this.jobs.get(job.hash) === job && !this.stopped) {
        job.state = 'pending'
        job.attempts++
        job.error = String((err as Error)?.message ?? err)
        job.due = Date.now() + this.options.config.retry_base_ms
      }
    } finally {
      job.ctrl = undefined
      this.running--
      this.pump()
    }
  }

  private async saveHolders (job: RoundJob): Promise<void> {
    if (this.jobs.get(job.hash) !== job) return
    const { kv } = this.options
    if (job.holders.size === 0) await kv.batch([{ type: 'del', key: job.hash }], { sync: true })
    else await kv.batch([{ type: 'put', key: job.hash, value: Buffer.from(JSON.stringify({ holders: [...job.holders] })) }], { sync: true })
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.wake)
    clearInterval(this.checkTimer)
    for (const j of this.jobs.values()) j.ctrl?.abort()
  }
}
