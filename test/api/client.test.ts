/**
 * The typed client (OpenHashClient) against a real API server on loopback:
 * streaming upload/download, typed errors rebuilt from `error_code`,
 * idle timeouts and AbortSignal, and hash identity across CLI, HTTP and client.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AbortedError, ApiUnreachableError, InvalidHashError, InvalidPriorityError, IsADirectoryError,
  NotFoundError, OpenHashClient, OpenHashError
} from '../../src/index.js'
import type { InProcessApi } from '../helpers/daemon.js'
import { startInProcessApi } from '../helpers/daemon.js'
import { collect, prng, tempDir } from '../helpers/tmp.js'
import { expectOk, runCli, sha256sum, uploadedHash } from '../helpers/cli.js'

const execFileP = promisify(execFile)
let api: InProcessApi
let client: OpenHashClient
let dir: { path: string, cleanup: () => Promise<void> }

beforeAll(async () => {
  dir = await tempDir('openhash-client-')
  api = await startInProcessApi(join(dir.path, 'data'))
  client = new OpenHashClient({ url: api.url })
})
afterAll(async () => {
  await api?.close()
  await dir?.cleanup()
})

/** A server that answers with a fixed status and body, or (stall) never answers. */
async function fakeServer (handler: 'stall' | { status: number, body: string }): Promise<{ url: string, close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (handler === 'stall') return // never respond
    res.writeHead(handler.status, { 'content-type': 'application/json' })
    res.end(handler.body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

describe('OpenHashClient', () => {
  it('streams an upload of unknown length and a download, byte-exact', async () => {
    const gen = prng(21)
    const pieces = Array.from({ length: 40 }, () => gen(256 * 1024 + 13))
    const all = Buffer.concat(pieces)
    const res = await client.addStream((async function * () { yield * pieces })(), { filename: 'stream.bin' })
    expect(res.hash).toBe((await import('node:crypto')).createHash('sha256').update(all).digest('hex'))
    expect(res.size).toBe(all.length)
    const back = await collect(client.read(res.hash))
    expect(back.equals(all)).toBe(true)
    const mid = await collect(client.read(res.hash, { offset: 1_000_000, length: 2_000_000 }))
    expect(mid.equals(all.subarray(1_000_000, 3_000_000))).toBe(true)
    expect((await collect(client.read(res.hash, { offset: all.length + 5, length: 10 }))).length).toBe(0)
  })

  it('adds a directory from disk with the same hash and entries as in-process', async () => {
    const tree = join(dir.path, 'tree')
    await mkdir(join(tree, 'sub', 'empty'), { recursive: true })
    await writeFile(join(tree, 'a.txt'), 'a\n')
    await writeFile(join(tree, 'sub', 'line\nbreak "q".txt'), 'odd\n')
    await writeFile(join(tree, 'sub', 'zero'), '')
    const viaClient = await client.addPath(tree)
    expect(viaClient).toMatchObject({ is_directory: true, filename: 'tree', files: 3, directories: 3 })
    const other = await tempDir('openhash-client-local-')
    const { LocalNode } = await import('../../src/node.js')
    const { loadConfig } = await import('../../src/config.js')
    const local = await LocalNode.open(loadConfig({ dataDir: other.path, env: {} }))
    try {
      const inProcess = await local.addPath(tree)
      expect(viaClient).toEqual(inProcess)
      expect(await client.info(viaClient.hash)).toEqual({ ...(await local.info(inProcess.hash)), created_at: expect.any(String) })
      expect(await client.entries(viaClient.hash)).toEqual(await local.entries(inProcess.hash))
    } finally {
      await local.close()
      await other.cleanup()
    }
  })

  it('rebuilds typed errors from error_code', async () => {
    await expect(client.info('ab'.repeat(32))).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.info('nope')).rejects.toBeInstanceOf(InvalidHashError)
    const { hash } = await client.addStream((async function * () { yield Buffer.from('x') })(), { filename: 'x' })
    await expect(client.pin(hash, 0)).rejects.toBeInstanceOf(InvalidPriorityError)
    const dirHash = (await client.addPath(join(dir.path, 'tree'))).hash
    await expect(collect(client.read(dirHash))).rejects.toBeInstanceOf(IsADirectoryError)
    // the code decides, never the message text
    const fake = await fakeServer({ status: 404, body: JSON.stringify({ error: 'Not Found', code: 404, message: 'invalid hash: looks like another error', error_code: 'NOT_FOUND' }) })
    try {
      const err = await new OpenHashClient(fake.url).pins().catch(e => e)
      expect(err).toBeInstanceOf(NotFoundError)
      expect(err.message).toBe('invalid hash: looks like another error')
    } finally {
      await fake.close()
    }
    const html = await fakeServer({ status: 502, body: '<html>bad gateway</html>' })
    try {
      const err = await new OpenHashClient(html.url).pins().catch(e => e)
      expect(err).toBeInstanceOf(OpenHashError)
      expect(err.code).toBe('BAD_RESPONSE')
    } finally {
      await html.close()
    }
  })

  it('times out a request that makes no progress', async () => {
    const stall = await fakeServer('stall')
    try {
      const quick = new OpenHashClient({ url: stall.url, timeoutMs: 300 })
      const err = await quick.stats().catch(e => e)
      expect(err).toBeInstanceOf(ApiUnreachableError)
      expect(err.message).toMatch(/^API connection failed: no progress from .* for 300 ms$/)
    } finally {
      await stall.close()
    }
  }, 30_000)

  it('an aborted signal stops a request with ABORTED', async () => {
    const stall = await fakeServer('stall')
    try {
      const c = new OpenHashClient({ url: stall.url, timeoutMs: 60_000 })
      const ctrl = new AbortController()
      const p = c.pins().catch(e => e)
      setTimeout(() => ctrl.abort(), 100)
      const q = c.gc({ signal: ctrl.signal }).catch(e => e)
      const err = await q
      expect(err).toBeInstanceOf(AbortedError)
      await stall.close()
      expect(await p).toBeInstanceOf(ApiUnreachableError)
    } finally {
      await stall.close().catch(() => {})
    }
  })

  it('the same bytes give the same hash by CLI, HTTP upload and client, equal to sha256sum', async () => {
    const file = join(dir.path, 'same.bin')
    await writeFile(file, prng(22)(5 * 1024 * 1024 + 17))
    const expected = await sha256sum(file)
    const cliData = await tempDir('openhash-client-cli-')
    try {
      expect(uploadedHash(expectOk(await runCli(['add', file], { dataDir: cliData.path })))).toBe(expected)
    } finally {
      await cliData.cleanup()
    }
    const { stdout } = await execFileP('curl', ['-sS', '-F', `file=@${file}`, `${api.url}/upload/file`])
    expect(JSON.parse(stdout).hash).toBe(expected)
    expect((await client.addPath(file)).hash).toBe(expected)
  })
})
