/**
 * API tokens, kept in the metadata store under `tk/<id>`. A token reads
 * `ohk_<id>_<secret>`: the id (16 hex) names it in listings and admin
 * operations; only the SHA-256 of the whole token is stored, so a leaked
 * store does not leak usable tokens. Scopes are ordered: `admin` includes
 * `write`, which includes `read`.
 *
 * Knows the KvStore and nothing of HTTP.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { KvStore } from '../store/kv.js'
import { Mutex } from '../store/mutex.js'
import { InvalidArgumentError, NotFoundError, UnauthorizedError } from '../errors.js'
import { logger } from '../logger.js'
import type { Scope, TokenInfo, TokenStatus } from '../wire.js'

const log = logger('tokens')

export const SCOPES = ['read', 'write', 'admin'] as const satisfies readonly Scope[]
export type { Scope, TokenInfo } from '../wire.js'

/** What is shown of a token: everything but its secret. */

/** A token as created or renewed: the secret is shown this once. */
export interface IssuedToken { token: string, info: TokenInfo }

export interface CreateTokenInput {
  name?: string
  email?: string
  scopes: string[] | string
  /** Lifetime in seconds; none = does not expire. */
  expires_in_s?: number
}

interface TokenRecord extends Omit<TokenInfo, 'status'> {
  revoked: boolean
  /** SHA-256 (hex) of the whole token string. */
  secret_sha256: string
}

const TOKEN_RE = /^ohk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/
const NAME_RE = /^[\p{L}\p{N} ._@+-]{1,64}$/u

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const enc = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v))
const dec = <T>(v: Uint8Array): T => JSON.parse(Buffer.from(v).toString('utf8'))

/** Whether `have` grants `need` (admin ⊇ write ⊇ read). */
export function grants (have: readonly Scope[], need: Scope): boolean {
  const rank = (s: Scope): number => SCOPES.indexOf(s)
  return have.some(s => rank(s) >= rank(need))
}

export function parseScopes (raw: string[] | string): Scope[] {
  const list = (Array.isArray(raw) ? raw : raw.split(',')).map(s => String(s).trim()).filter(s => s !== '')
  if (list.length === 0) throw new InvalidArgumentError(`scopes must name at least one of ${SCOPES.join(', ')}`)
  for (const s of list) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown scope "${s}": expected ${SCOPES.join(', ')}`, { scope: s })
  }
  return SCOPES.filter(s => list.includes(s))
}

/** The id of a well-formed token string (no lookup), or undefined. */
/** A token id as the API names it: 16 lowercase hex characters (else INVALID_ARGUMENT, HTTP 400), the one rule. */
export function parseTokenId (id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError(`invalid token id: "${id}" (16 lowercase hex characters)`, { id })
  return id
}

function statusOf (rec: TokenRecord, now = Date.now()): TokenStatus {
  if (rec.revoked) return 'revoked'
  if (rec.expires_at !== undefined && Date.parse(rec.expires_at) <= now) return 'expired'
  return 'active'
}

function infoOf (rec: TokenRecord): TokenInfo {
  const { revoked: _r, secret_sha256: _s, ...rest } = rec
  return { ...rest, status: statusOf(rec) }
}

export class TokenStore {
  /** Uses not yet written: id → [count, last used]. Flushed in the background (usage is not worth an fsync per request). */
  private readonly usage = new Map<string, { count: number, last: string }>()
  private flushTimer: NodeJS.Timeout | undefined
  /** Serialises every read-modify-write of a record (admin changes and usage flushes). */
  private readonly lock = new Mutex()

  /** `kv`: the store's tk/ part, as a prefixed view (store/kv.ts `prefixed`, built by openStore). */
  constructor (private readonly kv: KvStore, private readonly flushMs = 2000) {}

  /** The stored record; with `withUsage`, uses not yet flushed are added (for display only, never saved). */
  private async load (id: string, withUsage = false): Promise<TokenRecord | undefined> {
    if (!/^[0-9a-f]{16}$/.test(id)) return undefined
    const v = await this.kv.get(id)
    if (v === undefined) return undefined
    const rec = dec<TokenRecord>(v)
    const pending = this.usage.get(id)
    if (withUsage && pending !== undefined) { rec.usage_count += pending.count; rec.last_used_at = pending.last }
    return rec
  }

  private async require (id: string): Promise<TokenRecord> {
    parseTokenId(id)
    const rec = await this.load(id)
    if (rec === undefined) throw new NotFoundError(`no such token: ${id}`, { token_id: id })
    return rec
  }

  private async save (rec: TokenRecord): Promise<void> {
    await this.kv.batch([{ type: 'put', key: rec.id, value: enc(rec) }], { sync: true })
  }

  private static secret (id: string): { token: string, hash: string } {
    const token = `ohk_${id}_${randomBytes(32).toString('base64url')}`
    return { token, hash: sha(token) }
  }

  async create (input: CreateTokenInput): Promise<IssuedToken> {
    const scopes = parseScopes(input.scopes)
    const name = (input.name ?? '').trim()
    const email = input.email?.trim()
    if (name === '' && (email === undefined || email === '')) throw new InvalidArgumentError('a token needs a name or an owner email')
    if (name !== '' && !NAME_RE.test(name)) throw new InvalidArgumentError('token name: 1-64 letters, digits, spaces and . _ @ + -', { name })
    if (email !== undefined && email !== '' && !EMAIL_RE.test(email)) throw new InvalidArgumentError(`invalid email: ${email}`, { email })
    if (input.expires_in_s !== undefined && (!Number.isSafeInteger(input.expires_in_s) || input.expires_in_s < 1)) {
      throw new InvalidArgumentError('expires_in_s must be a positive integer number of seconds')
    }
    const id = randomBytes(8).toString('hex')
    const { token, hash } = TokenStore.secret(id)
    const now = new Date()
    const rec: TokenRecord = {
      id,
      name: name !== '' ? name : email!,
      ...(email !== undefined && email !== '' ? { email } : {}),
      scopes,
      created_at: now.toISOString(),
      usage_count: 0,
      ...(input.expires_in_s !== undefined ? { expires_at: new Date(now.getTime() + input.expires_in_s * 1000).toISOString() } : {}),
      revoked: false,
      secret_sha256: hash
    }
    await this.lock.run(async () => { await this.save(rec) })
    return { token, info: infoOf(rec) }
  }

  async list (): Promise<TokenInfo[]> {
    const out: TokenInfo[] = []
    for await (const [k] of this.kv.iterate({ prefix: '' })) {
      const rec = await this.load(k, true)
      if (rec !== undefined) out.push(infoOf(rec))
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at))
  }

  async get (id: string): Promise<TokenInfo> {
    const rec = await this.load(parseTokenId(id), true)
    if (rec === undefined) throw new NotFoundError(`no such token: ${id}`, { token_id: id })
    return infoOf(rec)
  }

  async count (): Promise<number> {
    let n = 0
    for await (const _ of this.kv.iterate({ prefix: '' })) n++
    return n
  }

  async revoke (id: string): Promise<TokenInfo> {
    return await this.lock.run(async () => {
      const rec = await this.require(id)
      if (!rec.revoked) { rec.revoked = true; rec.revoked_at = new Date().toISOString(); await this.save(rec) }
      return infoOf(rec)
    })
  }

  async reactivate (id: string): Promise<TokenInfo> {
    return await this.lock.run(async () => {
      const rec = await this.require(id)
      if (rec.revoked) { rec.revoked = false; delete rec.revoked_at; await this.save(rec) }
      return infoOf(rec)
    })
  }

  /**
   * A new secret for the same token (same id, scopes and history); the old
   * secret stops working at once. An expired token's lifetime restarts.
   */
  async renew (id: string, expiresInS?: number): Promise<IssuedToken> {
    return await this.lock.run(async () => await this.renewLocked(id, expiresInS))
  }

  private async renewLocked (id: string, expiresInS?: number): Promise<IssuedToken> {
    const rec = await this.require(id)
    const { token, hash } = TokenStore.secret(id)
    const now = new Date()
    rec.secret_sha256 = hash
    rec.renewed_at = now.toISOString()
    if (expiresInS !== undefined) rec.expires_at = new Date(now.getTime() + expiresInS * 1000).toISOString()
    else if (rec.expires_at !== undefined) {
      const lifetime = Date.parse(rec.expires_at) - Date.parse(rec.created_at)
      rec.expires_at = new Date(now.getTime() + Math.max(lifetime, 1000)).toISOString()
    }
    await this.save(rec)
    return { token, info: infoOf(rec) }
  }

  /**
   * The active token `token` is, counting the use; UNAUTHORIZED otherwise
   * (malformed, unknown, wrong secret, revoked, expired — the message says
   * which, except that it never confirms an id exists to a wrong secret).
   */
  async authenticate (token: string): Promise<TokenInfo> {
    const m = TOKEN_RE.exec(token)
    if (m === null) throw new UnauthorizedError('malformed token: expected ohk_<id>_<secret>')
    const rec = await this.load(m[1], true)
    const given = Buffer.from(sha(token), 'hex')
    if (rec === undefined || !timingSafeEqual(given, Buffer.from(rec.secret_sha256, 'hex'))) throw new UnauthorizedError('invalid token')
    const status = statusOf(rec)
    if (status !== 'active') throw new UnauthorizedError(`token ${rec.id} is ${status}`, { token_id: rec.id, status })
    const now = new Date().toISOString()
    const u = this.usage.get(rec.id) ?? { count: 0, last: now }
    u.count++
    u.last = now
    this.usage.set(rec.id, u)
    this.scheduleFlush()
    rec.usage_count++
    rec.last_used_at = now
    return infoOf(rec)
  }

  /** The active token `token` is, without counting a use; undefined for anything else. */
  async verify (token: string): Promise<TokenInfo | undefined> {
    const m = TOKEN_RE.exec(token)
    if (m === null) return undefined
    const rec = await this.load(m[1], true)
    if (rec === undefined || !timingSafeEqual(Buffer.from(sha(token), 'hex'), Buffer.from(rec.secret_sha256, 'hex'))) return undefined
    return statusOf(rec) === 'active' ? infoOf(rec) : undefined
  }

  private scheduleFlush (): void {
    if (this.flushTimer !== undefined) return
    this.flushTimer = setTimeout(() => { this.flushTimer = undefined; void this.flush() }, this.flushMs)
    this.flushTimer.unref()
  }

  /** Write pending usage counts. */
  async flush (): Promise<void> {
    await this.lock.run(async () => {
      if (this.usage.size === 0) return
      const ids = [...this.usage.keys()]
      const ops = []
      for (const id of ids) {
        const v = await this.kv.get(id)
        const u = this.usage.get(id)
        this.usage.delete(id)
        if (v === undefined || u === undefined) continue
        const rec = dec<TokenRecord>(v)
        rec.usage_count += u.count
        rec.last_used_at = u.last
        ops.push({ type: 'put' as const, key: id, value: enc(rec) })
      }
      await this.kv.batch(ops, { sync: false })
    }).catch((err) => { log.error('recording token usage failed: %e', err) })
  }

  async close (): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    await this.flush()
  }
}
