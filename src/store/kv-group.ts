/**
 * Group commit over a KvStore: the batches of concurrent writers become
 * durable together, in one synced batch, instead of one sync each.
 *
 * - `batch(ops)` applies `ops` at once to an in-memory overlay (so every
 *   later `get`, `getMany` and `iterate` sees them, in call order) and queues
 *   them. With `sync`, it resolves once a group holding them is durable; without,
 *   at once: the ops ride along with the next group (written when a caller
 *   asks for durability, or when the queue passes its bounds).
 * - One group is written at a time. While it is written, new batches gather
 *   for the next one: that is what lets N writers share one sync.
 * - Participants (the pack chunk store) join every group: before the group's
 *   batch is written, each makes its own data durable (the pack's fdatasync)
 *   and hands over the metadata ops that name it (the pack's index entries),
 *   so data always reaches the disk before the metadata pointing at it.
 * - A group that fails fails every batch pending at that moment (they were
 *   computed over the failed ones): the overlay is dropped, the state is the
 *   underlying store's, `generation` moves on, and every `sync` caller
 *   waiting gets the error. A read-modify-write section that passes the
 *   `generation` it started in to `batch` is refused if a failure came between.
 */
import type { KvIterateOptions, KvOp, KvStore } from './kv.js'
import { prefixEnd } from './kv.js'
import { UnavailableError } from '../errors.js'
import { logger } from '../logger.js'

const log = logger('store:commit')

export interface CommitParticipant {
  /** Make this participant's data durable; return the ops that name it, written in the same group. */
  prepare(): Promise<KvOp[]>
  /** The group was written (ok) or failed. */
  settle(ok: boolean): void
}

export interface GroupCommitInit {
  /** A group is started without waiting for a `sync` caller once this many ops are queued. */
  maxQueuedOps?: number
  /** ... or once the queued values hold this many bytes. */
  maxQueuedBytes?: number
}

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

/** Overlay entry: the newest pending value of a key (`undefined`: deleted) and the group that writes it. */
interface Pending { value: Uint8Array | undefined, group: number }

export interface GroupCommitStats {
  /** Groups written (each one synced batch). */
  groups: number
  /** Batches those groups carried. */
  batches: number
}

export class GroupCommitKv implements KvStore {
  /** Moves on each time a group fails (see the module comment). */
  generation = 0
  readonly stats: GroupCommitStats = { groups: 0, batches: 0 }
  private readonly overlay = new Map<string, Pending>()
  private queue: KvOp[] = []
  private queuedBatches = 0
  private queuedBytes = 0
  private waiters: Waiter[] = []
  /** Number of the group the queue will become. */
  private nextGroup = 1
  private running?: Promise<void>
  private readonly participants: CommitParticipant[] = []
  private readonly maxQueuedOps: number
  private readonly maxQueuedBytes: number

  constructor (readonly inner: KvStore, init: GroupCommitInit = {}) {
    this.maxQueuedOps = init.maxQueuedOps ?? 50_000
    this.maxQueuedBytes = init.maxQueuedBytes ?? 32 * 1024 * 1024
  }

  async open (): Promise<void> { await this.inner.open() }

  async close (): Promise<void> {
    await this.sync().catch((err) => { log.error('the last group failed at close: %s', err?.message ?? err) })
    await this.inner.close()
  }

  /** `p` joins every group from now on. */
  join (p: CommitParticipant): void { this.participants.push(p) }

  async get (key: string): Promise<Uint8Array | undefined> {
    const p = this.overlay.get(key)
    return p !== undefined ? p.value : await this.inner.get(key)
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    // the pending values as of the call (a group may land and leave the overlay while the store is read)
    const pending = keys.map(k => this.overlay.get(k))
    const missing = keys.filter((_, i) => pending[i] === undefined)
    const found = missing.length === 0 ? [] : await this.inner.getMany(missing)
    let j = 0
    return pending.map(p => p !== undefined ? p.value : found[j++])
  }

  async batch (ops: KvOp[], options: { sync?: boolean, generation?: number } = {}): Promise<void> {
    if (options.generation !== undefined && options.generation !== this.generation) {
      throw new UnavailableError('a concurrent commit failed while this one was prepared; try again', { reason: 'commit_failed' })
    }
    if (ops.length > 0) {
      for (const op of ops) {
        this.overlay.set(op.key, { value: op.type === 'put' ? op.value : undefined, group: this.nextGroup })
        this.queuedBytes += op.key.length + (op.type === 'put' ? op.value.byteLength : 0)
      }
      this.queue.push(...ops)
      this.queuedBatches++
    }
    if (options.sync === true) return await this.sync()
    if (this.overBounds()) this.start()
  }

  private overBounds (): boolean { return this.queue.length >= this.maxQueuedOps || this.queuedBytes >= this.maxQueuedBytes }

  /** Resolves once everything batched before the call (and the participants' data) is durable. */
  async sync (): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    this.start()
    await done
  }

  private start (): void {
    this.running ??= this.run().finally(() => { this.running = undefined })
  }

  private async run (): Promise<void> {
    // a group is written for a caller waiting on durability, or for a queue past its bounds; batches
    // queued without `sync` while a group is written wait for the next such reason (one sync, not one per group)
    while (this.waiters.length > 0 || this.overBounds()) {
      const ops = lastPerKey(this.queue)
      const waiters = this.waiters
      const group = this.nextGroup++
      const batches = this.queuedBatches
      this.queue = []
      this.waiters = []
      this.queuedBatches = 0
      this.queuedBytes = 0
      const prepared: CommitParticipant[] = []
      try {
        for (const p of this.participants) {
          ops.push(...await p.prepare())
          prepared.push(p)
        }
        if (ops.length > 0) {
          await this.inner.batch(ops, { sync: true })
          this.stats.groups++
          this.stats.batches += batches
        }
      } catch (err) {
        for (const p of prepared) p.settle(false)
        this.fail(err, waiters)
        continue
      }
      for (const p of prepared) p.settle(true)
      // the keys this group wrote are in the store now, unless a later batch changed them again
      for (const op of ops) {
        const p = this.overlay.get(op.key)
        if (p !== undefined && p.group <= group) this.overlay.delete(op.key)
      }
      for (const w of waiters) w.resolve()
    }
  }

  /** A group failed: it and everything queued since are dropped; every waiter gets the error. */
  private fail (err: unknown, waiters: Waiter[]): void {
    log.error('a group of %d batches failed: %s', waiters.length, (err as any)?.message ?? err)
    this.generation++
    this.overlay.clear()
    this.queue = []
    this.queuedBatches = 0
    this.queuedBytes = 0
    for (const w of [...waiters, ...this.waiters.splice(0)]) w.reject(err)
  }

  /** The store's entries merged with the pending ones (a snapshot of the overlay taken at the call). */
  async * iterate (options: KvIterateOptions): AsyncIterable<[string, Uint8Array]> {
    const end = prefixEnd(options.prefix)
    const lo = options.after !== undefined && options.after >= options.prefix ? options.after : undefined
    const inRange = (k: string): boolean => k >= options.prefix && k < end && (lo === undefined || k > lo)
    const pending = [...this.overlay].filter(([k]) => inRange(k)).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    const limit = options.limit ?? Infinity
    let yielded = 0
    let i = 0
    // the store's side unlimited when pending deletes may hide some of its keys
    const inner = this.inner.iterate({ prefix: options.prefix, after: options.after, limit: pending.length === 0 ? options.limit : undefined })
    for await (const [k, v] of inner) {
      while (i < pending.length && pending[i][0] <= k) {
        const [pk, p] = pending[i++]
        if (p.value !== undefined) {
          yield [pk, p.value]
          if (++yielded >= limit) return
        }
      }
      if (i > 0 && pending[i - 1][0] === k) continue
      yield [k, v]
      if (++yielded >= limit) return
    }
    for (; i < pending.length; i++) {
      const [pk, p] = pending[i]
      if (p.value === undefined) continue
      yield [pk, p.value]
      if (++yielded >= limit) return
    }
  }
}

/**
 * The ops of a group with only the last op of each key (a key written by many
 * batches, like the store's counters, is written once per group): the same
 * end state in one batch, at a fraction of the per-op cost.
 */
export function lastPerKey (ops: KvOp[]): KvOp[] {
  const seen = new Set<string>()
  const out: KvOp[] = []
  for (let i = ops.length - 1; i >= 0; i--) {
    if (seen.has(ops[i].key)) continue
    seen.add(ops[i].key)
    out.push(ops[i])
  }
  return out.length === ops.length ? ops : out.reverse()
}

export function isGroupCommit (kv: KvStore): kv is GroupCommitKv {
  return kv instanceof GroupCommitKv
}
