/**
 * Access control over real daemon processes on loopback: the admin token of
 * the first start, every token operation (HTTP and CLI), scopes, both auth
 * modes, public reads, the access_token form field, browser safety (cross-
 * origin changes, DNS rebinding, sandboxed content) and the audit trail.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliJson, expectCleanError, runCli } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { tempDir } from '../helpers/tmp.js'
import { until } from '../helpers/net.js'

interface Dir { path: string, cleanup: () => Promise<void> }

async function upload (url: string, content: string, headers: Record<string, string> = {}, fields: Record<string, string> = {}, fieldsAfter = false): Promise<Response> {
  const form = new FormData()
  if (!fieldsAfter) for (const [k, v] of Object.entries(fields)) form.append(k, v)
  form.append('file', new Blob([content]), 'a.txt')
  if (fieldsAfter) for (const [k, v] of Object.entries(fields)) form.append(k, v)
  return await fetch(`${url}/upload/file`, { method: 'POST', body: form, headers })
}

const bearer = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` })

async function json (res: Response): Promise<any> { return await res.json() }

async function createToken (url: string, admin: string, body: Record<string, unknown>): Promise<{ token: string, id: string, [k: string]: unknown }> {
  const res = await fetch(`${url}/tokens`, { method: 'POST', headers: { ...bearer(admin), 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  expect(res.status).toBe(201)
  return await json(res)
}

async function expectError (res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status)
  const body = await json(res)
  expect(body).toMatchObject({ code: status, error_code: code })
  expect(typeof body.message).toBe('string')
  expect(typeof body.timestamp).toBe('string')
  return body
}

describe('auth on: tokens and scopes', () => {
  let dir: Dir
  let d: DaemonProcess
  let admin = ''

  beforeAll(async () => {
    dir = await tempDir('openhash-auth-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
    admin = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
  })
  afterAll(async () => { await d?.stop(); await dir?.cleanup() })

  it('the first start creates an admin token: printed once, kept with mode 0600', async () => {
    expect(admin).toMatch(/^ohk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    await until('the banner', () => d.output().includes('Peer network'))
    expect(d.output()).toContain(admin)
    expect((await stat(join(dir.path, 'admin.token'))).mode & 0o777).toBe(0o600)
    const self = await json(await fetch(`${d.url}/tokens/self`, { headers: bearer(admin) }))
    expect(self).toMatchObject({ name: 'admin', scopes: ['admin'], status: 'active' })
  })

  it('401 without a token or with a bad one, in the error JSON, with WWW-Authenticate', async () => {
    const r1 = await fetch(`${d.url}/list`)
    await expectError(r1, 401, 'UNAUTHORIZED')
    expect(r1.headers.get('www-authenticate')).toMatch(/^Bearer/)
    await expectError(await fetch(`${d.url}/list`, { headers: bearer('ohk_0123456789abcdef_' + 'A'.repeat(43)) }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${d.url}/list`, { headers: bearer('not-a-token') }), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${d.url}/list`, { headers: { Authorization: 'Basic abc' } }), 401, 'UNAUTHORIZED')
    await expectError(await upload(d.url, 'no token'), 401, 'UNAUTHORIZED')
    // health and the docs stay open
    expect((await fetch(`${d.url}/health`)).status).toBe(200)
    expect((await fetch(`${d.url}/openapi.json`)).status).toBe(200)
  })

  it('scopes: read reads, write writes, admin administers; 403 otherwise', async () => {
    const read = await createToken(d.url, admin, { name: 'reader', scopes: ['read'] })
    const write = await createToken(d.url, admin, { email: 'app@example.com', scopes: 'write' })
    expect(read).toMatchObject({ name: 'reader', scopes: ['read'], status: 'active', usage_count: 0 })
    expect(write).toMatchObject({ name: 'app@example.com', email: 'app@example.com', scopes: ['write'] })

    expect((await fetch(`${d.url}/list`, { headers: bearer(read.token) })).status).toBe(200)
    await expectError(await upload(d.url, 'r', bearer(read.token)), 403, 'FORBIDDEN')
    const up = await upload(d.url, 'written', bearer(write.token))
    expect(up.status).toBe(200)
    const hash = (await json(up)).hash
    await expectError(await fetch(`${d.url}/pin/${hash}`, { method: 'POST', headers: bearer(read.token) }), 403, 'FORBIDDEN')
    expect((await fetch(`${d.url}/pin/${hash}`, { method: 'POST', headers: bearer(write.token) })).status).toBe(200)
    // write includes read
    expect((await fetch(`${d.url}/info/${hash}`, { headers: bearer(write.token) })).status).toBe(200)
    // admin routes
    for (const path of ['/tokens', '/audit', `/tokens/${read.id}`]) {
      await expectError(await fetch(`${d.url}${path}`, { headers: bearer(write.token) }), 403, 'FORBIDDEN')
    }
    await expectError(await fetch(`${d.url}/gc`, { method: 'POST', headers: bearer(write.token) }), 403, 'FORBIDDEN')
    expect((await fetch(`${d.url}/gc`, { method: 'POST', headers: bearer(admin) })).status).toBe(200)
  })

  it('list, inspect, revoke, reactivate, renew; usage counted; only hashes stored', async () => {
    const t = await createToken(d.url, admin, { name: 'cycle', scopes: ['read'], expires_in_s: 3600 })
    expect(Date.parse(t.expires_at as string) - Date.now()).toBeGreaterThan(3500_000)
    for (let i = 0; i < 3; i++) expect((await fetch(`${d.url}/stats`, { headers: bearer(t.token) })).status).toBe(200)
    const info = await json(await fetch(`${d.url}/tokens/${t.id}`, { headers: bearer(admin) }))
    expect(info).toMatchObject({ id: t.id, status: 'active', usage_count: 3 })
    expect(typeof info.last_used_at).toBe('string')
    expect(info.token).toBeUndefined()
    const all = (await json(await fetch(`${d.url}/tokens`, { headers: bearer(admin) }))).tokens
    expect(all.map((x: any) => x.id)).toContain(t.id)
    expect(JSON.stringify(all)).not.toContain(t.token)

    const revoked = await json(await fetch(`${d.url}/tokens/${t.id}/revoke`, { method: 'POST', headers: bearer(admin) }))
    expect(revoked.status).toBe('revoked')
    const body = await expectError(await fetch(`${d.url}/stats`, { headers: bearer(t.token) }), 401, 'UNAUTHORIZED')
    expect(body.message).toMatch(/revoked/)
    expect((await json(await fetch(`${d.url}/tokens/${t.id}/reactivate`, { method: 'POST', headers: bearer(admin) }))).status).toBe('active')
    expect((await fetch(`${d.url}/stats`, { headers: bearer(t.token) })).status).toBe(200)

    const renewed = await json(await fetch(`${d.url}/tokens/${t.id}/renew`, { method: 'POST', headers: bearer(admin) }))
    expect(renewed.id).toBe(t.id)
    expect(renewed.token).not.toBe(t.token)
    expect(typeof renewed.renewed_at).toBe('string')
    await expectError(await fetch(`${d.url}/stats`, { headers: bearer(t.token) }), 401, 'UNAUTHORIZED')
    expect((await fetch(`${d.url}/stats`, { headers: bearer(renewed.token) })).status).toBe(200)

    // unknown ids and bad input are clean errors
    await expectError(await fetch(`${d.url}/tokens/0123456789abcdef`, { headers: bearer(admin) }), 404, 'NOT_FOUND')
    await expectError(await fetch(`${d.url}/tokens/xyz`, { headers: bearer(admin) }), 400, 'INVALID_ARGUMENT')
    for (const bad of [{ scopes: ['root'], name: 'x' }, { scopes: ['read'] }, { name: 'x', scopes: ['read'], expires_in_s: -1 }, { name: 'x', email: 'nope', scopes: ['read'] }]) {
      await expectError(await fetch(`${d.url}/tokens`, { method: 'POST', headers: { ...bearer(admin), 'Content-Type': 'application/json' }, body: JSON.stringify(bad) }), 400, 'INVALID_ARGUMENT')
    }
    await expectError(await fetch(`${d.url}/tokens`, { method: 'POST', headers: { ...bearer(admin), 'Content-Type': 'application/json' }, body: '{nope' }), 400, 'INVALID_ARGUMENT')

    // the store keeps hashes only: no token secret appears in any file but admin.token
    await d.stop()
    // the secret: everything after ohk_<16 hex>_ (it may itself contain '_')
    const secrets = [t.token, renewed.token].map(s => s.slice('ohk_'.length + 17))
    for (const sec of secrets) expect(sec).toHaveLength(43)
    const files = (await readdir(dir.path, { recursive: true, withFileTypes: true })).filter(e => e.isFile() && e.name !== 'admin.token')
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) {
      const bytes = await readFile(join((f as any).parentPath ?? (f as any).path, f.name))
      for (const s of secrets) expect(bytes.includes(Buffer.from(s)), f.name).toBe(false)
    }
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
    // a restart keeps the tokens and prints no new admin token
    expect(d.output()).not.toMatch(/Admin token/)
    expect((await fetch(`${d.url}/stats`, { headers: bearer(renewed.token) })).status).toBe(200)
  })

  it('uploads accept the access_token form field (before the file), as the access-token guide sends it', async () => {
    const write = await createToken(d.url, admin, { name: 'form', scopes: ['write'] })
    const read = await createToken(d.url, admin, { name: 'form-read', scopes: ['read'] })
    const ok = await upload(d.url, 'via form', {}, { access_token: write.token })
    expect(ok.status).toBe(200)
    expect((await json(ok)).filename).toBe('a.txt')
    await expectError(await upload(d.url, 'read only', {}, { access_token: read.token }), 403, 'FORBIDDEN')
    await expectError(await upload(d.url, 'bad', {}, { access_token: 'ohk_0123456789abcdef_' + 'B'.repeat(43) }), 401, 'UNAUTHORIZED')
    // a token after the file comes too late: the file was never accepted
    await expectError(await upload(d.url, 'late token', {}, { access_token: write.token }, true), 401, 'UNAUTHORIZED')
    const list = await json(await fetch(`${d.url}/list`, { headers: bearer(admin) }))
    expect(list.map((i: any) => i.size)).not.toContain('late token'.length)
  })

  it('the CLI: token commands through the daemon with --token, and a clear error without one', async () => {
    const env = { OPENHASH_DATA_DIR: undefined as unknown as string }
    const created = await cliJson(['--api', d.url, '--token', admin, 'token', 'create', '-n', 'cli', '-s', 'read,write', '--expires', '1d'], { env })
    expect(created).toMatchObject({ name: 'cli', scopes: ['read', 'write'], status: 'active' })
    const shown = await cliJson(['--api', d.url, '--token', admin, 'token', 'show', created.id], { env })
    expect(shown.id).toBe(created.id)
    expect((await cliJson(['--api', d.url, '--token', admin, 'token', 'revoke', created.id], { env })).status).toBe('revoked')
    expect((await cliJson(['--api', d.url, '--token', admin, 'token', 'reactivate', created.id], { env })).status).toBe('active')
    const renewed = await cliJson(['--api', d.url, '--token', admin, 'token', 'renew', created.id], { env })
    expect(renewed.token).not.toBe(created.token)
    const list = await cliJson(['--api', d.url, '--token', renewed.token, 'list'], { env })
    expect(Array.isArray(list)).toBe(true)
    expectCleanError(await runCli(['--api', d.url, 'list'], { env }), /needs a token/)
    expectCleanError(await runCli(['--api', d.url, '--token', renewed.token, 'token', 'list'], { env }), /lacks the admin scope/)
    // the CLI of the daemon's own data directory finds the admin token by itself
    const viaLock = await cliJson(['token', 'list'], { dataDir: dir.path })
    expect(viaLock.map((t: any) => t.id)).toContain(created.id)
  })

  it('the audit log records every change and every refused attempt, for admins only', async () => {
    const w = await createToken(d.url, admin, { name: 'audited', scopes: ['write'] })
    const up = await json(await upload(d.url, 'audited content', bearer(w.token)))
    await expectError(await upload(d.url, 'refused'), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${d.url}/gc`, { method: 'POST', headers: bearer(w.token) }), 403, 'FORBIDDEN')
    const res = await fetch(`${d.url}/audit?limit=10`, { headers: bearer(admin) })
    expect(res.status).toBe(200)
    const entries = (await json(res)).entries
    const [gc, refused, ok] = entries
    expect(gc).toMatchObject({ action: 'gc', status: 403, outcome: 'FORBIDDEN', actor: { token_id: w.id, token_name: 'audited', ip: '127.0.0.1' } })
    expect(refused).toMatchObject({ action: 'upload.file', status: 401, outcome: 'UNAUTHORIZED', actor: { ip: '127.0.0.1' } })
    expect(refused.actor.token_id).toBeUndefined()
    expect(ok).toMatchObject({ action: 'upload.file', status: 200, outcome: 'ok', target: up.hash, actor: { token_id: w.id } })
    expect(Date.parse(ok.time)).toBeLessThanOrEqual(Date.parse(gc.time))
    // token operations are audited with their target
    const creates = (await json(await fetch(`${d.url}/audit?action=token.create&limit=100`, { headers: bearer(admin) }))).entries
    expect(creates.map((e: any) => e.target)).toContain(w.id)
    // filtered by token, paged with before
    const mine = (await json(await fetch(`${d.url}/audit?token_id=${w.id}`, { headers: bearer(admin) }))).entries
    expect(mine.every((e: any) => e.actor.token_id === w.id)).toBe(true)
    const page = (await json(await fetch(`${d.url}/audit?limit=1&before=${encodeURIComponent(gc.id)}`, { headers: bearer(admin) }))).entries
    expect(page[0].id).toBe(refused.id)
    // reads are not audited
    expect(entries.some((e: any) => e.method === 'GET')).toBe(false)
    await expectError(await fetch(`${d.url}/audit`, { headers: bearer(w.token) }), 403, 'FORBIDDEN')
    await expectError(await fetch(`${d.url}/audit?limit=abc`, { headers: bearer(admin) }), 400, 'INVALID_ARGUMENT')
    // and the CLI shows it
    const cli = await cliJson(['--api', d.url, '--token', admin, 'audit', '--limit', '3'], { env: { OPENHASH_DATA_DIR: undefined as unknown as string } })
    expect(cli).toHaveLength(3)
    expect(cli.map((e: any) => e.id)).toContain(gc.id)
  })
})

describe('auth on with public reads', () => {
  let dir: Dir
  let d: DaemonProcess
  let admin = ''
  beforeAll(async () => {
    dir = await tempDir('openhash-auth-pub-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on', '-c', 'api.public_reads=true'] })
    admin = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
  })
  afterAll(async () => { await d?.stop(); await dir?.cleanup() })

  it('/view, /download and /info need no token; listing, stats and writes still do', async () => {
    const hash = (await json(await upload(d.url, '<h1>public</h1>', bearer(admin)))).hash
    for (const path of [`/view/${hash}`, `/download/${hash}`, `/info/${hash}`]) expect((await fetch(`${d.url}${path}`)).status, path).toBe(200)
    expect(await (await fetch(`${d.url}/download/${hash}`)).text()).toBe('<h1>public</h1>')
    for (const path of ['/list', '/stats', '/pins']) await expectError(await fetch(`${d.url}${path}`), 401, 'UNAUTHORIZED')
    await expectError(await upload(d.url, 'anon'), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${d.url}/pin/${hash}`, { method: 'POST' }), 401, 'UNAUTHORIZED')
  })
})

describe('auth off (the loopback default): browser safety', () => {
  let dir: Dir
  let d: DaemonProcess
  beforeAll(async () => {
    dir = await tempDir('openhash-auth-off-')
    d = await startDaemon(dir.path, { args: ['--no-network'] })
  })
  afterAll(async () => { await d?.stop(); await dir?.cleanup() })

  it('no token needed from a local client', async () => {
    await until('the banner', () => /Auth: /.test(d.output()))
    expect(d.output()).toMatch(/Auth: off/)
    const up = await upload(d.url, 'local')
    expect(up.status).toBe(200)
    expect((await fetch(`${d.url}/list`)).status).toBe(200)
  })

  it('a cross-origin request that changes something is refused without a token; reads are not', async () => {
    const before = await json(await fetch(`${d.url}/list`))
    const evil = { Origin: 'https://evil.example' }
    await expectError(await upload(d.url, 'csrf', evil), 403, 'FORBIDDEN')
    await expectError(await upload(d.url, 'csrf', { 'Sec-Fetch-Site': 'cross-site' }), 403, 'FORBIDDEN')
    const hash = before[0].hash
    await expectError(await fetch(`${d.url}/pin/${hash}`, { method: 'POST', headers: evil }), 403, 'FORBIDDEN')
    await expectError(await fetch(`${d.url}/unpin/${hash}`, { method: 'DELETE', headers: { Origin: 'null' } }), 403, 'FORBIDDEN')
    await expectError(await fetch(`${d.url}/gc`, { method: 'POST', headers: evil }), 403, 'FORBIDDEN')
    await expectError(await fetch(`${d.url}/tokens`, { headers: evil }), 403, 'FORBIDDEN')
    // and even same-origin, with auth off, the token and audit routes need the admin token
    await expectError(await fetch(`${d.url}/tokens`), 401, 'UNAUTHORIZED')
    await expectError(await fetch(`${d.url}/audit`), 401, 'UNAUTHORIZED')
    // nothing changed
    expect(await json(await fetch(`${d.url}/list`))).toEqual(before)
    expect(await json(await fetch(`${d.url}/pins`))).toEqual({})
    // content and metadata stay readable cross-origin (CORS *)
    const r = await fetch(`${d.url}/info/${hash}`, { headers: evil })
    expect(r.status).toBe(200)
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    // the API's own origin, and a cross-origin request with a token, are fine
    expect((await upload(d.url, 'same origin', { Origin: d.url })).status).toBe(200)
    const admin = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
    expect((await upload(d.url, 'with token', { ...evil, ...bearer(admin) })).status).toBe(200)
  })

  it('a Host that is not loopback is refused (DNS rebinding); served HTML is sandboxed', async () => {
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${d.url}/list`)
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { Host: 'attacker.example:80' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
    const hash = (await json(await upload(d.url, '<script>fetch("/gc",{method:"POST"})</script>'))).hash
    const res = await fetch(`${d.url}/view/${hash}`)
    expect(res.headers.get('content-security-policy')).toMatch(/^sandbox\b/)
    expect(res.headers.get('content-security-policy')).not.toMatch(/allow-same-origin/)
  })

  it('refuses to listen beyond loopback with auth off, unless forced', async () => {
    const r = await runCli(['daemon', '--api-host', '0.0.0.0', '--api-port', '0', '--no-network', '-c', 'api.auth=off'], { dataDir: dir.path, timeoutMs: 20_000 })
    expectCleanError(r, /refusing to serve the API on 0\.0\.0\.0 with authentication off/)
  })
})

describe('rate limits count per token, and refusals are audited', () => {
  let dir: Dir
  let d: DaemonProcess
  let admin = ''
  beforeAll(async () => {
    dir = await tempDir('openhash-auth-rl-')
    d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on', '-c', 'api.rate_limit_loopback=true', '-c', 'api.rate_limit_upload_per_min=2'] })
    admin = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
  })
  afterAll(async () => { await d?.stop(); await dir?.cleanup() })

  it('each token has its own budget; a 429 names the token in the audit log', async () => {
    const a = await createToken(d.url, admin, { name: 'rl-a', scopes: ['write'] })
    const b = await createToken(d.url, admin, { name: 'rl-b', scopes: ['write'] })
    for (let i = 0; i < 2; i++) expect((await upload(d.url, `a${i}`, bearer(a.token))).status).toBe(200)
    const limited = await upload(d.url, 'a2', bearer(a.token))
    await expectError(limited, 429, 'RATE_LIMITED')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // b, from the same address, is not affected
    expect((await upload(d.url, 'b0', bearer(b.token))).status).toBe(200)
    const entries = (await json(await fetch(`${d.url}/audit?token_id=${a.id}`, { headers: bearer(admin) }))).entries
    expect(entries[0]).toMatchObject({ action: 'upload.file', status: 429, outcome: 'RATE_LIMITED', actor: { token_id: a.id, token_name: 'rl-a' } })
  })
})

describe('tokens in process (no daemon): the data directory is the root of trust', () => {
  it('create, list, revoke with the CLI on a stopped daemon\'s store; the daemon then honours them', async () => {
    const dir = await tempDir('openhash-auth-local-')
    try {
      const created = await cliJson(['token', 'create', '-n', 'offline', '-s', 'admin'], { dataDir: dir.path })
      expect(created).toMatchObject({ name: 'offline', scopes: ['admin'], status: 'active' })
      expect((await cliJson(['token', 'list'], { dataDir: dir.path })).map((t: any) => t.id)).toEqual([created.id])
      expectCleanError(await runCli(['token', 'show', 'nothex'], { dataDir: dir.path }), /no such token|invalid token id/)
      expectCleanError(await runCli(['token', 'create', '-n', 'x', '-s', 'root'], { dataDir: dir.path }), /unknown scope "root"/)
      // a store that already has a token prints no admin token at the daemon's first start, but the
      // local CLI's admin.token is created (the token and audit routes need an admin token in every mode)
      let d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
      let local = ''
      try {
        await until('the banner', () => d.output().includes('Peer network'))
        expect(d.output()).not.toMatch(/Admin token \(shown once/)
        local = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
        expect(local).toMatch(/^ohk_[0-9a-f]{16}_/)
        expect(d.output()).not.toContain(local)
        expect(d.output()).toMatch(/New admin token for the local CLI saved with mode 0600/)
        expect((await stat(join(dir.path, 'admin.token'))).mode & 0o777).toBe(0o600)
        expect((await fetch(`${d.url}/tokens`, { headers: bearer(created.token) })).status).toBe(200)
        expect((await fetch(`${d.url}/tokens/self`, { headers: bearer(local) })).status).toBe(200)
        expect((await cliJson(['token', 'list'], { dataDir: dir.path })).map((t: any) => t.name)).toEqual(['offline', 'local CLI admin'])
        // revoked: the next start replaces it
        const id = local.slice(4, 20)
        expect((await fetch(`${d.url}/tokens/${id}/revoke`, { method: 'POST', headers: bearer(created.token) })).status).toBe(200)
      } finally {
        await d.stop()
      }
      d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
      try {
        const again = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
        expect(again).not.toBe(local)
        expect((await fetch(`${d.url}/tokens`, { headers: bearer(again) })).status).toBe(200)
        // a valid file is kept as it is
        await d.stop()
        d = await startDaemon(dir.path, { args: ['--no-network', '-c', 'api.auth=on'] })
        expect((await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()).toBe(again)
        expect(d.output()).not.toMatch(/New admin token/)
      } finally {
        await d.stop()
      }
      expect((await cliJson(['token', 'revoke', created.id], { dataDir: dir.path })).status).toBe('revoked')
    } finally {
      await dir.cleanup()
    }
  })
})
