/**
 * Every request has its own AbortSignal (server.ts), passed to the long
 * operations its route runs: a real LocalNode behind the real HTTP server,
 * seen through a Proxy that records the signal each call gets. A download
 * whose client leaves mid-body has its read aborted; requests that finish
 * keep theirs unaborted; two requests never share one; shutdown aborts the
 * signal of a request still running.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import type { OpenHashNode } from '../../src/interface.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import { prng, tempDir } from '../helpers/tmp.js'

type Seen = Array<{ method: string, signal: AbortSignal | undefined }>

/** `node` as seen by the app, recording the `signal` option of read, info, entries, gc and verify. */
function recording (node: LocalNode, seen: Seen): OpenHashNode {
  const watched = new Set(['read', 'info', 'entries', 'gc', 'verify'])
  return new Proxy(node, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      if (typeof prop === 'string' && watched.has(prop)) {
        return (...args: any[]) => {
          const opts = prop === 'gc' || prop === 'verify' ? args[0] : args[1]
          seen.push({ method: prop, signal: opts?.signal })
          return value.apply(target, args)
        }
      }
      return value.bind(target)
    }
  })
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

describe('per-request abort signal', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  let server: RunningServer
  const seen: Seen = []
  let hash: string

  beforeAll(async () => {
    dir = await tempDir('openhash-signal-')
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {} }), 'test api')
    server = await startServer(recording(node, seen), { host: '127.0.0.1', port: 0, maxUploadBytes: 1 << 30 })
    hash = (await node.addStream((async function * () { yield prng(11)(32 * 1024 * 1024) })(), { filename: 'big.bin' })).hash
  })
  afterAll(async () => {
    await server?.close(1000)
    await node?.close()
    await dir?.cleanup()
  })

  it('routes pass their own signal; it stays unaborted when the request finishes', async () => {
    seen.length = 0
    expect((await fetch(`${server.url}/info/${hash}`)).status).toBe(200)
    expect((await fetch(`${server.url}/gc`, { method: 'POST' })).status).toBe(200)
    expect((await fetch(`${server.url}/verify`, { method: 'POST' })).status).toBe(200)
    const info = seen.find(s => s.method === 'info')
    const gc = seen.find(s => s.method === 'gc')
    const verify = seen.find(s => s.method === 'verify')
    for (const s of [info, gc, verify]) {
      expect(s?.signal, JSON.stringify(seen.map(x => x.method))).toBeInstanceOf(AbortSignal)
      expect(s?.signal?.aborted).toBe(false)
    }
    expect(gc?.signal).not.toBe(verify?.signal) // one per request, not the server-wide one
  })

  it('a download whose client leaves mid-body has its read aborted', async () => {
    seen.length = 0
    const u = new URL(server.url)
    const s = connect(Number(u.port), u.hostname)
    s.on('error', () => {})
    await new Promise<void>(resolve => s.once('connect', () => resolve()))
    s.write(`GET /download/${hash} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
    await new Promise<void>(resolve => s.once('data', () => resolve())) // the answer started
    s.destroy()
    for (let i = 0; i < 50 && seen.find(x => x.method === 'read')?.signal?.aborted !== true; i++) await sleep(20)
    const read = seen.find(x => x.method === 'read')
    expect(read?.signal).toBeInstanceOf(AbortSignal)
    expect(read?.signal?.aborted).toBe(true)
    expect(String((read?.signal?.reason as Error)?.message)).toMatch(/client closed/)
    for (let i = 0; i < 50 && server.inFlight() > 0; i++) await sleep(20)
    expect(server.inFlight()).toBe(0)
  })

  it('shutdown aborts the signal of a request still running', async () => {
    seen.length = 0
    const u = new URL(server.url)
    const s = connect(Number(u.port), u.hostname)
    s.on('error', () => {})
    await new Promise<void>(resolve => s.once('connect', () => resolve()))
    s.pause() // never reads: the download stays running
    s.write(`GET /download/${hash} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
    for (let i = 0; i < 50 && seen.find(x => x.method === 'read') === undefined; i++) await sleep(20)
    const read = seen.find(x => x.method === 'read')
    expect(read?.signal?.aborted).toBe(false)
    await server.close(200)
    expect(read?.signal?.aborted).toBe(true)
    expect(server.inFlight()).toBe(0)
    s.destroy()
  })
})
