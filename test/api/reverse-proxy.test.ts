/**
 * Issue 13 (3, 9b): a daemon behind a reverse proxy. Real `openhash daemon`
 * child processes on 127.0.0.1 behind a real forwarding proxy
 * (test/helpers/proxy.ts) that connects from 127.0.0.2 and claims the
 * internet address each request names; the test's direct requests come from
 * 127.0.0.1. Also: the token and audit routes need an admin token in every
 * auth mode, and refused revoked/expired tokens are named in the audit log.
 * docs/security.md#behind-a-reverse-proxy describes what is tested here.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import type { RunningProxy } from '../helpers/proxy.js'
import { startProxy } from '../helpers/proxy.js'
import { tempDir } from '../helpers/tmp.js'
import { until } from '../helpers/net.js'
import { expectCleanError, runCli } from '../helpers/cli.js'

interface Dir { path: string, cleanup: () => Promise<void> }

const bearer = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` })
const as = (ip: string): Record<string, string> => ({ 'x-test-client': ip })
const jsonHeaders = { 'Content-Type': 'application/json' }

async function upload (url: string, content: string, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData()
  form.append('file', new Blob([content]), 'a.txt')
  return await fetch(`${url}/upload/file`, { method: 'POST', body: form, headers })
}

async function expectError (res: Response, status: number, code: string): Promise<any> {
  const text = await res.text()
  expect(res.status, text.slice(0, 500)).toBe(status)
  const body = JSON.parse(text)
  expect(body).toMatchObject({ code: status, error_code: code })
  return body
}

async function createToken (url: string, admin: string, body: Record<string, unknown>): Promise<{ token: string, id: string }> {
  const res = await fetch(`${url}/tokens`, { method: 'POST', headers: { ...bearer(admin), ...jsonHeaders }, body: JSON.stringify(body) })
  expect(res.status).toBe(201)
  return await res.json() as { token: string, id: string }
}

async function adminOf (dir: Dir): Promise<string> { return (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim() }

async function audit (url: string, admin: string, query = ''): Promise<any[]> {
  const res = await fetch(`${url}/audit?limit=50${query}`, { headers: bearer(admin) })
  expect(res.status).toBe(200)
  return (await res.json() as { entries: any[] }).entries
}

describe('nginx-style proxy (Host rewritten to 127.0.0.1:port) that is not trusted, auth auto on loopback', () => {
  let dir: Dir
  let d: DaemonProcess
  let proxy: RunningProxy
  let admin = ''
  beforeAll(async () => {
    dir = await tempDir('openhash-rp-nginx-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.public_reads=true', '-c', 'api.rate_limit_download_per_min=2'] })
    proxy = await startProxy(d.url, 'nginx')
    admin = await adminOf(dir)
  })
  afterAll(async () => { await proxy?.close(); await d?.stop(); await dir?.cleanup() })

  it('an anonymous forwarded request cannot upload, pin, gc, verify or create tokens', async () => {
    const local = await upload(d.url, 'local content') // a direct local client still needs no token
    expect(local.status).toBe(200)
    const hash = (await local.json() as { hash: string }).hash
    const before = await (await fetch(`${d.url}/list`)).json()
    await expectError(await upload(proxy.url, 'from the internet'), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/pin/${hash}`, { method: 'POST' }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/unpin/${hash}`, { method: 'DELETE' }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/gc`, { method: 'POST' }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/verify`, { method: 'POST' }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/list`), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${proxy.url}/tokens`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ name: 'evil', scopes: ['admin'] }) }), 401, 'UNAUTHORIZED')
    // a spoofed loopback X-Forwarded-For from the client changes nothing
    await expectError(await upload(proxy.url, 'spoofed', { 'X-Forwarded-For': '127.0.0.1' }), 401, 'UNAUTHORIZED')
    // nothing changed
    expect(await (await fetch(`${d.url}/list`)).json()).toEqual(before)
    expect(await (await fetch(`${d.url}/pins`)).json()).toEqual({})
    expect((await (await fetch(`${d.url}/tokens`, { headers: bearer(admin) })).json() as { tokens: any[] }).tokens.map(t => t.name)).toEqual(['admin'])
    // a token works through the proxy
    const w = await createToken(d.url, admin, { name: 'writer', scopes: ['write'] })
    expect((await upload(proxy.url, 'with a token', bearer(w.token))).status).toBe(200)
  })

  it('the untrusted proxy\'s clients are not exempt from rate limits as loopback ones are', async () => {
    const hash = (await (await upload(d.url, 'rate limited')).json() as { hash: string }).hash
    // direct loopback: never limited (api.rate_limit_loopback false)
    for (let i = 0; i < 4; i++) expect((await fetch(`${d.url}/download/${hash}`)).status).toBe(200)
    // through the proxy (public reads): one budget for all of them, keyed by the proxy's address
    for (let i = 0; i < 2; i++) expect((await fetch(`${proxy.url}/download/${hash}`, { headers: as(`203.0.113.${i + 1}`) })).status).toBe(200)
    await expectError(await fetch(`${proxy.url}/download/${hash}`, { headers: as('203.0.113.9') }), 429, 'RATE_LIMITED')
    const entries = await audit(d.url, admin, '&action=upload')
    const forwarded = entries.find((e: any) => e.status === 401)
    // not believed: the audit names the proxy's address, and that it was a forwarded request
    expect(forwarded.actor).toMatchObject({ ip: '127.0.0.2', via: '127.0.0.2' })
  })
})

describe('POST /tokens {"scopes":["admin"]} needs an admin token in every mode', () => {
  for (const mode of ['off', 'auto', 'on']) {
    it(`api.auth=${mode}: anonymous token and audit requests are refused; the admin token works`, async () => {
      const dir = await tempDir(`openhash-rp-mode-${mode}-`)
      const d = await startDaemon(dir.path, { args: ['--no-network', '-c', `api.auth=${mode}`] })
      try {
        const admin = await adminOf(dir)
        const body = JSON.stringify({ name: 'sneaky', scopes: ['admin'] })
        await expectError(await fetch(`${d.url}/tokens`, { method: 'POST', headers: jsonHeaders, body }), 401, 'UNAUTHORIZED')
        for (const path of ['/tokens', '/audit', '/tokens/0123456789abcdef']) await expectError(await fetch(`${d.url}${path}`), 401, 'UNAUTHORIZED')
        await expectError(await fetch(`${d.url}/tokens/0123456789abcdef/revoke`, { method: 'POST' }), 401, 'UNAUTHORIZED')
        // GET /tokens/self: any valid token sees itself; a read token is no admin
        const r = await createToken(d.url, admin, { name: 'reader', scopes: ['read'] })
        expect(await (await fetch(`${d.url}/tokens/self`, { headers: bearer(r.token) })).json()).toMatchObject({ id: r.id, name: 'reader' })
        await expectError(await fetch(`${d.url}/tokens`, { method: 'POST', headers: { ...jsonHeaders, ...bearer(r.token) }, body }), 403, 'FORBIDDEN')
        await expectError(await fetch(`${d.url}/tokens/self`), 401, 'UNAUTHORIZED')
        const names = (await (await fetch(`${d.url}/tokens`, { headers: bearer(admin) })).json() as { tokens: any[] }).tokens.map(t => t.name)
        expect(names.sort()).toEqual(['admin', 'reader'])
      } finally {
        await d.stop()
        await dir.cleanup()
      }
    })
  }
})

describe('nginx-style proxy listed in api.trusted_proxies', () => {
  let dir: Dir
  let d: DaemonProcess
  let proxy: RunningProxy
  let rfc: RunningProxy
  let admin = ''
  beforeAll(async () => {
    dir = await tempDir('openhash-rp-trusted-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.trusted_proxies=["127.0.0.2"]', '-c', 'api.public_reads=true', '-c', 'api.rate_limit_download_per_min=2'] })
    proxy = await startProxy(d.url, 'nginx')
    rfc = await startProxy(d.url, 'rfc7239')
    admin = await adminOf(dir)
  })
  afterAll(async () => { await proxy?.close(); await rfc?.close(); await d?.stop(); await dir?.cleanup() })

  it('remote clients need tokens; the forwarded address is what the audit and the request log see', async () => {
    await expectError(await upload(proxy.url, 'anonymous', as('203.0.113.7')), 401, 'UNAUTHORIZED')
    await expectError(await upload(rfc.url, 'anonymous', as('2001:db8::7')), 401, 'UNAUTHORIZED')
    const w = await createToken(d.url, admin, { name: 'remote-writer', scopes: ['write'] })
    expect((await upload(proxy.url, 'remote with a token', { ...as('203.0.113.7'), ...bearer(w.token) })).status).toBe(200)
    const [ok, refusedV6, refused] = await audit(d.url, admin, '&action=upload')
    expect(ok).toMatchObject({ status: 200, actor: { ip: '203.0.113.7', via: '127.0.0.2', token_id: w.id } })
    expect(refusedV6).toMatchObject({ status: 401, actor: { ip: '2001:db8::7', via: '127.0.0.2' } })
    expect(refused).toMatchObject({ status: 401, actor: { ip: '203.0.113.7', via: '127.0.0.2' } })
    // text request lines: <time> <address> <method> <url> <status> …
    await until('the request lines', () => / 203\.0\.113\.7 POST \/upload\/file 200 /.test(d.output()))
    expect(d.output()).toMatch(/ 2001:db8::7 POST \/upload\/file 401 /)
    // direct requests are still from 127.0.0.1, local, and need no token
    expect((await upload(d.url, 'direct')).status).toBe(200)
    expect((await audit(d.url, admin, '&action=upload'))[0].actor).toEqual({ ip: '127.0.0.1' })
  })

  it('rate limits key on the forwarded client; a local user of the proxy\'s machine stays exempt', async () => {
    const hash = (await (await upload(d.url, 'per client limits')).json() as { hash: string }).hash
    const get = async (ip: string): Promise<number> => (await fetch(`${proxy.url}/download/${hash}`, { headers: as(ip) })).status
    expect([await get('198.51.100.1'), await get('198.51.100.1'), await get('198.51.100.1')]).toEqual([200, 200, 429])
    // another client has its own budget
    expect([await get('198.51.100.2'), await get('198.51.100.2')]).toEqual([200, 200])
    // forwarded as loopback by a trusted proxy: exempt like a direct local client
    for (let i = 0; i < 4; i++) expect(await get('127.0.0.1')).toBe(200)
  })

  it('a local user through the proxy: the Origin is compared with the forwarded host and protocol', async () => {
    const local = { ...as('127.0.0.1'), 'X-Forwarded-Host': 'node.example.com' }
    // the page the user opened is https://node.example.com (what the proxy serves): same origin
    expect((await upload(proxy.url, 'same origin through the proxy', { ...local, Origin: 'https://node.example.com' })).status).toBe(200)
    // the upstream Host is not the client's origin; nor is the forwarded host over another protocol
    await expectError(await upload(proxy.url, 'x', { ...local, Origin: `http://${new URL(d.url).host}` }), 403, 'FORBIDDEN')
    await expectError(await upload(proxy.url, 'x', { ...local, Origin: 'http://node.example.com' }), 403, 'FORBIDDEN')
    await expectError(await upload(proxy.url, 'x', { ...local, Origin: 'https://evil.example' }), 403, 'FORBIDDEN')
  })
})

describe('Caddy-style proxy (public Host kept, X-Forwarded-For/-Host/-Proto)', () => {
  it('403 without api.allowed_hosts (the DNS-rebinding guard)', async () => {
    const dir = await tempDir('openhash-rp-caddy0-')
    const d = await startDaemon(dir.path, { args: ['--no-network'] })
    const proxy = await startProxy(d.url, 'caddy')
    try {
      const body = await expectError(await fetch(`${proxy.url}/list`), 403, 'FORBIDDEN')
      expect(body.message).toMatch(/api\.allowed_hosts/)
      await expectError(await upload(proxy.url, 'x'), 403, 'FORBIDDEN')
    } finally {
      await proxy.close(); await d.stop(); await dir.cleanup()
    }
  })

  it('works once api.allowed_hosts lists the name, with tokens for remote clients (proxy trusted or not)', async () => {
    const dir = await tempDir('openhash-rp-caddy-')
    // the environment's comma-separated form of the lists
    const d = await startDaemon(dir.path, { args: ['--no-network'], env: { OPENHASH_API_ALLOWED_HOSTS: 'node.example.com', OPENHASH_API_TRUSTED_PROXIES: '127.0.0.2, 10.0.0.0/8' } })
    const trusted = await startProxy(d.url, 'caddy')
    const untrusted = await startProxy(d.url, 'caddy', { localAddress: '127.0.0.3' })
    const other = await startProxy(d.url, 'caddy', { publicHost: 'other.example.com' })
    try {
      const admin = await adminOf(dir)
      expect((await fetch(`${trusted.url}/health`)).status).toBe(200)
      for (const p of [trusted, untrusted]) {
        await expectError(await fetch(`${p.url}/list`), 401, 'UNAUTHORIZED')
        await expectError(await upload(p.url, 'anonymous'), 401, 'UNAUTHORIZED')
        await expectError(await fetch(`${p.url}/tokens`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ name: 'x', scopes: ['admin'] }) }), 401, 'UNAUTHORIZED')
      }
      const w = await createToken(d.url, admin, { name: 'caddy-writer', scopes: ['write'] })
      // a browser page on https://node.example.com with a token: same origin by the forwarded host and proto
      const up = await upload(trusted.url, 'through caddy', { ...bearer(w.token), Origin: 'https://node.example.com' })
      expect(up.status).toBe(200)
      expect((await fetch(`${trusted.url}/list`, { headers: bearer(w.token) })).status).toBe(200)
      // a name that is not listed is still refused
      await expectError(await fetch(`${other.url}/list`, { headers: bearer(w.token) }), 403, 'FORBIDDEN')
      // direct local clients keep working without a token
      expect((await fetch(`${d.url}/list`)).status).toBe(200)
      const [entry] = await audit(d.url, admin, '&action=upload&limit=1')
      expect(entry.actor).toMatchObject({ ip: '198.51.100.7', via: '127.0.0.2', token_id: w.id })
    } finally {
      await trusted.close(); await untrusted.close(); await other.close(); await d.stop(); await dir.cleanup()
    }
  })
})

describe('audit: refused revoked and expired tokens are named (9b)', () => {
  let dir: Dir
  let d: DaemonProcess
  let admin = ''
  beforeAll(async () => {
    dir = await tempDir('openhash-rp-audit-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
    admin = await adminOf(dir)
  })
  afterAll(async () => { await d?.stop(); await dir?.cleanup() })

  it('a revoked and an expired token\'s refused requests carry the token\'s id, name and status', async () => {
    const revoked = await createToken(d.url, admin, { name: 'gone', scopes: ['write'] })
    expect((await fetch(`${d.url}/tokens/${revoked.id}/revoke`, { method: 'POST', headers: bearer(admin) })).status).toBe(200)
    const expired = await createToken(d.url, admin, { name: 'stale', scopes: ['write'], expires_in_s: 1 })
    await new Promise(resolve => setTimeout(resolve, 1100))
    await expectError(await upload(d.url, 'revoked', bearer(revoked.token)), 401, 'UNAUTHORIZED')
    await expectError(await upload(d.url, 'expired', bearer(expired.token)), 401, 'UNAUTHORIZED')
    // a wrong secret for a real id confirms nothing: anonymous
    await expectError(await upload(d.url, 'forged', bearer(`ohk_${revoked.id}_${'A'.repeat(43)}`)), 401, 'UNAUTHORIZED')
    const [forged, exp, rev] = await audit(d.url, admin, '&action=upload')
    expect(rev).toMatchObject({ status: 401, outcome: 'UNAUTHORIZED', actor: { token_id: revoked.id, token_name: 'gone', token_status: 'revoked', ip: '127.0.0.1' } })
    expect(exp).toMatchObject({ status: 401, outcome: 'UNAUTHORIZED', actor: { token_id: expired.id, token_name: 'stale', token_status: 'expired' } })
    expect(forged.actor).toEqual({ ip: '127.0.0.1' })
    // filtering by the token finds its refusals
    expect((await audit(d.url, admin, `&token_id=${revoked.id}`)).map((e: any) => e.status)).toContain(401)
  })
})

describe('config: api.trusted_proxies and api.allowed_hosts are validated', () => {
  it('a bad entry is a one-line error naming the key', async () => {
    const dir = await tempDir('openhash-rp-config-')
    try {
      const run = async (flag: string): Promise<string> => expectCleanError(await runCli(['daemon', '--no-network', '--api-port', '0', '-c', flag], { dataDir: dir.path, timeoutMs: 20_000 }))
      expect(await run('api.trusted_proxies=["localhost"]')).toMatch(/api\.trusted_proxies\.0: "localhost" is not an IP address or CIDR block/)
      expect(await run('api.trusted_proxies=["10.0.0.0/33"]')).toMatch(/prefix length must be 0-32/)
      expect(await run('api.allowed_hosts=["https://node.example.com"]')).toMatch(/api\.allowed_hosts\.0: .* is not a host name/)
    } finally {
      await dir.cleanup()
    }
  })
})
