/**
 * `openhash daemon` as a process: port 0, the address file, request log,
 * CLI auto-detection, clean errors, and graceful shutdown (in-flight
 * requests finish; unfinished uploads roll back; the store closes cleanly).
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { cliJson, expectCleanError, expectOk, runCli, uploadedHash } from '../helpers/cli.js'
import { prng, tempDir } from '../helpers/tmp.js'
import { createHash } from 'node:crypto'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function fresh (): Promise<string> {
  const d = await tempDir('openhash-daemon-')
  cleanups.push(d.cleanup)
  return d.path
}

async function daemon (dataDir: string, args: string[] = []): Promise<DaemonProcess> {
  const d = await startDaemon(dataDir, { args })
  cleanups.push(async () => await d.stop('SIGKILL'))
  return d
}

/**
 * Start a multipart upload by hand and keep it open: returns a function that
 * sends the rest and resolves with the response (status and body).
 */
function slowUpload (url: string, bytes: Buffer, name: string): { sendRest: () => Promise<{ status: number, body: any }>, response: Promise<{ status: number, body: any }>, sentHead: Promise<void> } {
  const boundary = 'slowBOUNDARY'
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const half = Math.floor(bytes.length / 2)
  const req = request(`${url}/upload/file`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + bytes.length + tail.length } })
  const response = new Promise<{ status: number, body: any }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = ''
      res.on('data', (b: Buffer) => { text += b.toString() })
      res.on('end', () => { try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }) } catch (e) { reject(e) } })
    })
    req.on('error', reject)
  })
  response.catch(() => {})
  const sentHead = new Promise<void>(resolve => req.write(Buffer.concat([head, bytes.subarray(0, half)]), () => resolve()))
  return {
    sentHead,
    response,
    sendRest: async () => {
      req.end(Buffer.concat([bytes.subarray(half), tail]))
      return await response
    }
  }
}

describe('openhash daemon', () => {
  it('port 0 picks a free port and prints it; the address is recorded for the CLI; one log line per request', async () => {
    const dir = await fresh()
    const d = await daemon(dir)
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(d.url).not.toBe('http://127.0.0.1:0')
    const lock = JSON.parse(await readFile(join(dir, 'lock.json'), 'utf8'))
    expect(lock).toMatchObject({ pid: d.proc.pid, api: d.url })
    const res = await fetch(`${d.url}/health`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    await fetch(`${d.url}/info/${'0'.repeat(64)}`).then(async r => await r.arrayBuffer())
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(d.output()).toMatch(/ GET \/health 200 \d+ [\d.]+ms\n/)
    expect(d.output()).toMatch(new RegExp(` GET /info/${'0'.repeat(64)} 404 `))
  })

  it('the CLI finds the daemon holding the data directory; --api reaches it explicitly; output matches', async () => {
    const dir = await fresh()
    const work = await fresh()
    const d = await daemon(dir)
    const { writeFile } = await import('node:fs/promises')
    const bytes = prng(5)(200_000)
    await writeFile(join(work, 'f.bin'), bytes)
    // no --api: the store is locked by the daemon, so success means the CLI used it
    const auto = expectOk(await runCli(['add', join(work, 'f.bin')], { dataDir: dir }))
    expect(uploadedHash(auto)).toBe(sha(bytes))
    const explicit = expectOk(await runCli(['--api', d.url, 'add', join(work, 'f.bin')]))
    expect(explicit.stdout).toBe(auto.stdout)
    const list = await cliJson(['list'], { dataDir: dir })
    expect(list.map((i: any) => i.hash)).toEqual([sha(bytes)])
    expect(await cliJson(['--api', d.url, 'list'])).toEqual(list)
    // the HTTP API sees the same content
    const info = await (await fetch(`${d.url}/info/${sha(bytes)}`)).json() as any
    expect(info.size).toBe(200_000)
  })

  it('an unreachable daemon gives the reference message style', async () => {
    // a port that was free a moment ago: nothing listens there
    const probe = createServer()
    await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise(resolve => probe.close(resolve))
    const api = `http://127.0.0.1:${port}`
    for (const args of [['--api', api, 'list'], ['--api', api, 'add', '/etc/hostname']]) {
      const r = await runCli(args)
      const line = expectCleanError(r, `Error: API connection failed: failed to connect to API at ${api}: `)
      expect(line).toMatch(/ECONNREFUSED/)
    }
    expectCleanError(await runCli(['--api', 'not a url', 'list']), 'invalid API URL')
  })

  it('a second daemon on the same data directory, or on a used port, fails cleanly', async () => {
    const dir = await fresh()
    const d = await daemon(dir)
    const second = await runCli(['daemon', '--api-port', '0', '--p2p-host', '127.0.0.1', '--p2p-port', '0'], { dataDir: dir, timeoutMs: 20_000 })
    expectCleanError(second, /in use by process \d+ \(openhash daemon/)
    const other = await fresh()
    const port = new URL(d.url).port
    const busy = await runCli(['daemon', '--api-host', '127.0.0.1', '--api-port', port, '--p2p-host', '127.0.0.1', '--p2p-port', '0'], { dataDir: other, timeoutMs: 20_000 })
    expectCleanError(busy, `cannot listen on 127.0.0.1:${port}: address already in use`)
    expect(existsSync(join(other, 'lock.json'))).toBe(false)
  })

  it('SIGTERM lets an in-flight upload finish, then closes the store cleanly', async () => {
    const dir = await fresh()
    const d = await daemon(dir)
    const bytes = prng(6)(3 * 1024 * 1024)
    const up = slowUpload(d.url, bytes, 'inflight.bin')
    await up.sentHead
    await new Promise(resolve => setTimeout(resolve, 200))
    const exited = d.stop('SIGTERM')
    await new Promise(resolve => setTimeout(resolve, 200))
    const res = await up.sendRest()
    expect(res.status).toBe(200)
    expect(res.body.hash).toBe(sha(bytes))
    expect(await exited).toBe(0)
    expect(d.output()).toMatch(/Daemon stopped cleanly/)
    expect(existsSync(join(dir, 'lock.json'))).toBe(false)
    // in-process now: the acknowledged upload is there and the store verifies
    const list = await cliJson(['list'], { dataDir: dir })
    expect(list.map((i: any) => i.hash)).toEqual([sha(bytes)])
    expect((await cliJson(['verify'], { dataDir: dir })).ok).toBe(true)
  })

  it('an upload still unfinished after the grace period is rolled back; nothing of it is left after gc', async () => {
    const dir = await fresh()
    const d = await daemon(dir, ['-c', 'api.shutdown_grace_ms=300'])
    const bytes = prng(7)(4 * 1024 * 1024)
    const up = slowUpload(d.url, bytes, 'abandoned.bin')
    await up.sentHead
    await new Promise(resolve => setTimeout(resolve, 300))
    const code = await d.stop('SIGTERM')
    expect(code).toBe(0)
    const res = await up.response.catch((err: Error) => ({ status: 0, body: { error: err.message } }))
    expect(res.status).not.toBe(200)
    expect((await cliJson(['list'], { dataDir: dir }))).toEqual([])
    // the abort ends the import at once and its rollback drops the chunks it wrote (before, the
    // import stalled past the exit and left them for gc to find); either way nothing of it is left
    await cliJson(['gc'], { dataDir: dir })
    const storage = (await cliJson(['stats'], { dataDir: dir })).storage
    expect(storage.chunk_count).toBe(0)
    expect(storage.stored_bytes).toBe(0)
    expect((await cliJson(['verify'], { dataDir: dir })).ok).toBe(true)
  })
})
