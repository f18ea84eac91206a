/**
 * POST /network/connect over real HTTP on loopback, against real libp2p
 * nodes on 127.0.0.1: a dial by multiaddr answers the peer id and the
 * connection state; a bad multiaddr is 400 in the spec's error JSON; an
 * unreachable peer is 502 PEER_UNREACHABLE (never a 500); the node's own
 * address is 400; without the peer network 503; the route is admin-scoped.
 */
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROUTES } from '../../src/api/routes/index.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import { OpenHashClient } from '../../src/client/client.js'
import { PeerUnreachableError } from '../../src/errors.js'
import type { InProcessApi } from '../helpers/daemon.js'
import { startInProcessApi } from '../helpers/daemon.js'
import type { TestNode } from '../helpers/net.js'
import { startNode } from '../helpers/net.js'
import { tempDir } from '../helpers/tmp.js'

async function post (url: string, body: unknown): Promise<Response> {
  return await fetch(`${url}/network/connect`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
}

async function expectError (res: Response, status: number, code: string): Promise<{ message: string }> {
  expect(res.status).toBe(status)
  const body = await res.json() as Record<string, unknown>
  expect(body).toMatchObject({ code: status, error_code: code, error: expect.any(String), message: expect.any(String), timestamp: expect.any(String) })
  return body as { message: string }
}

/** A loopback TCP port nobody listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return port
}

describe('POST /network/connect', () => {
  let a: TestNode
  let b: TestNode
  let server: RunningServer
  beforeAll(async () => {
    a = await startNode()
    b = await startNode()
    server = await startServer(a.node, { host: '127.0.0.1', port: 0, maxUploadBytes: 1024 * 1024 })
  })
  afterAll(async () => {
    await server?.close(1000)
    await a?.cleanup()
    await b?.cleanup()
  })

  it('is declared admin-scoped, metadata-limited and audited', () => {
    const r = ROUTES.resolve('POST', '/network/connect')
    expect(r.spec).toMatchObject({ scope: 'admin', rate: 'metadata', audit: { action: 'network.connect', target: { response: 'peer_id' } } })
  })

  it('dials another node by multiaddr and answers its peer id and the connection state', async () => {
    const addr = b.node.net!.addresses()[0]
    const res = await post(server.url, { multiaddr: addr })
    expect(res.status).toBe(200)
    const body = await res.json() as Record<string, unknown>
    expect(body).toMatchObject({ peer_id: b.node.net!.peerId, state: 'connected', direction: 'outbound', connected_peers: 1, message: `Connected to ${b.node.net!.peerId}` })
    expect(String(body.address)).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    expect((await a.node.network()).peer_list).toContain(b.node.net!.peerId)
    // again: the open connection is reused, still connected
    const again = await (await post(server.url, { multiaddr: addr })).json() as Record<string, unknown>
    expect(again).toMatchObject({ peer_id: b.node.net!.peerId, state: 'connected', connected_peers: 1 })
  })

  it('the typed client calls it too', async () => {
    const client = new OpenHashClient(server.url)
    expect(await client.connect(b.node.net!.addresses()[0])).toMatchObject({ peer_id: b.node.net!.peerId, state: 'connected' })
  })

  it('a bad multiaddr, a missing one or a wrong type is 400 INVALID_ARGUMENT', async () => {
    for (const bad of [{ multiaddr: 'not-a-multiaddr' }, { multiaddr: '/ip4/999.1.1.1/tcp/1' }, { multiaddr: '/nope/1' }, { multiaddr: '' }, { multiaddr: 42 }, {}]) {
      const body = await expectError(await post(server.url, bad), 400, 'INVALID_ARGUMENT')
      expect(body.message, JSON.stringify(bad)).toMatch(/multiaddr/)
    }
    const res = await fetch(`${server.url}/network/connect`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"multiaddr":' })
    await expectError(res, 400, 'INVALID_ARGUMENT')
  })

  it('an unreachable peer is 502 PEER_UNREACHABLE with the reason; the client rebuilds the typed error', async () => {
    // a peer we are not connected to (a connected one is answered from its open connection), and no peer id at all
    const port = await closedPort()
    for (const addr of [`/ip4/127.0.0.1/tcp/${port}/p2p/12D3KooWESsT7fyVNjfzJtd28aRt3QfCVrEt5CLRrvP5KMFxgzhH`, `/ip4/127.0.0.1/tcp/${port}`]) {
      const body = await expectError(await post(server.url, { multiaddr: addr }), 502, 'PEER_UNREACHABLE')
      expect(body.message).toContain(`could not connect to ${addr}: `)
      await expect(new OpenHashClient(server.url).connect(addr)).rejects.toBeInstanceOf(PeerUnreachableError)
    }
  })

  it('an address that names another peer id than the one listening there is PEER_UNREACHABLE', async () => {
    const c = await startNode()
    try {
      const port = /\/tcp\/(\d+)/.exec(b.node.net!.addresses()[0])![1]
      await expectError(await post(server.url, { multiaddr: `/ip4/127.0.0.1/tcp/${port}/p2p/${c.node.net!.peerId}` }), 502, 'PEER_UNREACHABLE')
    } finally { await c.cleanup() }
  })

  it("this node's own address is 400", async () => {
    const body = await expectError(await post(server.url, { multiaddr: a.node.net!.addresses()[0] }), 400, 'INVALID_ARGUMENT')
    expect(body.message).toContain('own address')
  })
})

describe('POST /network/connect without the peer network', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let api: InProcessApi
  beforeAll(async () => {
    dir = await tempDir()
    api = await startInProcessApi(dir.path)
  })
  afterAll(async () => {
    await api?.close()
    await dir?.cleanup()
  })

  it('is 503 UNAVAILABLE', async () => {
    const body = await expectError(await post(api.url, { multiaddr: '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWESsT7fyVNjfzJtd28aRt3QfCVrEt5CLRrvP5KMFxgzhH' }), 503, 'UNAVAILABLE')
    expect(body.message).toContain('--no-network')
  })
})
