/**
 * In-process nodes on a loopback network: LocalNode + libp2p listening on
 * 127.0.0.1 only, on free ports, no bootstrap or mDNS; joined by explicit
 * dials to 127.0.0.1 addresses.
 */
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import { tempDir } from './tmp.js'

export interface TestNode {
  node: LocalNode
  dir: string
  logs: string[]
  cleanup: () => Promise<void>
}

export const TEST_CHUNK = 64 * 1024

export function netConfig (dir: string, network: Record<string, unknown> = {}, replication: Record<string, unknown> = {}, storage: Record<string, unknown> = {}): ReturnType<typeof loadConfig> {
  return loadConfig({
    dataDir: dir,
    env: {},
    overrides: {
      storage: { chunk_size: TEST_CHUNK, ...storage },
      network: { host: '127.0.0.1', port: 0, search_timeout_ms: 4000, request_timeout_ms: 10_000, reprovide_interval_s: 0, ...network },
      // replication is off (factor 1) unless a test asks for it: other tests count copies and connections
      replication: { factor: 1, ...replication }
    }
  })
}

export async function startNode (options: { dir?: string, network?: Record<string, unknown>, replication?: Record<string, unknown>, storage?: Record<string, unknown> } = {}): Promise<TestNode> {
  const tmp = options.dir === undefined ? await tempDir('openhash-net-') : undefined
  const dir = options.dir ?? tmp!.path
  const node = await LocalNode.open(netConfig(dir, options.network, options.replication, options.storage), 'net-test')
  const logs: string[] = []
  try {
    await node.startNetwork((line) => logs.push(line))
  } catch (err) {
    // a node whose network cannot start (e.g. a bad config) leaves no open store behind
    await node.close().catch(() => {})
    await tmp?.cleanup()
    throw err
  }
  for (const a of node.net!.addresses()) if (!a.startsWith('/ip4/127.0.0.1/')) throw new Error(`non-loopback address ${a}`)
  return {
    node,
    dir,
    logs,
    cleanup: async () => { await node.close().catch(() => {}); await tmp?.cleanup() }
  }
}

export async function connect (a: TestNode, b: TestNode): Promise<void> {
  await a.node.net!.connect(b.node.net!.addresses()[0])
}

export async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now()
  while (!await check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Wait until every node has at least `min` peers in its DHT routing table. */
export async function dhtReady (nodes: TestNode[], min = nodes.length - 1): Promise<void> {
  await until('DHT routing tables', async () => {
    if (nodes.every(n => n.node.net!.state().dht.peer_count >= min)) return true
    await Promise.all(nodes.map(async n => { await n.node.net!.refresh().catch(() => {}) }))
    return false
  }, 30_000)
}

export function isConnected (a: TestNode, b: TestNode): boolean {
  return a.node.net!.libp2p.getConnections(b.node.net!.libp2p.peerId).length > 0
}
