/**
 * Serving the web UI (src/api/routes/ui.ts) and GET /stats/history
 * (routes/stats-history.ts) through the app, no socket: /ui/ is public with
 * its own CSP, hashed assets immutable, index.html revalidated, client paths
 * answer index.html, `GET /` sends browsers to /ui/ and API clients their JSON
 * 404; with auth on, the page loads without a token while the API still needs one.
 * Needs the built UI (dist/ui: `npm run build`, which `npm test` runs first).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Registry, Counter } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/api/app.js'
import { StatsHistory } from '../../src/api/routes/stats-history.js'
import { UI_CSP } from '../../src/api/routes/ui.js'
import { loadConfig, packageRoot } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

const HOST = { Host: '127.0.0.1:8080' }

describe('the web UI is served at /ui/', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  let app: ReturnType<typeof createApp>
  let admin: string
  const ctl = new AbortController()
  beforeAll(async () => {
    dir = await tempDir()
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {}, overrides: {} }), 'ui test')
    admin = (await node.createToken({ name: 'ui', scopes: ['admin'] })).token
    const tokens = node.tokens
    app = createApp(node, { maxUploadBytes: 1024 * 1024, signal: ctl.signal, auth: { required: true, publicReads: false, loopbackOnly: false, authenticate: async (t) => await tokens.authenticate(t) } })
  })
  afterAll(async () => {
    ctl.abort()
    await node?.close()
    await dir?.cleanup()
  })

  it('index.html: no token needed, strict CSP, no-cache, no inline script', async () => {
    const res = await app.request('/ui/', { headers: HOST })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('content-security-policy')).toBe(UI_CSP)
    expect(UI_CSP).toContain("script-src 'self'")
    expect(UI_CSP).toContain("frame-ancestors 'none'")
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    const html = await res.text()
    expect(html).toMatch(/<script type="module" crossorigin src="\/ui\/assets\/index-[\w-]+\.js"><\/script>/)
    // every script has a src (no inline code), and nothing comes from another origin
    expect(html.match(/<script\b[^>]*>/g)?.every(s => s.includes('src="/ui/'))).toBe(true)
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
  })

  it('hashed assets are immutable and typed; unknown assets are a JSON 404', async () => {
    const assets = await readdir(join(packageRoot(), 'dist', 'ui', 'assets'))
    expect(assets.some(a => a.endsWith('.js'))).toBe(true)
    for (const name of assets) {
      const res = await app.request(`/ui/assets/${name}`, { headers: HOST })
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect(res.headers.get('content-type')).toMatch(name.endsWith('.js') ? /^(text|application)\/javascript/ : /^text\/css/)
    }
    const missing = await app.request('/ui/assets/nope-123.js', { headers: HOST })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error_code: string }).error_code).toBe('ROUTE_NOT_FOUND')
    const sneaky = await app.request('/ui/assets/..%2F..%2Fpackage.json', { headers: HOST })
    expect(sneaky.status).toBe(404)
  })

  it('client paths answer index.html; /ui redirects to /ui/; a top-level file is itself', async () => {
    const deep = await app.request('/ui/files/abc', { headers: HOST })
    expect(deep.status).toBe(200)
    expect(await deep.text()).toContain('<div id="app">')
    const bare = await app.request('/ui', { headers: HOST })
    expect(bare.status).toBe(301)
    expect(bare.headers.get('location')).toBe('/ui/')
    const icon = await app.request('/ui/favicon.svg', { headers: HOST })
    expect(icon.status).toBe(200)
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/)
  })

  it('GET /: browsers go to /ui/ (302), API clients keep the JSON 404', async () => {
    const browser = await app.request('/', { headers: { ...HOST, Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } })
    expect(browser.status).toBe(302)
    expect(browser.headers.get('location')).toBe('/ui/')
    for (const accept of [undefined, 'application/json', '*/*']) {
      const api = await app.request('/', { headers: accept === undefined ? HOST : { ...HOST, Accept: accept } })
      expect(api.status).toBe(404)
      const body = await api.json()
      expect(body).toMatchObject({ error: 'Not Found', code: 404, error_code: 'ROUTE_NOT_FOUND' })
    }
  })

  it('the 405 machinery covers the new routes; the API behind the page still needs a token', async () => {
    const post = await app.request('/ui/', { method: 'POST', headers: HOST })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
    expect((await app.request('/stats', { headers: HOST })).status).toBe(401)
    expect((await app.request('/stats/history', { headers: HOST })).status).toBe(401)
    const ok = await app.request('/stats/history', { headers: { ...HOST, Authorization: `Bearer ${admin}` } })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ interval_s: 5, capacity: 720, samples: expect.any(Array) })
  })
})

describe('StatsHistory', () => {
  it('records rates from the counters, bounded, oldest first', async () => {
    const registry = new Registry()
    const reqs = new Counter({ name: 'openhash_http_requests_total', help: 'x', labelNames: ['route'], registers: [registry] })
    const inB = new Counter({ name: 'openhash_http_request_bytes_total', help: 'x', labelNames: ['route'], registers: [registry] })
    const outB = new Counter({ name: 'openhash_http_response_bytes_total', help: 'x', registers: [registry] })
    const h = new StatsHistory(registry, { intervalMs: 1000, capacity: 3 })
    const t0 = Date.UTC(2026, 0, 1)
    await h.sample(t0)
    expect(h.samples()).toEqual([]) // the first read is the baseline
    for (let i = 1; i <= 5; i++) {
      reqs.inc({ route: '/a' }, 2 * i)
      reqs.inc({ route: '/b' }, 1)
      inB.inc({ route: '/a' }, 1000 * i)
      outB.inc(500)
      await h.sample(t0 + i * 2000) // every 2 s
    }
    const s = h.samples()
    expect(s).toHaveLength(3)
    expect(s.map(x => x.time)).toEqual([3, 4, 5].map(i => new Date(t0 + i * 2000).toISOString()))
    expect(s.map(x => x.requests_per_s)).toEqual([3.5, 4.5, 5.5]) // (2i + 1) / 2 s
    expect(s.map(x => x.bytes_in_per_s)).toEqual([1500, 2000, 2500])
    expect(s.map(x => x.bytes_out_per_s)).toEqual([250, 250, 250])
  })

  it('starts and stops its timer', () => {
    const h = new StatsHistory(new Registry(), { intervalMs: 10_000 })
    const ctl = new AbortController()
    h.start(ctl.signal)
    ctl.abort()
    expect((h as unknown as { timer?: unknown }).timer).toBeUndefined()
  })
})
