/**
 * The daemon as a module: started and stopped in-process, without the CLI.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig, processSettings } from '../src/config.js'
import { authPolicy, startDaemon } from '../src/daemon.js'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

async function config (overrides: Record<string, any> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'openhash-daemon-'))
  dirs.push(dir)
  return loadConfig({ dataDir: dir, env: {}, overrides: { api: { host: '127.0.0.1', port: 0, ...overrides.api }, network: { enabled: false, ...overrides.network } } })
}

describe('startDaemon', () => {
  it('serves the API, writes the admin token and lock, and stops releasing the store', async () => {
    const cfg = await config()
    const d = await startDaemon({ config: cfg })
    try {
      expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(d.authRequired).toBe(false)
      expect(d.peerId).toBeUndefined() // network off
      expect(d.admin?.first).toBe(true)
      expect(d.admin?.token).toMatch(/\S{20,}/)
      expect((await stat(d.admin!.file)).mode & 0o777).toBe(0o600)
      const health = await fetch(`${d.url}/health`)
      expect(health.status).toBe(200)
      const up = await fetch(`${d.url}/upload/file`, { method: 'POST', body: (() => { const f = new FormData(); f.append('file', new Blob(['hello daemon']), 'a.txt'); return f })() })
      expect(up.status).toBe(200)
      const lock = JSON.parse(await readFile(join(cfg.data_dir, 'lock.json'), 'utf8'))
      expect(lock.api).toBe(d.url)
    } finally {
      await d.stop(0)
    }
    await expect(fetch(`${d.url}/health`)).rejects.toThrow()
    // the store was closed: a second daemon opens it, and keeps the admin token (nothing new made or shown)
    const saved = await readFile(d.admin!.file, 'utf8')
    const again = await startDaemon({ config: cfg })
    try {
      expect(again.admin).toBeUndefined()
      expect(await readFile(d.admin!.file, 'utf8')).toBe(saved)
      const list = await (await fetch(`${again.url}/list`)).json() as any
      expect(JSON.stringify(list)).toContain('a.txt')
    } finally { await again.stop(0) }
  })

  it('starts the peer network on loopback and names its peer id', async () => {
    const cfg = await config({ network: { enabled: true, host: '127.0.0.1', port: 0, bootstrap: [], mdns: false } })
    const d = await startDaemon({ config: cfg })
    try {
      expect(d.peerId).toMatch(/^12D3Koo/)
      expect(d.node.net?.state().addresses.every((a: string) => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    } finally { await d.stop(0) }
  })

  it('refuses to serve beyond loopback with auth off, unless told to', async () => {
    const cfg = await config({ api: { host: '0.0.0.0', auth: 'off' } })
    await expect(startDaemon({ config: cfg })).rejects.toThrow(/refusing to serve the API on 0\.0\.0\.0/)
    expect(authPolicy(cfg, true)).toBe(false)
    expect(authPolicy({ ...cfg, api: { ...cfg.api, auth: 'auto' } })).toBe(true)
    expect(authPolicy({ ...cfg, api: { ...cfg.api, host: '127.0.0.1', auth: 'auto' } })).toBe(false)
  })

  it('a port in use is a clear error and leaves the store free', async () => {
    const cfg = await config()
    const first = await startDaemon({ config: cfg })
    const other = await config({ api: { port: first.port } })
    try {
      await expect(startDaemon({ config: other })).rejects.toThrow(/address already in use/)
      // the failed start closed its store: it opens again
      const ok = await startDaemon({ config: { ...other, api: { ...other.api, port: 0 } } })
      await ok.stop(0)
    } finally { await first.stop(0) }
  })
})

describe('processSettings', () => {
  it('reads the environment in one place', () => {
    expect(processSettings({})).toEqual({ api: undefined, token: undefined, debug: false, networkDebug: false, logNamespaces: 'openhash:*:error' })
    const s = processSettings({ OPENHASH_API: 'http://127.0.0.1:1', OPENHASH_TOKEN: '', OPENHASH_DEBUG: '1', DEBUG: 'openhash:*' })
    expect(s).toEqual({ api: 'http://127.0.0.1:1', token: undefined, debug: true, networkDebug: true, logNamespaces: 'openhash:*' })
  })
})
