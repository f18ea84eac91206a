/**
 * One declaration per route: every route registered on the app (app.routes)
 * was registered through Routes.route with a scope, a rate class and an audit
 * action (a route added with a bare app.get/app.post fails here); the table
 * the middleware reads holds exactly those routes; a wrong method answers 405
 * whose Allow names the route's methods, HEAD for GET routes and OPTIONS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/api/app.js'
import type { RouteSpec } from '../../src/api/route.js'
import { declarationOf, Routes } from '../../src/api/route.js'
import { ROUTES } from '../../src/api/routes/index.js'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

const SCOPES = ['none', 'public', 'read', 'write', 'admin', 'admin-always']
const RATES = ['none', 'upload', 'download', 'metadata']

/** A concrete path for a pattern: a 16-hex value for every parameter and wildcard. */
const concrete = (pattern: string): string => pattern.replace(/:[a-z]+/g, '0123456789abcdef').replace(/\*$/, 'x')

describe('route declarations', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  let app: ReturnType<typeof createApp>
  let admin: string
  beforeAll(async () => {
    dir = await tempDir()
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {}, overrides: {} }), 'routes test')
    admin = (await node.createToken({ name: 'routes', scopes: ['admin'] })).token
    const tokens = node.tokens
    app = createApp(node, { maxUploadBytes: 1024 * 1024, auth: { required: true, publicReads: false, loopbackOnly: false, authenticate: async (t) => await tokens.authenticate(t) } })
  })
  afterAll(async () => {
    await node?.close()
    await dir?.cleanup()
  })

  it('every route of the app declares its scope, rate class and audit action', () => {
    const routes = app.routes.filter(r => r.method !== 'ALL') // middleware is registered for ALL
    expect(routes.length).toBeGreaterThanOrEqual(30)
    for (const r of routes) {
      const spec = declarationOf(r.handler)
      expect(spec, `${r.method} ${r.path} has no declaration`).toBeDefined()
      const s = spec as RouteSpec
      expect([s.method, s.path]).toEqual([r.method, r.path])
      expect(SCOPES, `${r.method} ${r.path}`).toContain(s.scope)
      expect(RATES, `${r.method} ${r.path}`).toContain(s.rate)
      if (s.method === 'GET') expect(s.audit, `${r.method} ${r.path}`).toBe('none')
      else expect(s.audit, `${r.method} ${r.path}`).toMatchObject({ action: expect.stringMatching(/^[a-z.]+$/) })
    }
    // the table the middleware reads holds the same routes, no more
    expect(ROUTES.specs.map(s => `${s.method} ${s.path}`).sort()).toEqual(routes.map(r => `${r.method} ${r.path}`).sort())
  })

  it('a mutating route without an audit action is refused when it is declared', () => {
    expect(() => new Routes().route({ method: 'POST', path: '/x', scope: 'write', rate: 'metadata', audit: 'none' }, (c) => c.text('x'))).toThrow(/audit/)
  })

  it('the token and audit routes are admin in every mode; /tokens/self shows any token to itself', () => {
    for (const s of ROUTES.specs.filter(s => s.path.startsWith('/tokens') || s.path === '/audit')) {
      expect(s.scope, `${s.method} ${s.path}`).toBe(s.path === '/tokens/self' ? 'read' : 'admin-always')
    }
    // a wrong method on a token path is still an admin request
    expect(ROUTES.resolve('DELETE', '/tokens/0123456789abcdef').scope).toBe('admin-always')
    expect(ROUTES.resolve('POST', '/tokens/self').scope).toBe('admin-always')
  })

  it('a wrong method is 405 with Allow, HEAD included for GET routes', async () => {
    const methods = new Map<string, Set<string>>()
    for (const s of ROUTES.specs) methods.set(s.path, new Set([...(methods.get(s.path) ?? []), s.method]))
    for (const [pattern, declared] of methods) {
      const res = await app.request(concrete(pattern), { method: 'PATCH', headers: { authorization: `Bearer ${admin}` } })
      expect(res.status, `PATCH ${pattern}`).toBe(405)
      const body = await res.json() as { error_code: string }
      expect(body.error_code).toBe('METHOD_NOT_ALLOWED')
      const allow = (res.headers.get('allow') ?? '').split(', ')
      for (const m of declared) expect(allow, pattern).toContain(m)
      if (declared.has('GET')) expect(allow, pattern).toContain('HEAD')
      expect(allow.at(-1), pattern).toBe('OPTIONS')
    }
  })
})
