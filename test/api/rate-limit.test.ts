/**
 * Rate limiting: the token bucket (burst, refill, Retry-After / reset
 * arithmetic, memory bound, IPv6 keys), the middleware keyed by token or
 * address, and real daemons: with the loopback exemption off and small
 * limits (set through OPENHASH_API_RATE_LIMIT_* variables) the N+1-th request
 * of a class gets 429 in the error shape with Retry-After and RateLimit-*
 * headers, classes and client addresses are independent, /health and
 * /metrics are never limited; with the defaults a loopback client is not
 * limited at all.
 */
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorResponse, REASON, STATUS_BY_CODE } from '../../src/api/errors.js'
import { ipKey, RateLimiter, rateLimitKey, rateLimitMiddleware } from '../../src/api/middleware/rate-limit.js'
import { resolveRoute } from '../../src/api/route.js'
import { classify, ROUTES } from '../../src/api/routes/index.js'
import { errorFromCode, RateLimitedError } from '../../src/errors.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { ROOT } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

describe('RateLimiter', () => {
  it('allows a burst of N, refuses the next with Retry-After, and refills at N per minute', () => {
    let now = 1_000_000
    const rl = new RateLimiter({ upload: 3, download: 100, metadata: 60 }, { now: () => now })
    const seen = [rl.take('upload', 'a'), rl.take('upload', 'a'), rl.take('upload', 'a')]
    expect(seen.map(d => d.allowed)).toEqual([true, true, true])
    expect(seen.map(d => d.remaining)).toEqual([2, 1, 0])
    expect(seen.map(d => d.limit)).toEqual([3, 3, 3])
    expect(seen[2].resetSeconds).toBe(60) // three tokens at one per 20 s
    const refused = rl.take('upload', 'a')
    expect(refused.allowed).toBe(false)
    expect(refused.remaining).toBe(0)
    expect(refused.retryAfterSeconds).toBe(20)
    now += 10_000
    const later = rl.take('upload', 'a')
    expect(later.allowed).toBe(false)
    expect(later.retryAfterSeconds).toBe(10)
    now += 10_000
    expect(rl.take('upload', 'a').allowed).toBe(true) // one token back after 20 s
    expect(rl.take('upload', 'a').allowed).toBe(false)
    // other keys and other classes have their own buckets
    expect(rl.take('upload', 'b').allowed).toBe(true)
    expect(rl.take('download', 'a')).toMatchObject({ allowed: true, limit: 100, remaining: 99 })
  })

  it('never holds more than maxKeys buckets, and drops buckets that have refilled', () => {
    let now = 0
    const rl = new RateLimiter({ upload: 10, download: 100, metadata: 60 }, { maxKeys: 50, now: () => now })
    for (let i = 0; i < 500; i++) rl.take('metadata', `k${i}`)
    expect(rl.size).toBe(50)
    // the least recently used went first: k499 is still there (remaining 58 after a second take), k0 is fresh
    expect(rl.take('metadata', 'k499').remaining).toBe(58)
    expect(rl.take('metadata', 'k0').remaining).toBe(59)
    now += 61_000 // everything refilled: the next take sweeps them out
    rl.take('metadata', 'new')
    expect(rl.size).toBe(1)
  })

  it('keys IPv6 clients by their /64 and tokens by id', () => {
    expect(ipKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(ipKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(ipKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(ipKey('::1')).toBe('0:0:0:0::/64')
    expect(ipKey('192.0.2.7')).toBe('192.0.2.7')
    expect(rateLimitKey({ kind: 'token', id: 'abc', name: 'ci' }, '192.0.2.7')).toBe('token:abc')
    expect(rateLimitKey({ kind: 'anonymous' }, '192.0.2.7')).toBe('ip:192.0.2.7')
    expect(rateLimitKey(undefined, '192.0.2.7')).toBe('ip:192.0.2.7')
  })

  it('classifies routes; health, metrics, docs, unknown paths and OPTIONS are never limited', () => {
    expect(classify('POST', '/upload/file')).toBe('upload')
    expect(classify('POST', '/upload/folder')).toBe('upload')
    expect(classify('GET', '/download/ab')).toBe('download')
    expect(classify('HEAD', '/view/ab/x/y')).toBe('download')
    for (const p of ['/info/ab', '/entries/ab', '/list', '/pins', '/pins/status', '/stats', '/network', '/pin/ab', '/unpin/ab', '/content/ab', '/gc', '/verify', '/tokens', '/tokens/x/revoke', '/audit']) {
      expect(classify('GET', p), p).toBe('metadata')
    }
    for (const p of ['/health', '/metrics', '/openapi.json', '/docs', '/docs/init.js', '/nope', '/']) expect(classify('GET', p), p).toBeUndefined()
    expect(classify('OPTIONS', '/upload/file')).toBeUndefined()
  })

  it('RATE_LIMITED is a typed error the client can rebuild, mapped to 429', () => {
    expect(errorFromCode('RATE_LIMITED', 'slow down')).toBeInstanceOf(RateLimitedError)
    expect(STATUS_BY_CODE.RATE_LIMITED).toBe(429)
    expect(REASON[429]).toBe('Too Many Requests')
  })

  it('the OpenAPI document gives every limited operation its 429 and documents /metrics', async () => {
    const doc = JSON.parse(await readFile(join(ROOT, 'docs', 'openapi.json'), 'utf8'))
    let limited = 0
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!['get', 'head', 'post', 'put', 'delete'].includes(method)) continue
        const cls = classify(method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x'))
        expect(op.responses['429'] !== undefined, `${method} ${path}`).toBe(cls !== undefined)
        if (cls !== undefined) limited++
      }
    }
    expect(limited).toBeGreaterThanOrEqual(20)
    const r = doc.components.responses.RateLimited
    expect(Object.keys(r.headers)).toEqual(expect.arrayContaining(['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']))
    expect(doc.components.schemas.ErrorCode.enum).toContain('RATE_LIMITED')
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty(['text/plain; version=0.0.4; charset=utf-8'])
  })
})

describe('rate-limit middleware', () => {
  /** A tiny app where a header plays the auth middleware and sets the principal. */
  function app (): Hono<any> {
    const a = new Hono<any>()
    a.use('*', resolveRoute(ROUTES)) // the routes' declared rate classes
    a.use('*', async (c, next) => {
      const t = c.req.header('x-test-token')
      c.set('principal', t === undefined ? { kind: 'anonymous' } : { kind: 'token', id: t, name: `name-${t}`, scopes: ['read'] })
      await next()
    })
    a.use('*', rateLimitMiddleware({ loopback: false, perMinute: { upload: 1, download: 2, metadata: 2 } }, errorResponse))
    a.get('/info/:hash', (c) => c.json({ ok: true }))
    a.get('/health', (c) => c.json({ ok: true }))
    return a
  }

  it('limits per token, separately from anonymous clients, and answers 429 in the error shape', async () => {
    const a = app()
    const get = async (token?: string): Promise<Response> => await a.request('/info/x', { headers: token === undefined ? {} : { 'x-test-token': token } })
    const first = await get('t1')
    expect(first.status).toBe(200)
    expect(first.headers.get('ratelimit-limit')).toBe('2')
    expect(first.headers.get('ratelimit-remaining')).toBe('1')
    expect((await get('t1')).status).toBe(200)
    const refused = await get('t1')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBe(30)
    expect(refused.headers.get('ratelimit-remaining')).toBe('0')
    const body = await refused.json() as any
    expect(body).toMatchObject({ error: 'Too Many Requests', code: 429, error_code: 'RATE_LIMITED', details: { class: 'metadata', limit: 2, retry_after: 30 } })
    expect(typeof body.timestamp).toBe('string')
    // another token and an anonymous client are not affected
    expect((await get('t2')).status).toBe(200)
    expect((await get()).status).toBe(200)
    // unlimited routes carry no rate-limit headers
    const health = await a.request('/health', { headers: { 'x-test-token': 't1' } })
    expect(health.status).toBe(200)
    expect(health.headers.get('ratelimit-limit')).toBeNull()
  })
})

// ---- real daemons ----

interface Res { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** A request from a chosen loopback source address (the whole 127/8 is loopback on Linux). */
async function send (url: string, method: string, options: { localAddress?: string, body?: Buffer, headers?: Record<string, string> } = {}): Promise<Res> {
  return await new Promise<Res>((resolve, reject) => {
    const req = request(url, { method, localAddress: options.localAddress, headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (b: Buffer) => parts.push(b))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

function multipart (content: string, name: string): { body: Buffer, headers: Record<string, string> } {
  const boundary = 'rlBOUNDARY'
  const body = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`)
  return { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) } }
}

describe('daemon with the loopback exemption off and small limits', () => {
  let d: DaemonProcess
  let dir: { path: string, cleanup: () => Promise<void> }
  const uploaded: string[] = []

  beforeAll(async () => {
    dir = await tempDir('openhash-ratelimit-')
    d = await startDaemon(dir.path, {
      args: ['--no-network'],
      env: {
        OPENHASH_API_RATE_LIMIT_LOOPBACK: 'true',
        OPENHASH_API_RATE_LIMIT_UPLOAD_PER_MIN: '3',
        OPENHASH_API_RATE_LIMIT_DOWNLOAD_PER_MIN: '4',
        OPENHASH_API_RATE_LIMIT_METADATA_PER_MIN: '5'
      }
    })
  })
  afterAll(async () => {
    await d?.stop('SIGKILL')
    await dir?.cleanup()
  })

  it('the 4th upload in a minute gets 429 with Retry-After, RateLimit-* headers and the error JSON', async () => {
    for (let i = 0; i < 3; i++) {
      const m = multipart(`file ${i}\n`, `f${i}.txt`)
      const res = await send(`${d.url}/upload/file`, 'POST', m)
      expect(res.status, res.body).toBe(200)
      uploaded.push(JSON.parse(res.body).hash)
      expect(res.headers['ratelimit-limit']).toBe('3')
      expect(res.headers['ratelimit-remaining']).toBe(String(2 - i))
      expect(res.headers['x-ratelimit-limit']).toBe('3')
      expect(res.headers['x-ratelimit-remaining']).toBe(String(2 - i))
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0)
      expect(res.headers['ratelimit-policy']).toBe('3;w=60;name="upload"')
    }
    const m = multipart('one too many\n', 'f3.txt')
    const refused = await send(`${d.url}/upload/file`, 'POST', m)
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers['retry-after'])
    expect(Number.isInteger(retryAfter)).toBe(true)
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(20) // one upload token comes back every 20 s
    expect(refused.headers['ratelimit-limit']).toBe('3')
    expect(refused.headers['ratelimit-remaining']).toBe('0')
    expect(Number(refused.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(retryAfter)
    expect(Number(refused.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000)
    expect(refused.headers['content-type']).toMatch(/application\/json/)
    expect(String(refused.headers['access-control-expose-headers'])).toMatch(/Retry-After/)
    const body = JSON.parse(refused.body)
    expect(body).toMatchObject({ error: 'Too Many Requests', code: 429, error_code: 'RATE_LIMITED', details: { class: 'upload', limit: 3, retry_after: retryAfter } })
    // nothing of the refused upload was stored
    const list = JSON.parse((await send(`${d.url}/list`, 'GET')).body) as Array<{ filename: string }>
    expect(list.map(i => i.filename).sort()).toEqual(['f0.txt', 'f1.txt', 'f2.txt'])
  })

  it('classes are independent: downloads and metadata still pass, each up to its own limit', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await send(`${d.url}/download/${uploaded[0]}`, 'GET')
      expect(res.status).toBe(200)
      expect(res.body).toBe('file 0\n')
      expect(res.headers['ratelimit-limit']).toBe('4')
      expect(res.headers['ratelimit-remaining']).toBe(String(3 - i))
    }
    const refused = await send(`${d.url}/view/${uploaded[0]}`, 'GET') // /view shares the download class
    expect(refused.status).toBe(429)
    expect(JSON.parse(refused.body).details.class).toBe('download')
    // metadata: /list above took one of 5
    for (let i = 0; i < 4; i++) expect((await send(`${d.url}/info/${uploaded[1]}`, 'GET')).status).toBe(200)
    const meta = await send(`${d.url}/stats`, 'GET')
    expect(meta.status).toBe(429)
    expect(JSON.parse(meta.body).details).toMatchObject({ class: 'metadata', limit: 5 })
  })

  it('limits are per client address: another loopback address has its own buckets', async () => {
    const m = multipart('from another address\n', 'other.txt')
    const res = await send(`${d.url}/upload/file`, 'POST', { ...m, localAddress: '127.0.0.2' })
    expect(res.status, res.body).toBe(200)
    expect(res.headers['ratelimit-remaining']).toBe('2')
    expect((await send(`${d.url}/download/${uploaded[0]}`, 'GET', { localAddress: '127.0.0.2' })).status).toBe(200)
    // while 127.0.0.1 is still refused
    expect((await send(`${d.url}/upload/file`, 'POST', multipart('again\n', 'again.txt'))).status).toBe(429)
  })

  it('/health and /metrics are never limited, and /metrics counts the refusals by class', async () => {
    for (let i = 0; i < 20; i++) {
      const h = await send(`${d.url}/health`, 'GET')
      expect(h.status).toBe(200)
      expect(h.headers['ratelimit-limit']).toBeUndefined()
    }
    const m = await send(`${d.url}/metrics`, 'GET')
    expect(m.status).toBe(200)
    expect(m.headers['ratelimit-limit']).toBeUndefined()
    expect(m.body).toMatch(/^openhash_http_rate_limited_total\{class="upload"\} 2$/m)
    expect(m.body).toMatch(/^openhash_http_rate_limited_total\{class="download"\} 1$/m)
    expect(m.body).toMatch(/^openhash_http_rate_limited_total\{class="metadata"\} 1$/m)
    expect(m.body).toMatch(/^openhash_http_requests_total\{method="POST",route="\/upload\/file",status="429"\} 2$/m)
  })
})

describe('daemon with the default configuration', () => {
  let d: DaemonProcess
  let dir: { path: string, cleanup: () => Promise<void> }
  beforeAll(async () => {
    dir = await tempDir('openhash-ratelimit-default-')
    d = await startDaemon(dir.path, { args: ['--no-network'] })
  })
  afterAll(async () => {
    await d?.stop('SIGKILL')
    await dir?.cleanup()
  })

  it('does not limit loopback clients: 15 uploads (limit 10) and 120 metadata requests (limit 60) all pass', async () => {
    for (let i = 0; i < 15; i++) {
      const res = await send(`${d.url}/upload/file`, 'POST', multipart(`n ${i}\n`, `n${i}.txt`))
      expect(res.status, res.body).toBe(200)
      expect(res.headers['ratelimit-limit']).toBeUndefined()
    }
    const results = await Promise.all(Array.from({ length: 120 }, async () => await send(`${d.url}/stats`, 'GET')))
    expect(results.filter(r => r.status !== 200)).toEqual([])
  })
})
