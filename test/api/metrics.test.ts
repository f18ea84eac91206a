/**
 * GET /metrics on a real API server over loopback: after uploads, full and
 * ranged downloads, HEADs, 404s and a 405, the Prometheus text parses line by
 * line, counts requests by method, route pattern (never the raw path) and
 * status, has histogram buckets, body bytes in and out of at least the sizes
 * moved, store gauges equal to /stats, and the process metrics. Each app has
 * its own registry; api.metrics false turns the endpoint off.
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import { startServer } from '../../src/api/server.js'
import type { InProcessApi } from '../helpers/daemon.js'
import { startInProcessApi } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Exposition { samples: Sample[], help: Map<string, string>, type: Map<string, string> }

/** A strict parser of the Prometheus text format 0.0.4 (throws on any line it does not understand). */
function parse (text: string): Exposition {
  const samples: Sample[] = []
  const help = new Map<string, string>()
  const type = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (m !== null) { help.set(m[1], m[2]); continue }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (m !== null) { type.set(m[1], m[2]); continue }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|nan|[+-]?inf)(?: \d+)?$/i.exec(line) // Go's ParseFloat: NaN and Inf in any case
    if (m === null) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    if (m[2] !== undefined && m[2] !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g
      let consumed = 0
      for (let l = re.exec(m[2]); l !== null; l = re.exec(m[2])) { labels[l[1]] = l[2]; consumed += l[0].length }
      if (consumed !== m[2].length) throw new Error(`bad labels: ${line}`)
    }
    samples.push({ name: m[1], labels, value: /nan/i.test(m[3]) ? NaN : /inf/i.test(m[3]) ? (m[3].startsWith('-') ? -Infinity : Infinity) : Number(m[3]) })
  }
  return { samples, help, type }
}

function value (e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = e.samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)
  return s?.value
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const rand = prng(9090)
const big = rand(300 * 1024 + 17)
const small = rand(1000)

async function upload (url: string, bytes: Uint8Array, name: string): Promise<string> {
  const form = new FormData()
  form.append('file', new Blob([bytes]), name)
  const res = await fetch(`${url}/upload/file`, { method: 'POST', body: form })
  expect(res.status).toBe(200)
  return ((await res.json()) as { hash: string }).hash
}

async function scrape (url: string): Promise<{ res: Response, text: string, e: Exposition }> {
  const res = await fetch(`${url}/metrics`)
  const text = await res.text()
  return { res, text, e: parse(text) }
}

/** GET whose body is not read to the end: the client hangs up after the first bytes. */
async function cutDownload (url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.once('data', () => { req.destroy(); resolve() })
    })
    req.on('error', () => resolve())
    req.on('close', () => resolve())
    setTimeout(() => reject(new Error('no data')), 10_000).unref()
    req.end()
  })
}

describe('GET /metrics', () => {
  let api: InProcessApi
  let other: InProcessApi
  let dirs: Array<{ path: string, cleanup: () => Promise<void> }>
  let bigHash: string

  beforeAll(async () => {
    dirs = [await tempDir('openhash-metrics-'), await tempDir('openhash-metrics-other-')]
    api = await startInProcessApi(dirs[0].path)
    other = await startInProcessApi(dirs[1].path)
    bigHash = await upload(api.url, big, 'big.bin')
    expect(bigHash).toBe(sha(big))
    await upload(api.url, small, 'small.bin')
    const full = await fetch(`${api.url}/download/${bigHash}`)
    expect(Buffer.from(await full.arrayBuffer()).equals(big)).toBe(true)
    const part = await fetch(`${api.url}/download/${bigHash}`, { headers: { Range: 'bytes=0-99' } })
    expect(part.status).toBe(206)
    expect((await part.arrayBuffer()).byteLength).toBe(100)
    expect((await fetch(`${api.url}/download/${bigHash}`, { method: 'HEAD' })).status).toBe(200)
    expect((await fetch(`${api.url}/info/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${api.url}/info/${'1'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${api.url}/no/such/thing`)).status).toBe(404)
    expect((await fetch(`${api.url}/list`, { method: 'PUT' })).status).toBe(405)
    expect((await fetch(`${api.url}/pin/${bigHash}`, { method: 'POST' })).status).toBe(200)
    // a dozen /health requests to the other app only
    for (let i = 0; i < 12; i++) expect((await fetch(`${other.url}/health`)).status).toBe(200)
  })
  afterAll(async () => {
    await api?.close()
    await other?.close()
    for (const d of dirs ?? []) await d.cleanup()
  })

  it('answers the Prometheus text format, every line well formed, every family with HELP and TYPE', async () => {
    const { res, e } = await scrape(api.url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(e.samples.length).toBeGreaterThan(50)
    for (const s of e.samples) {
      const family = s.name.replace(/_(bucket|sum|count)$/, '')
      expect(e.type.has(s.name) || e.type.has(family), s.name).toBe(true)
      expect(e.help.has(s.name) || e.help.has(family), s.name).toBe(true)
      expect(s.name.startsWith('openhash_'), s.name).toBe(true)
    }
    expect(e.type.get('openhash_http_requests_total')).toBe('counter')
    expect(e.type.get('openhash_http_request_duration_seconds')).toBe('histogram')
  })

  it('counts requests by method, route pattern and status, never by raw path', async () => {
    const { text, e } = await scrape(api.url)
    const req = (method: string, route: string, status: string): number | undefined => value(e, 'openhash_http_requests_total', { method, route, status })
    expect(req('POST', '/upload/file', '200')).toBe(2)
    expect(req('GET', '/download/:hash', '200')).toBe(1)
    expect(req('GET', '/download/:hash', '206')).toBe(1)
    expect(req('HEAD', '/download/:hash', '200')).toBe(1)
    expect(req('GET', '/info/:hash', '404')).toBe(2)
    expect(req('GET', 'unmatched', '404')).toBe(1)
    expect(req('PUT', '/list', '405')).toBe(1)
    expect(req('POST', '/pin/:hash', '200')).toBe(1)
    expect(req('GET', '/health', '200')).toBeUndefined() // those went to the other app
    // no label carries a hash or an unknown path
    expect(text).not.toContain(bigHash)
    expect(text).not.toContain('0'.repeat(64))
    expect(text).not.toContain('/no/such/thing')
    const routes = new Set(e.samples.filter(s => s.labels.route !== undefined).map(s => s.labels.route))
    for (const r of routes) expect(r === 'unmatched' || r.startsWith('/'), r).toBe(true)
  })

  it('has latency histograms with cumulative buckets, +Inf equal to the count', async () => {
    const { e } = await scrape(api.url)
    const buckets = e.samples.filter(s => s.name === 'openhash_http_request_duration_seconds_bucket' && s.labels.method === 'POST' && s.labels.route === '/upload/file')
    expect(buckets.length).toBeGreaterThanOrEqual(10)
    const les = buckets.map(b => b.labels.le)
    expect(les).toContain('0.005')
    expect(les).toContain('1')
    expect(les[les.length - 1]).toBe('+Inf')
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value)
    expect(buckets[buckets.length - 1].value).toBe(2)
    expect(value(e, 'openhash_http_request_duration_seconds_count', { method: 'POST', route: '/upload/file' })).toBe(2)
    expect(value(e, 'openhash_http_request_duration_seconds_sum', { method: 'POST', route: '/upload/file' })).toBeGreaterThan(0)
  })

  it('counts body bytes in and out of at least the sizes moved, the bytes of a cut download too', async () => {
    const before = (await scrape(api.url)).e
    const inBytes = value(before, 'openhash_http_request_bytes_total', { method: 'POST', route: '/upload/file' }) ?? 0
    expect(inBytes).toBeGreaterThanOrEqual(big.length + small.length)
    expect(inBytes).toBeLessThan(big.length + small.length + 4096) // multipart framing only
    const outBytes = value(before, 'openhash_http_response_bytes_total', { method: 'GET', route: '/download/:hash' }) ?? 0
    expect(outBytes).toBe(big.length + 100) // bodies exactly: the full download and the range
    expect(value(before, 'openhash_http_response_bytes_total', { method: 'HEAD', route: '/download/:hash' })).toBeUndefined()

    await cutDownload(`${api.url}/download/${bigHash}`)
    let after = (await scrape(api.url)).e
    for (let i = 0; i < 50 && value(after, 'openhash_http_requests_total', { method: 'GET', route: '/download/:hash', status: '200' }) !== 2; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      after = (await scrape(api.url)).e
    }
    expect(value(after, 'openhash_http_requests_total', { method: 'GET', route: '/download/:hash', status: '200' })).toBe(2)
    const outAfter = value(after, 'openhash_http_response_bytes_total', { method: 'GET', route: '/download/:hash' }) ?? 0
    expect(outAfter).toBeGreaterThan(outBytes)
    expect(outAfter).toBeLessThanOrEqual(outBytes + big.length)
  })

  it('store, pin, peer and replication gauges equal what /stats and /network say', async () => {
    const stats = await (await fetch(`${api.url}/stats`)).json() as any
    const { e } = await scrape(api.url)
    const s = stats.storage
    expect(value(e, 'openhash_store_objects')).toBe(s.content_count)
    expect(value(e, 'openhash_store_objects')).toBe(2)
    expect(value(e, 'openhash_store_files')).toBe(s.file_count)
    expect(value(e, 'openhash_store_directories')).toBe(s.directory_count)
    expect(value(e, 'openhash_store_chunks')).toBe(s.chunk_count)
    expect(value(e, 'openhash_store_chunks')).toBeGreaterThan(0)
    expect(value(e, 'openhash_store_stored_bytes')).toBe(s.stored_bytes)
    expect(value(e, 'openhash_store_used_bytes')).toBe(s.used_bytes)
    expect(value(e, 'openhash_store_logical_bytes')).toBe(s.logical_bytes)
    expect(value(e, 'openhash_store_logical_bytes')).toBe(big.length + small.length)
    expect(value(e, 'openhash_store_max_bytes')).toBe(s.max_bytes)
    expect(value(e, 'openhash_pins')).toBe(stats.replication.pinned_content)
    expect(value(e, 'openhash_pins')).toBe(1)
    for (const [state, field] of [['pending', 'pending_requests'], ['in_progress', 'in_progress'], ['replicated', 'replicated'], ['failed', 'failed']]) {
      expect(value(e, 'openhash_replication_pins', { state }), state).toBe(stats.replication[field])
    }
    expect(value(e, 'openhash_replicas_held')).toBe(stats.replication.replicas_held)
    expect(value(e, 'openhash_replication_factor')).toBe(stats.replication.replication_factor)
    expect(value(e, 'openhash_peers_connected')).toBe(0) // no network in this process
    expect(value(e, 'openhash_dht_routing_table_size')).toBe(0)
  })

  it('includes the process metrics with the openhash_ prefix', async () => {
    const { e } = await scrape(api.url)
    expect(value(e, 'openhash_process_cpu_user_seconds_total')).toBeGreaterThan(0)
    expect(value(e, 'openhash_process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(e.samples.some(s => s.name === 'openhash_nodejs_eventloop_lag_seconds')).toBe(true)
  })

  it('keeps a registry per app: the other app saw only its own requests', async () => {
    const { e } = await scrape(other.url)
    expect(value(e, 'openhash_http_requests_total', { method: 'GET', route: '/health', status: '200' })).toBe(12)
    expect(value(e, 'openhash_http_requests_total', { method: 'POST', route: '/upload/file', status: '200' })).toBeUndefined()
    expect(value(e, 'openhash_store_objects')).toBe(0)
  })

  it('is a 404 when api.metrics is false', async () => {
    const dir = await tempDir('openhash-metrics-off-')
    const node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {} }), 'test api')
    const server = await startServer(node, { host: '127.0.0.1', port: 0, maxUploadBytes: 1024, metrics: false })
    try {
      const res = await fetch(`${server.url}/metrics`)
      expect(res.status).toBe(404)
      expect(((await res.json()) as any).message).toMatch(/api\.metrics/)
    } finally {
      await server.close(1000)
      await node.close()
      await dir.cleanup()
    }
  })
})
