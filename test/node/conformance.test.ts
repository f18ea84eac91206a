/**
 * One conformance suite for OpenHashNode, run against the in-process node
 * and against the typed HTTP client talking to a daemon (startDaemon, no CLI).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalNode, OpenHashClient, loadConfig } from '../../src/index.js'
import { startDaemon } from '../../src/daemon.js'
import { nodeConformance } from './conformance.js'

async function dataDir (): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'openhash-node-'))
  return { path, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}

const overrides = { api: { host: '127.0.0.1', port: 0 }, network: { enabled: false } }

nodeConformance('LocalNode (in-process)', async () => {
  const dir = await dataDir()
  const node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {}, overrides }), 'conformance')
  return { node, close: async () => { await node.close(); await dir.cleanup() } }
})

nodeConformance('OpenHashClient (HTTP, daemon module)', async () => {
  const dir = await dataDir()
  const daemon = await startDaemon({ config: loadConfig({ dataDir: dir.path, env: {}, overrides }) })
  const node = new OpenHashClient({ url: daemon.url, token: daemon.admin?.token })
  return { node, close: async () => { await node.close(); await daemon.stop(0); await dir.cleanup() } }
})
