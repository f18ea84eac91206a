/**
 * Download tickets over real HTTP on loopback with auth on: POST
 * /auth/ticket/{hash} gives a ticket that opens GET/HEAD /download/{hash} and
 * /view/{hash} of that hash only, as a plain URL (?ticket=), never another
 * hash, another method or another endpoint, and never as a bearer token; it
 * expires, dies with its token, and is masked in request logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TicketSigner } from '../../src/auth/tickets.js'
import { loadConfig } from '../../src/config.js'
import { maskUrl } from '../../src/api/middleware/request-log.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import { LocalNode } from '../../src/node.js'
import { until } from '../helpers/net.js'
import { tempDir } from '../helpers/tmp.js'

interface Ticket { ticket: string, hash: string, expires_at: string, expires_in_s: number }

describe('download tickets', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  let server: RunningServer
  let reader: { token: string, id: string }
  const files: Record<'a' | 'b', { hash: string, bytes: Buffer }> = {} as any
  beforeAll(async () => {
    dir = await tempDir()
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {}, overrides: {} }), 'tickets test')
    const tokens = node.tokens
    const issued = await node.createToken({ name: 'reader', scopes: ['read'] })
    reader = { token: issued.token, id: issued.info.id }
    for (const k of ['a', 'b'] as const) {
      const bytes = Buffer.from(`the file ${k}\n`.repeat(100))
      const r = await node.addStream((async function * () { yield bytes })(), { filename: `${k}.txt` })
      files[k] = { hash: r.hash, bytes }
    }
    server = await startServer(node, {
      host: '127.0.0.1',
      port: 0,
      maxUploadBytes: 1024 * 1024,
      auth: { required: true, publicReads: false, loopbackOnly: false, authenticate: async (t) => await tokens.authenticate(t), lookup: async (id) => await tokens.get(id) }
    })
  })
  afterAll(async () => {
    await server?.close(1000)
    await node?.close()
    await dir?.cleanup()
  })

  async function ticketFor (hash: string, token = reader.token, body?: unknown): Promise<Ticket> {
    const res = await fetch(`${server.url}/auth/ticket/${hash}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) })
    expect(res.status).toBe(201)
    return await res.json() as Ticket
  }

  async function expect401 (res: Response, pattern?: RegExp): Promise<void> {
    expect(res.status).toBe(401)
    const body = await res.json() as { error_code: string, message: string }
    expect(body.error_code).toBe('UNAUTHORIZED')
    if (pattern !== undefined) expect(body.message).toMatch(pattern)
  }

  it('a ticket opens GET and HEAD /download and /view of its hash as a plain URL, without a token', async () => {
    const { hash, bytes } = files.a
    await expect401(await fetch(`${server.url}/download/${hash}`))
    const t = await ticketFor(hash)
    expect(t).toMatchObject({ hash, expires_in_s: 300, ticket: expect.stringMatching(/^t1\./) })
    expect(Date.parse(t.expires_at) - Date.now()).toBeLessThanOrEqual(300_000)
    const q = `?ticket=${encodeURIComponent(t.ticket)}`
    const dl = await fetch(`${server.url}/download/${hash}${q}`)
    expect(dl.status).toBe(200)
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(bytes)
    expect(dl.headers.get('referrer-policy')).toBe('no-referrer')
    const head = await fetch(`${server.url}/download/${hash}${q}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(bytes.length))
    const view = await fetch(`${server.url}/view/${hash}${q}`, { headers: { Range: 'bytes=0-3' } })
    expect(view.status).toBe(206)
    expect(await view.text()).toBe('the ')
    // the hash in upper case is the same content
    expect((await fetch(`${server.url}/download/${hash.toUpperCase()}${q}`)).status).toBe(200)
  })

  it('works for its hash only', async () => {
    const t = await ticketFor(files.a.hash)
    await expect401(await fetch(`${server.url}/download/${files.b.hash}?ticket=${t.ticket}`), /not valid for this content/)
    await expect401(await fetch(`${server.url}/view/${files.b.hash}?ticket=${t.ticket}`), /not valid for this content/)
  })

  it('is refused on every other endpoint and method, and is not a bearer token', async () => {
    const { hash } = files.a
    const t = (await ticketFor(hash)).ticket
    for (const [method, path] of [['GET', `/info/${hash}`], ['GET', '/list'], ['GET', '/pins'], ['GET', '/stats'], ['POST', `/pin/${hash}`], ['DELETE', `/unpin/${hash}`], ['DELETE', `/content/${hash}`], ['POST', `/auth/ticket/${hash}`], ['POST', `/download/${hash}`], ['GET', '/tokens']]) {
      const res = await fetch(`${server.url}${path}?ticket=${t}`, { method })
      await expect401(res, /a ticket is accepted only by GET and HEAD/)
    }
    await expect401(await fetch(`${server.url}/download/${hash}`, { headers: { Authorization: `Bearer ${t}` } }))
    // nothing was changed through it
    expect(await node.pins()).toEqual({})
  })

  it('expires (at most 5 minutes; a shorter life on request)', async () => {
    const bad = await fetch(`${server.url}/auth/ticket/${files.a.hash}`, { method: 'POST', headers: { Authorization: `Bearer ${reader.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ expires_in_s: 301 }) })
    expect(bad.status).toBe(400)
    const t = await ticketFor(files.a.hash, reader.token, { expires_in_s: 1 })
    expect(t.expires_in_s).toBe(1)
    const url = `${server.url}/download/${files.a.hash}?ticket=${t.ticket}`
    await until('the ticket to expire', async () => (await fetch(url)).status === 401, 5000)
    await expect401(await fetch(url), /expired at/)
  })

  it('an altered ticket, or one from another daemon, is refused; revoking the token ends its tickets', async () => {
    const { hash } = files.a
    const t = (await ticketFor(hash)).ticket
    const later = t.replace(/^t1\.(\d+)\./, (_m, ms: string) => `t1.${Number(ms) + 60_000}.`)
    await expect401(await fetch(`${server.url}/download/${hash}?ticket=${later}`), /not valid/)
    const foreign = new TicketSigner().issue(hash, reader.id).ticket
    await expect401(await fetch(`${server.url}/download/${hash}?ticket=${foreign}`), /not valid/)
    await expect401(await fetch(`${server.url}/download/${hash}?ticket=nonsense`), /malformed/)
    const other = await node.createToken({ name: 'short-lived', scopes: ['read'] })
    const t2 = (await ticketFor(hash, other.token)).ticket
    expect((await fetch(`${server.url}/download/${hash}?ticket=${t2}`)).status).toBe(200)
    await node.revokeToken(other.info.id)
    await expect401(await fetch(`${server.url}/download/${hash}?ticket=${t2}`), /revoked/)
  })

  it('asking for one needs a token when auth is on; the audit log and the request log do not keep the ticket', async () => {
    await expect401(await fetch(`${server.url}/auth/ticket/${files.a.hash}`, { method: 'POST' }))
    expect((await fetch(`${server.url}/auth/ticket/not-a-hash`, { method: 'POST', headers: { Authorization: `Bearer ${reader.token}` } })).status).toBe(400)
    expect(maskUrl(`/download/${files.a.hash}?ticket=t1.123.-.abc&x=1`)).toBe(`/download/${files.a.hash}?ticket=REDACTED&x=1`)
  })
})

describe('TicketSigner', () => {
  it('checks the hash, the expiry and the MAC', () => {
    let now = 1_800_000_000_000
    const s = new TicketSigner(Buffer.alloc(32, 1), () => now)
    const h = 'ab'.repeat(32)
    const t = s.issue(h, '0123456789abcdef', 60)
    expect(s.verify(t.ticket, h)).toEqual({ tokenId: '0123456789abcdef', expiresAt: now + 60_000 })
    expect(() => s.verify(t.ticket, 'cd'.repeat(32))).toThrow(/not valid/)
    now += 59_999
    expect(s.verify(t.ticket, h).tokenId).toBe('0123456789abcdef')
    now += 1
    expect(() => s.verify(t.ticket, h)).toThrow(/expired/)
    expect(s.issue(h, undefined, 10_000).expires_in_s).toBe(300) // never longer than 5 minutes
    expect(new TicketSigner(Buffer.alloc(32, 1), () => now).verify(s.issue(h, undefined).ticket, h)).toEqual({ expiresAt: now + 300_000 })
  })
})
