/**
 * The peer network: a libp2p node (TCP, Noise, Yamux, identify, ping,
 * Kademlia DHT under /openhash/kad/1.0.0, optional bootstrap and mDNS) plus
 * the exchange protocol, announcing (provide + periodic reprovide) and the
 * Fetcher. Knows the Repo and nothing of HTTP. The libp2p node's
 * construction (transports, muxer, services): libp2p-node.ts.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config.js'
import type { ConnectResult } from '../interface.js'
import type { ObjectRecord, Repo } from '../store/repo.js'
import { hashToCid } from '../format/cid.js'
import { EXCHANGE_PROTOCOL, ExchangeSession, serveExchange } from './exchange.js'
import { BufferPool } from './buffer-pool.js'
import { Fetcher } from './fetcher.js'
import type { ReplicaPolicy } from './replicate.js'
import { REPLICATE_PROTOCOL, ReplicateCall, serveReplicate } from './replicate.js'
import type { ReplicationNet } from './replicator.js'
import { createNode } from './libp2p-node.js'
import { dialPeer } from './dial.js'
import { DEFAULT_PROVIDE_TIMEOUT_MS, Reprovider } from './reprovider.js'
import { logger } from '../logger.js'

/** Peers' exchanges and requests that end early (a peer that hangs up, a bad frame) are routine: debug level. */
const log = logger('network')

/** Connected peers asked directly for content being fetched, before (and while) the DHT is searched. */
const CONNECTED_PROBES = 8
/** Pauses before announcing again after a failed provide (then the reprovide round is the next chance). */
const PROVIDE_RETRY_DELAYS_MS = [1000, 5000]

/** Pauses before asking the DHT again when a provider search found nobody (within the search time). */
const DHT_REQUERY_DELAYS_MS = [250, 1000]

/** Addresses kept per peer from a DHT answer (provider records, closest peers): a peer cannot fill our peer store. */
const MAX_PEER_ADDRS = 8

export type NetworkConfig = Config['network']

export interface BucketInfo { prefix: string, depth: number, peers: number }

export interface NetworkState {
  peer_id: string
  connected_peers: number
  peer_list: string[]
  addresses: string[]
  dht: { enabled: boolean, mode: 'server' | 'client', peer_count: number, bucket_info: BucketInfo[] }
}

export interface NetworkOptions {
  repo: Repo
  dataDir: string
  config: NetworkConfig
  /** Diagnostic lines (e.g. dropped providers). */
  log?: (line: string) => void
}

export class Network {
  readonly fetcher: Fetcher
  private readonly reprovider: Reprovider
  private readonly providing = new Set<Promise<void>>()
  private stopped = false
  private refreshTimer: NodeJS.Timeout | undefined
  private lastRefresh = 0
  private announcedAtStart = false
  /** Peers known to hold a hash being fetched (e.g. the peer asking us to replicate it): asked first. */
  private readonly hints = new Map<string, string[]>()
  /** Memory for received chunks, reused once they are written (see buffer-pool.ts). */
  private readonly framePool = new BufferPool(64 * 1024 * 1024)

  private constructor (readonly libp2p: Libp2p<{ dht: KadDHT }>, private readonly options: NetworkOptions) {
    const { config } = options
    this.fetcher = new Fetcher({
      repo: options.repo,
      findProviders: (hash, signal) => this.findProviders(hash, signal),
      openSession: async (peer, signal) => await this.openSession(peer, signal),
      release: bytes => this.framePool.give(bytes),
      log: options.log
    }, { searchTimeoutMs: config.search_timeout_ms, maxProviders: config.max_providers, window: config.chunk_window, maxObjectBytes: config.max_object_bytes })
    const repo = options.repo
    this.reprovider = new Reprovider({
      pinned: async () => [...(await repo.pins()).entries()].sort((a, b) => b[1].priority - a[1].priority).map(([h]) => h),
      has: async (hash) => await repo.getObject(hash) !== undefined,
      all: async function * () { for await (const info of repo.list()) yield info.hash },
      announce: async (hash, signal) => { await this.announce(hash, signal) }
    }, { intervalMs: Math.max(config.reprovide_interval_s, 1) * 1000, log: logger('reprovide') })
  }

  static async start (options: NetworkOptions): Promise<Network> {
    const { config } = options
    const libp2p = await createNode(config, options.dataDir)
    const network = new Network(libp2p, options)
    await libp2p.handle(EXCHANGE_PROTOCOL, (stream) => {
      void serveExchange(options.repo, stream).catch((err) => { log('exchange with %s ended: %s', stream.id, err?.message ?? err) })
    }, { maxInboundStreams: 64 })
    // Kademlia join: when the routing table gains a peer, look up our own id (debounced), so
    // that peers near us learn of us and we of them; small and sparse networks need it
    ;(libp2p.services as any).dht.routingTable?.addEventListener?.('peer:add', () => { network.scheduleRefresh() })
    if (config.reprovide_interval_s > 0) network.reprovider.start()
    return network
  }

  get peerId (): string { return this.libp2p.peerId.toString() }

  private scheduleRefresh (): void {
    if (this.stopped || this.refreshTimer !== undefined) return
    const wait = Math.max(300, this.lastRefresh + 5000 - Date.now())
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined
      void this.refresh().catch((err) => { log('routing table refresh failed: %s', err?.message ?? err) }).then(() => {
        // once we have peers: announce what we already hold (content added while the daemon was
        // not running, e.g. by the in-process CLI, is otherwise unknown until the first reprovide)
        if (!this.announcedAtStart && !this.stopped && this.options.config.reprovide_interval_s > 0) {
          this.announcedAtStart = true
          void this.reprovideAll()
        }
      })
    }, wait)
    this.refreshTimer.unref()
  }

  /** Look up our own peer id on the DHT: fills the routing table with the peers nearest us. */
  async refresh (signal?: AbortSignal): Promise<void> {
    this.lastRefresh = Date.now()
    const key = this.libp2p.peerId.toMultihash().bytes
    for await (const _ of this.libp2p.services.dht.getClosestPeers(key, { signal: signal ?? AbortSignal.timeout(30_000) })) { /* drain */ }
  }

  /** Listen addresses with the /p2p/<peer id> suffix. */
  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** Dial a peer by multiaddr (with /p2p/…); resolves with its peer id once connected. */
  async connect (addr: string, signal?: AbortSignal): Promise<string> { return (await this.dial(addr, signal)).peer_id }

  /** Dial `addr` for POST /network/connect (dial.ts). */
  async dial (addr: string, signal?: AbortSignal): Promise<ConnectResult> { return await dialPeer(this.libp2p, addr, signal) }

  /**
   * Peers to ask for `hash`: hinted ones, then up to CONNECTED_PROBES peers
   * we are connected to (asked at once, like a want-have broadcast: a
   * neighbour that holds it answers in a round trip, and a peer that just
   * connected counts before the DHT has it in its routing table), then the
   * DHT's providers. The fetcher asks each peer once.
   */
  private async * findProviders (hash: string, signal: AbortSignal): AsyncGenerator<string> {
    const hinted = this.hints.get(hash) ?? []
    for (const p of hinted) yield p
    const peers = this.libp2p.getPeers()
    if (peers.length === 0) return // nobody to ask: answer NOT_FOUND now, not after the search time
    const connected = peers.map(p => p.toString()).filter(p => !hinted.includes(p))
    for (const p of connected.slice(0, CONNECTED_PROBES)) yield p
    // a query that ends without a provider (a record still spreading, a peer that timed out under
    // load) is asked again after a pause, while the search time lasts (DHT_REQUERY_DELAYS_MS)
    for (let attempt = 0; ; attempt++) {
      let found = false
      for await (const p of this.libp2p.contentRouting.findProviders(hashToCid(hash), { signal })) {
        if (p.id.equals(this.libp2p.peerId) || hinted.includes(p.id.toString())) continue
        if (p.multiaddrs.length > 0) await this.libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs.slice(0, MAX_PEER_ADDRS) }).catch(() => {})
        found = true
        yield p.id.toString()
      }
      if (found || attempt >= DHT_REQUERY_DELAYS_MS.length || signal.aborted) return
      await sleep(DHT_REQUERY_DELAYS_MS[attempt], undefined, { signal }).catch(() => {}) // an abort ends the pause
      if (signal.aborted) return
    }
  }

  /** Dial `peer` (by peer id; addresses from the peer store) and open an exchange stream. */
  async openSession (peer: string, signal: AbortSignal): Promise<ExchangeSession> {
    const id: PeerId = peerIdFromString(peer)
    const stream = await this.libp2p.dialProtocol(id, EXCHANGE_PROTOCOL, { signal })
    return new ExchangeSession(stream, peer, this.options.config.request_timeout_ms, this.framePool)
  }

  /** Serve /openhash/replicate/1.0.0 with this node's replica policy. */
  async serveReplication (policy: ReplicaPolicy): Promise<void> {
    await this.libp2p.handle(REPLICATE_PROTOCOL, (stream, connection) => {
      void serveReplicate(stream, connection.remotePeer.toString(), policy).catch((err) => { log('replicate request from %p ended: %s', connection.remotePeer, err?.message ?? err) })
    }, { maxInboundStreams: 32 })
  }

  /** The replicator's view of the network. */
  replicationNet (): ReplicationNet {
    const libp2p = this.libp2p
    return {
      selfId: this.peerId,
      providers: (hash, signal) => this.findProviders(hash, signal),
      candidates: async (hash, signal) => {
        const out: string[] = []
        try {
          for await (const p of libp2p.peerRouting.getClosestPeers(hashToCid(hash).multihash.bytes, { signal })) {
            if (p.id.equals(libp2p.peerId)) continue
            if (p.multiaddrs.length > 0) await libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs.slice(0, MAX_PEER_ADDRS) }).catch(() => {})
            if (!out.includes(p.id.toString())) out.push(p.id.toString())
          }
        } catch {}
        for (const p of libp2p.getPeers()) if (!out.includes(p.toString())) out.push(p.toString())
        return out
      },
      open: async (peer, signal) => new ReplicateCall(await libp2p.dialProtocol(peerIdFromString(peer), REPLICATE_PROTOCOL, { signal })),
      onPeerGone: (cb) => {
        libp2p.addEventListener('peer:disconnect', (evt) => { if (!this.stopped) cb(evt.detail.toString()) })
      },
      onPeerJoined: (cb) => {
        libp2p.addEventListener('peer:connect', (evt) => { if (!this.stopped) cb(evt.detail.toString()) })
      }
    }
  }

  /** Whether some peer announces `hash`, searching at most the configured search time. */
  async hasProvider (hash: string, signal?: AbortSignal): Promise<boolean> {
    const timeout = AbortSignal.timeout(this.options.config.search_timeout_ms)
    try {
      for await (const _ of this.findProviders(hash, signal === undefined ? timeout : AbortSignal.any([signal, timeout]))) return true
    } catch {}
    return false
  }

  /** Announce that we hold `hash`, in the background; never throws. */
  provide (hash: string): void {
    if (this.stopped) return
    const p = (async () => {
      // a busy node or a peer that drops out mid-query can fail an announcement: try again a little
      // later (PROVIDE_RETRY_DELAYS_MS) rather than stay unfindable until the next reprovide round
      for (let attempt = 0; ; attempt++) {
        try {
          await this.announce(hash)
          return
        } catch (err) {
          const last = attempt >= PROVIDE_RETRY_DELAYS_MS.length || this.stopped
          this.options.log?.(`provide ${hash}${last ? '' : ' (will retry)'}: ${String((err as Error)?.message ?? err)}`)
          if (last) return
          await new Promise(resolve => setTimeout(resolve, PROVIDE_RETRY_DELAYS_MS[attempt]).unref())
          if (this.stopped) return
        }
      }
    })()
    this.providing.add(p)
    void p.finally(() => this.providing.delete(p))
  }

  /**
   * One DHT announcement of `hash`. Throws when it reached no peer although
   * some are connected (kad-dht reports a failed ADD_PROVIDER only in its
   * event stream, so a busy node would otherwise stay unfindable unnoticed).
   */
  private async announce (hash: string, signal: AbortSignal = AbortSignal.timeout(DEFAULT_PROVIDE_TIMEOUT_MS)): Promise<number> {
    let reached = 0
    for await (const event of this.libp2p.services.dht.provide(hashToCid(hash), { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') reached++
    }
    if (reached === 0 && this.libp2p.getConnections().length > 0) throw new Error('the announcement reached no peer')
    return reached
  }

  /** Wait for background announcements (tests, shutdown). */
  async settled (): Promise<void> { await Promise.allSettled([...this.providing]) }

  /** Re-announce everything held, pinned content first by priority (joins the round running, if any). */
  async reprovideAll (): Promise<number> { return await this.reprovider.round() }

  /**
   * The object, local or fetched from peers (then cached and announced).
   * `providers` names peers to ask before (and besides) those the DHT finds.
   */
  async fetch (hash: string, options: { signal?: AbortSignal, providers?: string[], maxBytes?: number } = {}): Promise<ObjectRecord> {
    const local = await this.options.repo.getObject(hash)
    if (local !== undefined) return local
    const hinted = options.providers !== undefined && options.providers.length > 0 && !this.hints.has(hash)
    if (hinted) this.hints.set(hash, options.providers!)
    try {
      const rec = await this.fetcher.fetch(hash, { signal: options.signal, maxBytes: options.maxBytes })
      this.provide(hash)
      return rec
    } finally {
      if (hinted) this.hints.delete(hash)
    }
  }

  state (): NetworkState {
    const peers = this.libp2p.getPeers().map(p => p.toString())
    const dht = this.libp2p.services.dht
    const buckets: BucketInfo[] = []
    // leaf k-buckets with their full bit path from the root (each node of the trie knows only its own bit)
    const walk = (b: any, path: string): void => {
      if (b === undefined || b === null) return
      const here = b.depth === 0 ? '' : path + String(b.prefix ?? '')
      if (Array.isArray(b.peers)) buckets.push({ prefix: here, depth: Number(b.depth ?? 0), peers: b.peers.length })
      else { walk(b.left, here); walk(b.right, here) }
    }
    walk((dht as any).routingTable?.kb?.root, '')
    return {
      peer_id: this.peerId,
      connected_peers: peers.length,
      peer_list: peers,
      addresses: this.addresses(),
      dht: { enabled: true, mode: dht.getMode(), peer_count: (dht as any).routingTable?.size ?? 0, bucket_info: buckets }
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.fetcher.stop()
    this.reprovider.stop()
    clearTimeout(this.refreshTimer)
    await this.libp2p.stop()
    this.framePool.clear()
  }
}
