/**
 * The audit log: one entry per mutating request (who, what, when, result),
 * kept in the metadata store under `au/<inverted time>/<inverted seq>` so
 * that a plain ascending scan reads newest first. Bounded: past
 * `maxEntries` the oldest are deleted.
 *
 * Knows the KvStore and nothing of HTTP (the API builds the entries).
 */
import type { KvStore } from '../store/kv.js'
import { InvalidArgumentError } from '../errors.js'
import { logger } from '../logger.js'
import type { AuditEntry } from '../wire.js'
export type { AuditEntry } from '../wire.js'

const log = logger('audit')

export interface AuditQuery {
  limit?: number
  before?: string
  /** Only entries of this token id. */
  token_id?: string
  /** Only entries whose action starts with this. */
  action?: string
}

const MAX_TIME = 9_999_999_999_999
const ID_RE = /^[0-9]{13}\/[0-9]{6}$/

export class AuditLog {
  private seq = 0
  private appended = 0
  private writes: Promise<void> = Promise.resolve()

  /** `kv`: the store's au/ part, as a prefixed view (store/kv.ts `prefixed`, built by openStore). */
  constructor (private readonly kv: KvStore, private readonly maxEntries = 100_000) {}

  /** Record an entry (written in order, in the background; `flush` waits for them). */
  append (entry: Omit<AuditEntry, 'id' | 'time'> & { time?: Date }): AuditEntry {
    const at = entry.time ?? new Date()
    this.seq = (this.seq + 1) % 1_000_000
    const id = `${String(MAX_TIME - at.getTime()).padStart(13, '0')}/${String(999_999 - this.seq).padStart(6, '0')}`
    const { time: _t, ...rest } = entry
    const full: AuditEntry = { id, time: at.toISOString(), ...rest }
    this.writes = this.writes.then(async () => {
      await this.kv.batch([{ type: 'put', key: id, value: Buffer.from(JSON.stringify(full)) }])
      if (++this.appended % 1000 === 0) await this.prune()
    }).catch((err) => { log.error('audit entry %s not written: %e', id, err) })
    return full
  }

  async flush (): Promise<void> { await this.writes }

  async list (query: AuditQuery = {}): Promise<AuditEntry[]> {
    await this.flush()
    const limit = query.limit ?? 100
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidArgumentError('limit must be an integer from 1 to 10000')
    if (query.before !== undefined && !ID_RE.test(query.before)) throw new InvalidArgumentError(`invalid audit cursor: ${query.before}`)
    const out: AuditEntry[] = []
    for await (const [, v] of this.kv.iterate({ prefix: '', after: query.before })) {
      const e = JSON.parse(Buffer.from(v).toString('utf8')) as AuditEntry
      if (query.token_id !== undefined && e.actor.token_id !== query.token_id) continue
      if (query.action !== undefined && !e.action.startsWith(query.action)) continue
      out.push(e)
      if (out.length >= limit) break
    }
    return out
  }

  /** Delete entries past the newest `maxEntries`. */
  async prune (): Promise<number> {
    let n = 0
    let dead: string[] = []
    let removed = 0
    for await (const [k] of this.kv.iterate({ prefix: '' })) {
      if (++n <= this.maxEntries) continue
      dead.push(k)
      if (dead.length >= 1000) { await this.kv.batch(dead.map(key => ({ type: 'del' as const, key }))); removed += dead.length; dead = [] }
    }
    if (dead.length > 0) { await this.kv.batch(dead.map(key => ({ type: 'del' as const, key }))); removed += dead.length }
    return removed
  }
}
