/**
 * The request log: JSON lines (api.log_format json) that parse and carry
 * time, level, method, path, route, status, body bytes in and out (a chunked
 * upload's exact body size, a download's exact content size), duration,
 * client address and principal; levels from the outcome (5xx error, 4xx and
 * cut responses warn) filtered by api.log_level; secrets in query strings
 * masked; the text format unchanged; and a real daemon configured through
 * OPENHASH_API_* variables.
 */
import { request } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import type { LogFormat, LogLevel, RequestRecord } from '../../src/api/middleware/request-log.js'
import { formatRequest, levelOf, maskUrl } from '../../src/api/middleware/request-log.js'
import { startDaemon } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

const record = (over: Partial<RequestRecord> = {}): RequestRecord => ({
  time: new Date('2026-01-02T03:04:05.678Z'),
  method: 'GET',
  url: '/info/abc',
  route: '/info/:hash',
  status: 200,
  finished: true,
  bytesIn: 0,
  bytesOut: 42,
  durationMs: 1.23456,
  ip: '192.0.2.1',
  ...over
})

describe('formatRequest', () => {
  it('levels follow the outcome', () => {
    expect(levelOf({ status: 200, finished: true })).toBe('info')
    expect(levelOf({ status: 304, finished: true })).toBe('info')
    expect(levelOf({ status: 404, finished: true })).toBe('warn')
    expect(levelOf({ status: 429, finished: true })).toBe('warn')
    expect(levelOf({ status: 200, finished: false })).toBe('warn')
    expect(levelOf({ status: 500, finished: true })).toBe('error')
    expect(levelOf({ status: 503, finished: false })).toBe('error')
  })

  it('filters by level', () => {
    const cases: Array<[LogLevel, number[]]> = [
      ['debug', [200, 404, 500]], ['info', [200, 404, 500]], ['warn', [404, 500]], ['error', [500]], ['silent', []]
    ]
    for (const [min, shown] of cases) {
      const got = [200, 404, 500].filter(status => formatRequest(record({ status }), 'json', min) !== undefined)
      expect(got, min).toEqual(shown)
    }
  })

  it('writes one JSON object with the fields, the principal as token id and name', () => {
    const line = formatRequest(record({ method: 'POST', url: '/upload/file?x=1', route: '/upload/file', bytesIn: 1000, principal: { kind: 'token', id: 'tok1', name: 'ci' } }), 'json', 'info')!
    expect(line).not.toContain('\n')
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'info',
      msg: 'request',
      method: 'POST',
      path: '/upload/file',
      url: '/upload/file?x=1',
      route: '/upload/file',
      status: 200,
      bytes_in: 1000,
      bytes_out: 42,
      duration_ms: 1.235,
      ip: '192.0.2.1',
      principal: 'token:tok1',
      token_name: 'ci'
    })
    const anon = JSON.parse(formatRequest(record({ principal: { kind: 'anonymous' }, finished: false }), 'json', 'info')!)
    expect(anon).toMatchObject({ principal: 'anonymous', aborted: true, level: 'warn' })
    expect(anon.token_name).toBeUndefined()
  })

  it('masks tokens in query strings, in both formats', () => {
    expect(maskUrl('/download/ab?access_token=s3cret&format=raw')).toBe('/download/ab?access_token=REDACTED&format=raw')
    expect(maskUrl('/view/ab?x=1&token=abc')).toBe('/view/ab?x=1&token=REDACTED')
    for (const format of ['text', 'json'] as LogFormat[]) {
      const line = formatRequest(record({ url: '/download/ab?token=s3cret' }), format, 'info')!
      expect(line).not.toContain('s3cret')
    }
  })

  it('keeps the text format: time, address, method, url, status (! when cut), bytes, duration', () => {
    expect(formatRequest(record(), 'text', 'info')).toBe('2026-01-02T03:04:05.678Z 192.0.2.1 GET /info/abc 200 42 1.2ms')
    expect(formatRequest(record({ finished: false, ip: '' }), 'text', 'info')).toBe('2026-01-02T03:04:05.678Z - GET /info/abc 200! 42 1.2ms')
  })

  it('marks a request never answered (its client left first): status - in text, null and answered false in JSON', () => {
    const r = record({ finished: false, answered: false, status: 200, bytesOut: 0 })
    expect(formatRequest(r, 'text', 'info')).toBe('2026-01-02T03:04:05.678Z 192.0.2.1 GET /info/abc - 0 1.2ms')
    expect(JSON.parse(formatRequest(r, 'json', 'info')!)).toMatchObject({ level: 'warn', status: null, aborted: true, answered: false })
    // never answered is a warning even where the app had chosen a 5xx
    expect(levelOf({ status: 500, finished: false, answered: false })).toBe('warn')
    expect(formatRequest(r, 'text', 'error')).toBeUndefined()
  })
})

/** POST a multipart body with chunked transfer encoding (no Content-Length), in several writes. */
async function chunkedUpload (url: string, content: Buffer): Promise<{ status: number, body: any, sent: number }> {
  const boundary = 'logBOUNDARY'
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return await new Promise((resolve, reject) => {
    const req = request(`${url}/upload/file`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = ''
      res.on('data', (b: Buffer) => { text += b.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), sent: head.length + content.length + tail.length }))
    })
    req.on('error', reject)
    req.write(head)
    for (let i = 0; i < content.length; i += 7000) req.write(content.subarray(i, i + 7000))
    req.end(tail)
  })
}

describe('request log of a running server', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  const servers: RunningServer[] = []
  const lines: Record<string, string[]> = {}

  async function serve (name: string, logFormat: LogFormat, logLevel: LogLevel): Promise<string> {
    lines[name] = []
    const server = await startServer(node, { host: '127.0.0.1', port: 0, maxUploadBytes: 1 << 30, log: (l) => lines[name].push(l), logFormat, logLevel })
    servers.push(server)
    return server.url
  }

  /** The lines of `name` once there are at least `n` (lines are written when a response closes). */
  async function waitLines (name: string, n: number): Promise<string[]> {
    for (let i = 0; i < 100 && lines[name].length < n; i++) await new Promise(resolve => setTimeout(resolve, 20))
    return lines[name]
  }

  beforeAll(async () => {
    dir = await tempDir('openhash-log-')
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {} }), 'test api')
  })
  afterAll(async () => {
    for (const s of servers) await s.close(1000)
    await node?.close()
    await dir?.cleanup()
  })

  it('json at info: every request one parseable line with its fields and exact body bytes', async () => {
    const url = await serve('json', 'json', 'info')
    const content = prng(77)(50_000)
    const up = await chunkedUpload(url, content)
    expect(up.status).toBe(200)
    const down = await fetch(`${url}/download/${up.body.hash as string}?format=raw&access_token=s3cret`)
    expect(Buffer.from(await down.arrayBuffer()).equals(content)).toBe(true)
    expect((await fetch(`${url}/info/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const got = (await waitLines('json', 4)).map(l => JSON.parse(l))
    expect(got).toHaveLength(4)
    for (const l of got) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['time', 'level', 'msg', 'method', 'path', 'url', 'route', 'status', 'bytes_in', 'bytes_out', 'duration_ms', 'ip', 'principal']))
      expect(Number.isNaN(Date.parse(l.time))).toBe(false)
      expect(l.ip).toBe('127.0.0.1')
      expect(typeof l.duration_ms).toBe('number')
      expect(l.duration_ms).toBeGreaterThanOrEqual(0)
      expect(l.principal === null || l.principal === 'anonymous').toBe(true) // no tokens on this server
    }
    const [upload, download, missing, health] = got
    expect(upload).toMatchObject({ level: 'info', method: 'POST', path: '/upload/file', route: '/upload/file', status: 200, bytes_in: up.sent })
    expect(upload.bytes_out).toBeGreaterThan(100) // the JSON answer
    expect(download).toMatchObject({ level: 'info', method: 'GET', route: '/download/:hash', status: 200, bytes_in: 0, bytes_out: content.length, path: `/download/${up.body.hash as string}` })
    expect(download.url).toContain('access_token=REDACTED')
    expect(JSON.stringify(got)).not.toContain('s3cret')
    expect(missing).toMatchObject({ level: 'warn', route: '/info/:hash', status: 404 })
    expect(health).toMatchObject({ level: 'info', route: '/health', status: 200 })
  })

  it('a request whose client left before the answer is logged as never answered, not 200!', async () => {
    const url = await serve('gone', 'text', 'info')
    const json = await serve('gone-json', 'json', 'info')
    const count = async (): Promise<number> => (await node.stats()).storage.content_count
    const before = await count()
    for (const [name, base] of [['gone', url], ['gone-json', json]]) {
      const u = new URL(base)
      const s = connect(Number(u.port), u.hostname)
      s.on('error', () => {})
      await new Promise<void>(resolve => s.once('connect', () => resolve()))
      const boundary = 'goneBOUNDARY'
      const pre = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="g.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`
      // an upload that stops halfway, and a /health pipelined behind it (answered by the app, but
      // queued behind the upload's answer: none of it ever reaches the client)
      s.write(`POST /upload/file HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${pre.length + 200_000 + 40}\r\n\r\n${pre}`)
      s.write(prng(9)(100_000))
      await new Promise(resolve => setTimeout(resolve, 200))
      s.destroy()
      const got = await waitLines(name, 1)
      expect(got, name).toHaveLength(1)
    }
    expect(lines.gone[0]).toMatch(/^\S+Z 127\.0\.0\.1 POST \/upload\/file - \d+ [\d.]+ms$/)
    expect(JSON.parse(lines['gone-json'][0])).toMatchObject({ route: '/upload/file', status: null, answered: false, aborted: true, level: 'warn' })
    expect(await count()).toBe(before) // nothing of the halves was kept
  })

  it('pipelined requests queued behind one the client left are logged as never answered', async () => {
    const url = await serve('queued', 'text', 'info')
    const u = new URL(url)
    const s = connect(Number(u.port), u.hostname)
    s.on('error', () => {})
    await new Promise<void>(resolve => s.once('connect', () => resolve()))
    const boundary = 'qBOUNDARY'
    const pre = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="q.bin"\r\n\r\n`
    // an upload whose body never comes, then two /health behind it on the same connection
    s.write(`POST /upload/file HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${pre.length}\r\n\r\n${pre}`)
    s.write(`GET /health HTTP/1.1\r\nHost: ${u.host}\r\n\r\nGET /health HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
    await new Promise(resolve => setTimeout(resolve, 300))
    s.destroy()
    const got = await waitLines('queued', 3)
    expect(got).toHaveLength(3)
    for (const l of got) expect(l).toMatch(/ (POST \/upload\/file|GET \/health) - /)
    expect(got.join('\n')).not.toMatch(/ 200!? /)
  })

  it('warn shows only 4xx and 5xx; silent shows nothing; text keeps the one-line format', async () => {
    const warn = await serve('warn', 'json', 'warn')
    const silent = await serve('silent', 'json', 'silent')
    const text = await serve('text', 'text', 'info')
    for (const url of [warn, silent, text]) {
      expect((await fetch(`${url}/health`)).status).toBe(200)
      expect((await fetch(`${url}/nope`)).status).toBe(404)
    }
    const w = (await waitLines('warn', 1)).map(l => JSON.parse(l))
    const t = await waitLines('text', 2)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(w).toHaveLength(1)
    expect(w[0]).toMatchObject({ level: 'warn', status: 404, route: 'unmatched', path: '/nope' })
    expect(lines.silent).toEqual([])
    expect(t).toHaveLength(2)
    expect(t[0]).toMatch(/^\S+Z 127\.0\.0\.1 GET \/health 200 \d+ [\d.]+ms$/)
    expect(t[1]).toMatch(/^\S+Z 127\.0\.0\.1 GET \/nope 404 \d+ [\d.]+ms$/)
  })
})

describe('daemon request log settings', () => {
  it('OPENHASH_API_LOG_FORMAT=json writes JSON request lines on stdout; OPENHASH_API_LOG_LEVEL=warn drops the 200s', async () => {
    const dir = await tempDir('openhash-log-daemon-')
    const d = await startDaemon(dir.path, { args: ['--no-network'], env: { OPENHASH_API_LOG_FORMAT: 'json', OPENHASH_API_LOG_LEVEL: 'warn' } })
    try {
      expect((await fetch(`${d.url}/health`)).status).toBe(200)
      expect((await fetch(`${d.url}/info/${'0'.repeat(64)}`)).status).toBe(404)
      let requestLines: any[] = []
      for (let i = 0; i < 100 && requestLines.length === 0; i++) {
        await new Promise(resolve => setTimeout(resolve, 20))
        requestLines = d.output().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
      }
      expect(requestLines).toHaveLength(1)
      expect(requestLines[0]).toMatchObject({ msg: 'request', level: 'warn', method: 'GET', route: '/info/:hash', status: 404, ip: '127.0.0.1' })
      expect(d.output()).toMatch(/listening on http:\/\//) // the human start lines stay as they were
    } finally {
      await d.stop('SIGKILL')
      await dir.cleanup()
    }
  })
})
