/**
 * Real `openhash daemon` processes joined into a loopback network through
 * --bootstrap: content uploaded to A is downloaded and browsed on C over
 * HTTP, C never having been told about A.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { OpenHashClient } from '../../src/client/client.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { runCli } from '../helpers/cli.js'
import { prng, tempDir } from '../helpers/tmp.js'
import { until } from '../helpers/net.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const SEARCH_MS = 3000
const ENV = { OPENHASH_NETWORK_SEARCH_TIMEOUT_MS: String(SEARCH_MS), OPENHASH_STORAGE_CHUNK_SIZE: String(64 * 1024) }

async function peerInfo (d: DaemonProcess): Promise<{ id: string, addr: string }> {
  await until('the daemon to print its peer address', () => /Peer address: \S+\n/.test(d.output()))
  const id = /Peer ID: (\S+)/.exec(d.output())![1]
  const addr = /Peer address: (\S+)/.exec(d.output())![1]
  return { id, addr }
}

async function json (url: string): Promise<any> {
  const res = await fetch(url)
  expect(res.status, url).toBe(200)
  return await res.json()
}

describe('daemons on loopback', () => {
  const daemons: DaemonProcess[] = []
  let tmp: { path: string, cleanup: () => Promise<void> }
  const dirs: string[] = []

  beforeAll(async () => {
    tmp = await tempDir('openhash-daemons-')
    for (let i = 0; i < 3; i++) { dirs.push(join(tmp.path, `d${i}`)); await mkdir(dirs[i]) }
    daemons.push(await startDaemon(dirs[0], { env: ENV }))
    daemons.push(await startDaemon(dirs[1], { env: ENV, args: ['--bootstrap', (await peerInfo(daemons[0])).addr] }))
    daemons.push(await startDaemon(dirs[2], { env: ENV, args: ['--bootstrap', (await peerInfo(daemons[1])).addr] }))
    // C learns the network through B
    await until('C to know two DHT peers', async () => (await json(`${daemons[2].url}/network`)).dht.peer_count >= 2, 30_000)
  })

  afterAll(async () => {
    for (const d of daemons) await d.stop()
    await tmp?.cleanup()
  })

  it('prints its peer id and loopback addresses with /p2p/ at start', async () => {
    const { id, addr } = await peerInfo(daemons[0])
    expect(id).toMatch(/^12D3Koo/)
    expect(addr).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${id}$`))
  })

  it('a folder uploaded to A downloads and browses on C; info carries the cid', async () => {
    const [A, , C] = daemons
    const src = join(tmp.path, 'site')
    await mkdir(join(src, 'docs'), { recursive: true })
    const big = prng(41)(64 * 1024 * 5 + 3)
    await writeFile(join(src, 'index.html'), '<h1>site</h1>')
    await writeFile(join(src, 'docs', 'big.bin'), big)
    const added = await new OpenHashClient({ url: A.url }).addPath(src)

    const page = await fetch(`${C.url}/view/${added.hash}/docs/big.bin`)
    expect(page.status).toBe(200)
    expect(sha(Buffer.from(await page.arrayBuffer()))).toBe(sha(big))
    const index = await fetch(`${C.url}/view/${added.hash}/`)
    expect(await index.text()).toBe('<h1>site</h1>')
    const info = await json(`${C.url}/info/${added.hash}`)
    expect(info).toMatchObject({ hash: added.hash, is_directory: true, filename: 'site' })
    expect(info.cid).toMatch(/^bafkrei[a-z2-7]+$/)
    // and the file on its own, by hash, with a Range
    const bigHash = sha(big)
    const part = await fetch(`${C.url}/download/${bigHash}`, { headers: { Range: 'bytes=100-199' } })
    expect(part.status).toBe(206)
    expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), big.subarray(100, 200))).toBe(0)
    const peers = (await json(`${C.url}/network`)).peer_list
    expect(peers).toContain((await peerInfo(A)).id) // C dialed A, found through the DHT
  })

  it('an unknown hash is 404 within the search time, and the daemon answers meanwhile', async () => {
    const C = daemons[2]
    const unknown = sha(Buffer.from('no such content anywhere'))
    const started = Date.now()
    const pending = fetch(`${C.url}/download/${unknown}`)
    const healthStarted = Date.now()
    expect((await fetch(`${C.url}/health`)).status).toBe(200)
    expect(Date.now() - healthStarted).toBeLessThan(1000)
    const res = await pending
    expect(res.status).toBe(404)
    expect((await res.json() as any).error_code).toBe('NOT_FOUND')
    expect(Date.now() - started).toBeLessThan(SEARCH_MS + 3000)
  })

  it('`openhash network` prints the state through the daemon', async () => {
    const r = await runCli(['--api', daemons[1].url, 'network'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`Peer ID: ${(await peerInfo(daemons[1])).id}`)
    expect(r.stdout).toMatch(/Connected peers: [1-9]/)
    const j = await runCli(['--api', daemons[1].url, '--json', 'network'])
    expect(JSON.parse(j.stdout).dht.enabled).toBe(true)
  })

  it('a busy peer port is a one-line error and exit 1, and leaves nothing running', async () => {
    const port = /\/tcp\/(\d+)\//.exec((await peerInfo(daemons[1])).addr)![1]
    const dir = join(tmp.path, 'busy')
    await mkdir(dir)
    const r = await runCli(['daemon', '--api-host', '127.0.0.1', '--api-port', '0', '--p2p-host', '127.0.0.1', '--p2p-port', port], { dataDir: dir, timeoutMs: 30_000 })
    expect(r.timedOut).toBe(false)
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`cannot listen for peers on 127.0.0.1:${port}: address already in use`)
  })

  it('a restart keeps the peer id', async () => {
    const before = (await peerInfo(daemons[0])).id
    expect(await daemons[0].stop()).toBe(0)
    daemons[0] = await startDaemon(dirs[0], { env: ENV })
    expect((await peerInfo(daemons[0])).id).toBe(before)
  })
})
