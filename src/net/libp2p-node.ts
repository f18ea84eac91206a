/**
 * The libp2p node of the peer network (network.ts runs it): TCP, Noise,
 * Yamux tuned for whole-file streams, identify and ping under the openhash
 * prefix, the Kademlia DHT under /openhash/kad/1.0.0, optional bootstrap,
 * mDNS and a private network's pre-shared key, all from network config.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Config } from '../config.js'
import { loadOrCreateIdentity } from './identity.js'
import { loadSwarmKey } from './swarm-key.js'

export const DHT_PROTOCOL = '/openhash/kad/1.0.0'
/** identify, ping and the connection monitor run as /openhash/id/1.0.0, /openhash/ping/1.0.0. */
export const PROTOCOL_PREFIX = 'openhash'
/** Largest yamux data frame we send: a default 1 MiB chunk, its 32-byte hash and frame header fit in one. */
const MAX_MUXER_FRAME = 1024 * 1024 + 4096

/** A libp2p node for `config`, with the identity (and swarm key) of the data directory; started. */
export async function createNode (config: Config['network'], dataDir: string): Promise<Libp2p<{ dht: KadDHT }>> {
  const privateKey: PrivateKey = await loadOrCreateIdentity(dataDir)
  const listen = config.listen.length > 0
    ? config.listen
    : [`/${config.host.includes(':') ? 'ip6' : 'ip4'}/${config.host}/tcp/${config.port}`]
  const peerDiscovery: any[] = []
  if (config.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: config.bootstrap, timeout: 0 }))
  if (config.mdns) peerDiscovery.push(mdns())
  // a private network: every connection is first wrapped with the pre-shared key (peers without it cannot connect)
  const psk = config.swarm_key_file === '' ? undefined : loadSwarmKey(config.swarm_key_file, dataDir)
  const libp2p = await createLibp2p({
    privateKey,
    ...(psk !== undefined ? { connectionProtector: preSharedKey({ psk }) } : {}),
    addresses: { listen, announce: config.announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // larger stream windows and frames: one exchange stream carries whole files (measured +10% on a 256 MiB
    // transfer). A data frame holds a whole 1 MiB chunk with its header (wire.ts sends them as one
    // message): a receiver sends a window update per data frame (a noise message and a socket write
    // for it, a decrypt for the sender), so 256 KiB frames cost 4x the updates
    streamMuxers: [yamux({ maxMessageSize: MAX_MUXER_FRAME, streamOptions: { initialStreamWindowSize: 8 * 1024 * 1024, maxStreamWindowSize: 16 * 1024 * 1024 } })],
    peerDiscovery,
    connectionMonitor: { protocolPrefix: PROTOCOL_PREFIX },
    services: {
      identify: identify({ protocolPrefix: PROTOCOL_PREFIX }),
      ping: ping({ protocolPrefix: PROTOCOL_PREFIX }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // a daemon answers DHT queries: a LAN or loopback network has no public servers to lean on
        clientMode: false,
        // queries wait for the first self-lookup: run it as soon as there is a peer, not after 1 s
        initialQuerySelfInterval: 0,
        // keep private and loopback addresses (the default mapper drops them)
        peerInfoMapper: passthroughMapper,
        // we reprovide ourselves (pins first); the DHT's own reprovider would re-announce everything at once
        reprovide: { interval: Math.max(config.reprovide_interval_s, 60) * 1000 }
      })
    }
  })
  return libp2p
}
