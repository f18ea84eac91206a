/**
 * The HTTP server under abusive and slow clients, against real daemon child
 * processes (issue 13, parts 4, 5, 8, 9c):
 * - clients that disconnect mid-upload leave nothing behind: after gc the
 *   store is as before, the quota is not charged, RSS is back near its start;
 *   a stalled upload is aborted by shutdown (SIGTERM exits 0 in the grace);
 * - an upload idle for longer than api.idle_timeout_ms is cut with 408 and
 *   logged as such, one that keeps moving (slowly) is not;
 * - pipelined requests on a connection the client closed are not "in
 *   flight" forever: SIGTERM exits 0 promptly and the store is closed;
 * - a flood of pipelined unread requests on one connection is bounded
 *   (api.max_pipelined_requests) and /health keeps answering elsewhere.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

const MiB = 1024 * 1024
const BOUNDARY = 'abusiveboundary7'

function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

function hostPort (url: string): { host: string, port: number } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

async function open (url: string): Promise<Socket> {
  const { host, port } = hostPort(url)
  return await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, host, () => resolve(s))
    s.once('error', reject)
  })
}

/** A raw upload request's head and its multipart preamble, for a file of `size` bytes. */
function uploadHead (url: string, size: number): Buffer {
  const pre = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`
  const post = `\r\n--${BOUNDARY}--\r\n`
  const { host, port } = hostPort(url)
  return Buffer.from(`POST /upload/file HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${pre.length + size + post.length}\r\n\r\n${pre}`)
}

async function write (s: Socket, data: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => s.write(data, (err) => err == null ? resolve() : reject(err)))
}

async function json (url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, init)
  const body = await res.json()
  if (!res.ok) throw new Error(`${res.status}: ${JSON.stringify(body)}`)
  return body
}

async function upload (url: string, data: Buffer): Promise<{ status: number, body: any }> {
  const form = new FormData()
  form.append('file', new Blob([data]), 'f.bin')
  const res = await fetch(`${url}/upload/file`, { method: 'POST', body: form })
  return { status: res.status, body: await res.json() }
}

/** Resolves with the exit code, or 'timeout' if the process did not exit within ms. */
async function stopWithin (d: DaemonProcess, ms: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([d.stop('SIGTERM'), new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), ms) })])
  clearTimeout(timer)
  return result
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function daemon (env: Record<string, string> = {}): Promise<{ d: DaemonProcess, dir: string }> {
  const dir = await tempDir()
  const d = await startDaemon(dir.path, { args: ['--no-network'], env: { OPENHASH_API_RATE_LIMIT_ENABLED: 'false', ...env } })
  cleanups.push(async () => { d.proc.kill('SIGKILL'); await dir.cleanup() })
  return { d, dir: dir.path }
}

describe('clients that disconnect mid-upload', () => {
  it('leave nothing: after gc the store is as before, the quota is free, RSS is back', async () => {
    const { d } = await daemon({ OPENHASH_STORAGE_MAX_BYTES: String(24 * MiB) })
    const pid = d.proc.pid!
    // warm up: 5 concurrent uploads of the size the disconnects send (each upload has up to ~16 MiB
    // of read-ahead buffers while it runs), then gc, so RSS starts at the plateau of that load
    const warm = prng(1)(3 * MiB)
    const warmed = await Promise.all(Array.from({ length: 5 }, async () => await upload(d.url, warm)))
    for (const w of warmed) expect(w.status).toBe(200)
    await json(`${d.url}/gc`, { method: 'POST' })
    const before = (await json(`${d.url}/stats`)).storage
    const rssStart = rssMiB(pid)

    const gen = prng(2)
    for (let round = 0; round < 5; round++) {
      // 5 at a time, 25 in all: each sends its headers and 3 MiB of an 8 MiB file, then vanishes
      await Promise.all(Array.from({ length: 5 }, async () => {
        const s = await open(d.url)
        s.on('error', () => {})
        await write(s, uploadHead(d.url, 8 * MiB))
        await write(s, gen(3 * MiB))
        await sleep(300) // the daemon has read and stored (part of) it
        s.destroy()
      }))
    }
    await sleep(500)
    const gc = await json(`${d.url}/gc`, { method: 'POST' })
    const after = (await json(`${d.url}/stats`)).storage
    for (const k of ['content_count', 'chunk_count', 'stored_bytes', 'logical_bytes']) expect(after[k], `${k} (gc: ${JSON.stringify(gc)})`).toBe(before[k])
    const rssAfter = rssMiB(pid)
    // the quota is not charged: 20 of 24 MiB fit (the warm-up holds 3)
    const big = prng(3)(20 * MiB)
    const res = await upload(d.url, big)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.hash).toBe(createHash('sha256').update(big).digest('hex'))
    console.log(`disconnects: RSS ${rssStart.toFixed(1)} MiB at start, ${rssAfter.toFixed(1)} MiB after 25 disconnects and gc (${rssMiB(pid).toFixed(1)} MiB after a 20 MiB upload)`)
    expect(rssAfter).toBeLessThan(rssStart + 60)
    // every disconnect is logged as never answered, none as a 200
    const lines = d.output().split('\n').filter(l => l.includes('POST /upload/file'))
    expect(lines.filter(l => / POST \/upload\/file - /.test(l)).length).toBe(25)
    expect(await stopWithin(d, 15_000)).toBe(0)
  }, 90_000)

  it('a stalled upload is aborted by shutdown: SIGTERM exits 0 within the grace, the store is closed', async () => {
    const { d, dir } = await daemon({ OPENHASH_API_SHUTDOWN_GRACE_MS: '1000' })
    const s = await open(d.url)
    s.on('error', () => {})
    await write(s, uploadHead(d.url, 8 * MiB))
    await write(s, prng(4)(2 * MiB)) // then nothing: the client stalls, but stays connected
    await sleep(500)
    const started = Date.now()
    expect(await stopWithin(d, 8000)).toBe(0)
    const took = Date.now() - started
    console.log(`stalled upload: SIGTERM to exit ${took} ms (grace 1000 ms)`)
    expect(took).toBeLessThan(2500) // the grace, then the abort ends the upload at once (no fallback wait)
    expect(d.output()).toMatch(/ POST \/upload\/file (-|503) /) // ended by the shutdown: never answered, or 503
    expect(existsSync(join(dir, 'lock.json'))).toBe(false)
    s.destroy()
  }, 30_000)
})

describe('idle request bodies (api.idle_timeout_ms)', () => {
  it('an upload idle past the limit is answered 408 and logged; a slow moving one is stored', async () => {
    const { d } = await daemon({ OPENHASH_API_IDLE_TIMEOUT_MS: '1000' })
    const { host, port } = hostPort(d.url)
    const pre = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
    const post = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
    const send = async (size: number, pieces: Buffer[], gapMs: number, endIt: boolean): Promise<{ status: number, body: string }> => {
      return await new Promise((resolve, reject) => {
        const req = request({ host, port, path: '/upload/file', method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': pre.length + size + post.length } }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => { text += c })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        })
        req.on('error', reject)
        req.write(pre)
        let i = 0
        const next = (): void => {
          if (i < pieces.length) { req.write(pieces[i++]); setTimeout(next, gapMs); return }
          if (endIt) req.end(post)
        }
        next()
      })
    }
    // moving: 24 pieces 250 ms apart (6 s in all, far past the 1 s limit)
    const data = prng(5)(24 * 1024)
    const pieces = Array.from({ length: 24 }, (_, i) => data.subarray(i * 1024, (i + 1) * 1024))
    const moving = await send(data.length, pieces, 250, true)
    expect(moving.status, moving.body).toBe(200)
    expect(JSON.parse(moving.body).hash).toBe(createHash('sha256').update(data).digest('hex'))
    // idle: 1 KiB of 1 MiB, then nothing
    const started = Date.now()
    const idle = await send(MiB, [prng(6)(1024)], 0, false)
    const took = Date.now() - started
    expect(idle.status, idle.body).toBe(408)
    expect(JSON.parse(idle.body).error_code).toBe('REQUEST_TIMEOUT')
    expect(took).toBeLessThan(10_000) // answered, not hung
    await sleep(200)
    expect(d.output()).toMatch(/ POST \/upload\/file 200 /)
    expect(d.output()).toMatch(/ POST \/upload\/file 408 /)
    expect((await json(`${d.url}/stats`)).storage.content_count).toBe(1)
    expect(await stopWithin(d, 15_000)).toBe(0)
  }, 60_000)
})

describe('pipelined requests', () => {
  it('on a connection the client closed are not in flight: SIGTERM exits 0 promptly, lock.json is gone', async () => {
    const { d, dir } = await daemon({ OPENHASH_API_SHUTDOWN_GRACE_MS: '10000', OPENHASH_API_REQUEST_LOG: 'false' })
    const s = await open(d.url)
    s.on('error', () => {})
    const { host, port } = hostPort(d.url)
    const one = `GET /health HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`
    await write(s, Buffer.from(one.repeat(1000)))
    s.destroy()
    await sleep(1000)
    expect((await json(`${d.url}/health`)).status).toBe('healthy')
    const started = Date.now()
    const code = await stopWithin(d, 9000)
    const took = Date.now() - started
    console.log(`pipelined on a closed connection: SIGTERM to exit ${took} ms (grace 10000 ms)`)
    expect(code).toBe(0)
    expect(took).toBeLessThan(5000) // well within the 10 s grace: nothing is left in flight
    expect(existsSync(join(dir, 'lock.json'))).toBe(false)
  }, 30_000)

  it('a flood of unread pipelined requests on one connection is bounded; /health answers elsewhere', async () => {
    const { d } = await daemon({ OPENHASH_API_REQUEST_LOG: 'false' })
    const pid = d.proc.pid!
    const rssStart = rssMiB(pid)
    const s = await open(d.url)
    let closed = false
    s.on('error', () => {})
    s.on('close', () => { closed = true })
    s.pause() // never read an answer
    const { host, port } = hostPort(d.url)
    const batch = Buffer.from(`GET /health HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`.repeat(1000))
    let sent = 0
    const worst: number[] = []
    // up to 200,000 requests (the daemon closes the connection long before)
    while (!closed && sent < 200_000) {
      const ok = s.write(batch)
      sent += 1000
      if (!ok) await Promise.race([new Promise(resolve => s.once('drain', resolve)), sleep(200)])
      if (sent % 20_000 === 0) {
        const t = Date.now()
        expect((await json(`${d.url}/health`)).status).toBe('healthy')
        worst.push(Date.now() - t)
      }
    }
    await sleep(300)
    const t = Date.now()
    expect((await json(`${d.url}/health`)).status).toBe('healthy')
    worst.push(Date.now() - t)
    const rssEnd = rssMiB(pid)
    console.log(`pipelined flood: ${sent} requests written before the daemon closed the connection (closed: ${String(closed)}); RSS ${rssStart.toFixed(1)} → ${rssEnd.toFixed(1)} MiB; /health on another connection at most ${Math.max(...worst)} ms`)
    expect(closed).toBe(true) // the bound holds: the daemon closed the flooding connection
    expect(rssEnd).toBeLessThan(rssStart + 60)
    expect(Math.max(...worst)).toBeLessThan(3000)
    s.destroy()
    expect(await stopWithin(d, 15_000)).toBe(0)
  }, 60_000)
})
