/**
 * Per-pin replication through HTTP: GET /pins/status carries each pin's
 * `replication` (copies known, this node's included, the target factor, the
 * holders' peer ids, attempts), the one answer the web UI's Pins page draws
 * its Copies and Holders columns from. Three real libp2p nodes on 127.0.0.1;
 * A asks for 3 copies, B and C accept.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import type { TestNode } from '../helpers/net.js'
import { connect, dhtReady, startNode, until } from '../helpers/net.js'
import { prng, tempDir } from '../helpers/tmp.js'

const FAST = { retry_base_ms: 200, retry_max_ms: 1000, probe_timeout_ms: 3000, check_interval_s: 60 }

interface Replica { state: string, copies: number, target: number, holders: string[], attempts: number, error?: string }
type Status = Record<string, { priority: number, state: string, replication?: Replica }>

describe('GET /pins/status: copies and holders of each pin', () => {
  const nodes: TestNode[] = []
  let server: RunningServer
  let files: { path: string, cleanup: () => Promise<void> }
  beforeAll(async () => {
    nodes.push(await startNode({ replication: { factor: 3, ...FAST } }))
    nodes.push(await startNode())
    nodes.push(await startNode())
    await connect(nodes[1], nodes[0])
    await connect(nodes[2], nodes[1])
    await dhtReady(nodes)
    server = await startServer(nodes[0].node, { host: '127.0.0.1', port: 0, maxUploadBytes: 1024 * 1024 })
    files = await tempDir('openhash-pins-repl-')
  })
  afterAll(async () => {
    await server?.close(1000)
    await Promise.all(nodes.map(async n => { await n.cleanup() }))
    await files?.cleanup()
  })

  const status = async (): Promise<Status> => await (await fetch(`${server.url}/pins/status`)).json() as Status

  it('a pin with factor 3 reaches 3 copies; its holders are the two other peers', async () => {
    const path = join(files.path, 'a.bin')
    await writeFile(path, Buffer.from(prng(16)(200_000)))
    const { hash } = await nodes[0].node.addPath(path)
    const pinned = await fetch(`${server.url}/pin/${hash}?priority=9`, { method: 'POST' })
    expect(pinned.status).toBe(200)
    await until('3 copies over HTTP', async () => (await status())[hash]?.replication?.copies === 3, 30_000)
    const st = (await status())[hash]
    expect(st).toMatchObject({ priority: 9, state: 'pinned', replication: { state: 'replicated', copies: 3, target: 3 } })
    expect([...st.replication!.holders].sort()).toEqual([nodes[1].node.net!.peerId, nodes[2].node.net!.peerId].sort())
    expect(st.replication!.attempts).toEqual(expect.any(Number)) // rounds that fell short (0 here)
  })
})
