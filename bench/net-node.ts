/**
 * One node of the DHT benchmark (bench/net.ts), in a process of its own as a
 * daemon would be: a LocalNode with its network on 127.0.0.1, driven by the
 * benchmark over IPC. Each request is { id, op, ... }; each answer is
 * { id, ok, value } or { id, ok: false, error }. Latencies are measured
 * here, inside the node, so IPC does not count in them.
 *
 *   connect { addr }            dial another node
 *   refresh                     a self-lookup; answers the routing table size
 *   add { size }                add random bytes; answers the hash
 *   provide { hash }            contentRouting.provide, timed (ms)
 *   find { hash, holder }       findProviders until `holder` is named, timed (ms, or -1)
 *   read { hash }               LocalNode.read (lookup, dial, fetch, verify): first byte and total (ms)
 *   close                       close the node and exit
 */
import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { loadConfig } from '../src/config.js'
import { LocalNode } from '../src/node.js'
import { hashToCid } from '../src/format/cid.js'

interface Request { id: number, op: string, addr?: string, size?: number, hash?: string, holder?: string }

const dataDir = process.argv[2]
const config = loadConfig({ dataDir, env: {}, overrides: { network: { host: '127.0.0.1', port: 0, reprovide_interval_s: 0, search_timeout_ms: 10_000 } } })
const node = await LocalNode.open(config, 'bench dht node')
await node.startNetwork()
const net = node.net!
const send = (m: unknown): void => { process.send!(m) }

async function handle (r: Request): Promise<unknown> {
  switch (r.op) {
    case 'connect':
      return await net.connect(r.addr!)
    case 'refresh':
      await net.refresh().catch(() => {})
      return net.state().dht.peer_count
    case 'add': {
      const bytes = randomBytes(r.size!)
      return (await node.addStream((async function * () { yield bytes })(), { filename: 'sample.bin' })).hash
    }
    case 'provide': {
      const t = performance.now()
      await net.libp2p.contentRouting.provide(hashToCid(r.hash!), { signal: AbortSignal.timeout(30_000) })
      return performance.now() - t
    }
    case 'find': {
      const t = performance.now()
      for await (const p of net.libp2p.contentRouting.findProviders(hashToCid(r.hash!), { signal: AbortSignal.timeout(30_000) })) {
        if (p.id.toString() === r.holder) return performance.now() - t
      }
      return -1
    }
    case 'read': {
      const t = performance.now()
      let first: number | undefined
      let bytes = 0
      for await (const piece of node.read(r.hash!)) { first ??= performance.now() - t; bytes += piece.byteLength }
      return { first_byte_ms: first, total_ms: performance.now() - t, bytes }
    }
    case 'close':
      await node.close()
      setImmediate(() => process.exit(0))
      return true
    default:
      throw new Error(`unknown op ${r.op}`)
  }
}

process.on('message', (r: Request) => {
  handle(r).then(value => { send({ id: r.id, ok: true, value }) }, (err) => { send({ id: r.id, ok: false, error: String(err?.message ?? err) }) })
})
process.on('disconnect', () => { void node.close().finally(() => process.exit(0)) })
send({ ready: true, peer: net.libp2p.peerId.toString(), addr: net.addresses()[0] })
