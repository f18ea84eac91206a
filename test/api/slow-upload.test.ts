/**
 * An honest but slow upload outlasts Node's old 300 s request timeout: with
 * the DEFAULT configuration, 3 MiB trickled in 4 KiB pieces over ~6 minutes
 * to a real daemon is stored whole (200, the right hash, the bytes read
 * back). The daemon has no limit on a request's total time, only on idle
 * bodies (api.idle_timeout_ms, 60 s; here a piece arrives every ~0.5 s).
 *
 * Long by design: vitest.config.ts's sequencer starts this file first, so it
 * runs alongside the rest of the suite on the other worker. It sleeps
 * between pieces and costs no CPU.
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

const SIZE = 3 * 1024 * 1024
const PIECE = 4096
const DURATION_MS = 360_000

describe('slow upload (6 minutes)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let daemon: DaemonProcess

  beforeAll(async () => {
    dir = await tempDir()
    daemon = await startDaemon(dir.path, { args: ['--no-network'] })
  })
  afterAll(async () => {
    await daemon?.stop()
    await dir?.cleanup()
  })

  it('a 3 MiB upload trickled over 360 s succeeds with the default config', async () => {
    const data = prng(360)(SIZE)
    const boundary = 'slowboundary42'
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const pieces = Math.ceil(SIZE / PIECE)
    const gap = DURATION_MS / pieces
    const started = Date.now()
    const { status, body } = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = request(`${daemon.url}/upload/file`, {
        method: 'POST',
        headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': head.length + SIZE + tail.length }
      }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (s: string) => { text += s })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.write(head)
      let i = 0
      const next = (): void => {
        if (i >= pieces) { req.end(tail); return }
        req.write(data.subarray(i * PIECE, (i + 1) * PIECE))
        i++
        // paced against the clock, so the total stays ~DURATION_MS however late the timers fire
        setTimeout(next, Math.max(0, started + i * gap - Date.now()))
      }
      next()
    })
    const elapsed = Date.now() - started
    expect(status, body).toBe(200)
    expect(elapsed).toBeGreaterThan(330_000) // it outlasted Node's old 300 s requestTimeout
    const json = JSON.parse(body)
    expect(json.hash).toBe(createHash('sha256').update(data).digest('hex'))
    expect(json.size).toBe(SIZE)
    const back = Buffer.from(await (await fetch(`${daemon.url}/download/${String(json.hash)}`)).arrayBuffer())
    expect(back.equals(data)).toBe(true)
    // the request log shows a plain 200 (not cut short)
    expect(daemon.output()).toMatch(/POST \/upload\/file 200 /)
    expect(await daemon.stop()).toBe(0)
  }, 450_000)
})
