/**
 * Rate limiting of the HTTP API: a token bucket per key and class. A class
 * with a limit of N per minute holds at most N tokens and gains N/60 every
 * second, so a client may burst N requests and then go on at N a minute.
 * Keys are the authenticated token's id, else the client's IP (IPv6 by its
 * /64, the block one host usually gets). Memory is bounded: a bucket that
 * is full again says nothing and is dropped, and past `maxKeys` the least
 * recently used buckets go first.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { RateLimitedError } from '../../errors.js'
import type { Principal } from './request-info.js'
import { clientOf } from '../client-address.js'
import { routeOf } from '../route.js'

export type RateLimitClass = 'upload' | 'download' | 'metadata'

export interface RateLimitConfig {
  /** Requests per minute for each class; 0 = that class is not limited. */
  perMinute: Record<RateLimitClass, number>
  /** Limit loopback clients (127.0.0.0/8, ::1) too; off by default. */
  loopback: boolean
  /** Buckets kept at most (memory bound). */
  maxKeys?: number
  /** Clock in ms (tests). */
  now?: () => number
}

export interface Decision {
  allowed: boolean
  limit: number
  /** Whole requests left after this one. */
  remaining: number
  /** Seconds until the bucket is full again. */
  resetSeconds: number
  /** Seconds until the next request is allowed (refusals). */
  retryAfterSeconds: number
}

interface Bucket { tokens: number, at: number }

const DEFAULT_MAX_KEYS = 10_000
/** How often (at most) buckets that are full again are swept out. */
const SWEEP_MS = 60_000

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly now: () => number
  private readonly maxKeys: number
  private lastSweep: number

  constructor (private readonly perMinute: Record<RateLimitClass, number>, options: { maxKeys?: number, now?: () => number } = {}) {
    this.now = options.now ?? Date.now
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_KEYS)
    this.lastSweep = this.now()
  }

  /** Buckets held right now. */
  get size (): number { return this.buckets.size }

  limit (cls: RateLimitClass): number { return this.perMinute[cls] }

  /** Take one token for `key` in `cls` if there is one. */
  take (cls: RateLimitClass, key: string): Decision {
    const limit = this.perMinute[cls]
    const now = this.now()
    const perMs = limit / 60_000
    if (now - this.lastSweep >= SWEEP_MS) this.sweep(now)
    const id = `${cls}\u0000${key}`
    let b = this.buckets.get(id)
    if (b === undefined) {
      b = { tokens: limit, at: now }
      while (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value as string
        this.buckets.delete(oldest)
      }
    } else {
      b.tokens = Math.min(limit, b.tokens + (now - b.at) * perMs)
      b.at = now
      this.buckets.delete(id) // re-inserted below: Map order is least recently used first
    }
    this.buckets.set(id, b)
    const allowed = b.tokens >= 1
    if (allowed) b.tokens -= 1
    return {
      allowed,
      limit,
      remaining: Math.floor(b.tokens),
      resetSeconds: Math.ceil((limit - b.tokens) / perMs / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000))
    }
  }

  /** Drop buckets that have refilled completely: they are the same as no bucket. */
  sweep (now = this.now()): void {
    this.lastSweep = now
    for (const [id, b] of this.buckets) {
      const limit = this.perMinute[id.slice(0, id.indexOf('\u0000')) as RateLimitClass]
      if (b.tokens + (now - b.at) * (limit / 60_000) >= limit) this.buckets.delete(id)
    }
  }
}

/** The first four groups of an IPv6 address (its /64), or the address itself. */
export function ipKey (ip: string): string {
  if (!ip.includes(':')) return ip
  const [head, tail] = ip.split('::', 2) as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  if (right.some(p => p.includes('.')) || left.some(p => p.includes('.'))) return ip // embedded IPv4: keep whole
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':') + '::/64'
}

/** The rate-limit key of a request: its token, else its client address. */
export function rateLimitKey (principal: Principal | undefined, ip: string): string {
  return principal?.kind === 'token' ? `token:${principal.id}` : `ip:${ipKey(ip)}`
}

function setHeaders (set: (name: string, value: string) => void, d: Decision, cls: RateLimitClass): void {
  const resetAt = Math.ceil(Date.now() / 1000) + d.resetSeconds
  set('RateLimit-Limit', String(d.limit))
  set('RateLimit-Remaining', String(d.remaining))
  set('RateLimit-Reset', String(d.resetSeconds))
  set('RateLimit-Policy', `${d.limit};w=60;name="${cls}"`)
  set('X-RateLimit-Limit', String(d.limit))
  set('X-RateLimit-Remaining', String(d.remaining))
  set('X-RateLimit-Reset', String(resetAt))
}

/**
 * The middleware. It reads `c.var.principal` when authentication ran before
 * it (a missing one is anonymous). Allowed requests get the RateLimit-*
 * headers on their response (set on the Node response too, for content
 * written straight to it); refusals are 429 in the error JSON shape with
 * Retry-After. `onLimited` counts refusals (metrics).
 */
export function rateLimitMiddleware (config: RateLimitConfig, errorResponse: (err: unknown) => Response, onLimited?: (cls: RateLimitClass) => void): MiddlewareHandler<any> {
  const limiter = new RateLimiter(config.perMinute, { maxKeys: config.maxKeys, now: config.now })
  return async (c: Context<any>, next) => {
    // the route's declared class (api/route.ts); a wrong method counts against its route's class
    const rate = routeOf(c).rate
    if (rate === 'none' || limiter.limit(rate) <= 0) { await next(); return }
    const cls: RateLimitClass = rate
    // the client behind any trusted proxy: a forwarded request from an untrusted one is never local
    const client = clientOf(c)
    const ip = client.ip
    if (!config.loopback && client.local) { await next(); return }
    const principal = (c.get as (key: string) => unknown)('principal') as Principal | undefined
    const d = limiter.take(cls, rateLimitKey(principal, ip))
    if (!d.allowed) {
      onLimited?.(cls)
      const res = errorResponse(new RateLimitedError(`rate limit exceeded: ${d.limit} ${cls} requests per minute; retry in ${d.retryAfterSeconds} s`, { class: cls, limit: d.limit, retry_after: d.retryAfterSeconds }))
      setHeaders((k, v) => res.headers.set(k, v), d, cls)
      res.headers.set('Retry-After', String(d.retryAfterSeconds))
      return res
    }
    const out = c.env?.outgoing
    if (out !== undefined && typeof out.setHeader === 'function') {
      // kept by Node through writeHead: covers Fetch Responses and content written straight to `out`
      setHeaders((k, v) => out.setHeader(k, v), d, cls)
      await next()
    } else {
      await next()
      if (c.res !== RESPONSE_ALREADY_SENT) setHeaders((k, v) => c.res.headers.set(k, v), d, cls)
    }
  }
}
