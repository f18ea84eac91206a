/**
 * Prometheus metrics for GET /metrics (prom-client), in a Registry of the
 * app's own (never the global one: a process may run several apps, as the
 * tests do). Request metrics are recorded when the Node response closes, so
 * they see the final status and every byte of a streamed download; labels are
 * bounded (route patterns, never raw paths; unknown paths are `unmatched`).
 * The node's gauges (store, pins, peers, DHT, replication) are read from
 * `node.stats()` and `node.network()` at scrape time.
 */
import type { MiddlewareHandler } from 'hono'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { NetworkInfo, NodeStats, OpenHashNode } from '../../interface.js'
import { bytesIn, requestInfo, routeLabel } from './request-info.js'

const PREFIX = 'openhash_'
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
/** Seconds; uploads and downloads of large content take minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

/** Status label of a response whose connection closed before any status was sent (nginx's convention). */
export const CLOSED_BEFORE_RESPONSE = '499'

export interface ApiMetrics {
  readonly registry: Registry
  /** Records every request when its response closes (after request-info's trackRequests). */
  readonly middleware: MiddlewareHandler<any>
  /** Refusals by the rate limiter, by class. */
  readonly rateLimited: Counter<'class'>
  /** The exposition text, with the node's gauges refreshed first. */
  scrape(): Promise<string>
}

/** The node's gauges (store, pins, network, replication), set at scrape time. */
function createGauges (registry: Registry) {
  const gauge = (name: string, help: string): Gauge => new Gauge({ name: `${PREFIX}${name}`, help, registers: [registry] })
  return {
    usedBytes: gauge('store_used_bytes', 'Bytes the storage quota counts (unique chunk bytes, including adds in progress)'),
    maxBytes: gauge('store_max_bytes', 'storage.max_bytes (0 = unlimited)'),
    storedBytes: gauge('store_stored_bytes', 'Bytes of unique chunks stored'),
    logicalBytes: gauge('store_logical_bytes', 'Sum of the sizes of all stored files (before deduplication)'),
    diskBytes: gauge('store_disk_bytes', 'Bytes the chunk backend uses on disk (when the backend knows)'),
    objects: gauge('store_objects', 'Stored objects (files and directories)'),
    files: gauge('store_files', 'Stored file objects'),
    directories: gauge('store_directories', 'Stored directory objects'),
    chunks: gauge('store_chunks', 'Stored unique chunks'),
    evictedObjects: gauge('store_evicted_objects', 'Cached objects evicted for the quota since the node started'),
    evictedBytes: gauge('store_evicted_bytes', 'Chunk bytes freed by eviction since the node started'),
    pins: gauge('pins', 'Pinned content'),
    peers: gauge('peers_connected', 'Connected libp2p peers'),
    dht: gauge('dht_routing_table_size', 'Peers in the Kademlia DHT routing table'),
    replication: new Gauge({ name: `${PREFIX}replication_pins`, help: 'Pins by replication state: pending (waiting), in_progress, replicated (enough copies), failed', labelNames: ['state'] as const, registers: [registry] }),
    replicasHeld: gauge('replicas_held', 'Content this node holds as replicas for peers'),
    replicaBytes: gauge('replica_bytes', 'Bytes of the replicas this node holds for peers'),
    replicationFactor: gauge('replication_factor', 'Copies of every pin kept in the network (replication.factor)')
  }
}

type Gauges = ReturnType<typeof createGauges>

function setGauges (g: Gauges, stats: NodeStats, net: NetworkInfo): void {
  const s = stats.storage
  g.usedBytes.set(s.used_bytes)
  g.maxBytes.set(s.max_bytes)
  g.storedBytes.set(s.stored_bytes)
  g.logicalBytes.set(s.logical_bytes)
  if (s.disk_bytes !== undefined) g.diskBytes.set(s.disk_bytes)
  g.objects.set(s.content_count)
  g.files.set(s.file_count)
  g.directories.set(s.directory_count)
  g.chunks.set(s.chunk_count)
  g.evictedObjects.set(s.evicted_objects)
  g.evictedBytes.set(s.evicted_bytes)
  const r = stats.replication
  g.pins.set(r.pinned_content)
  g.replication.set({ state: 'pending' }, r.pending_requests)
  g.replication.set({ state: 'in_progress' }, r.in_progress)
  g.replication.set({ state: 'replicated' }, r.replicated)
  g.replication.set({ state: 'failed' }, r.failed)
  g.replicasHeld.set(r.replicas_held)
  g.replicaBytes.set(r.replica_bytes)
  g.replicationFactor.set(r.replication_factor)
  g.peers.set(net.connected_peers)
  g.dht.set(net.dht.peer_count)
}

/** The route label takes the declared route patterns (api/route.ts) and `unmatched` only. */
export function createMetrics (node: OpenHashNode): ApiMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: PREFIX })

  const requests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests by method, route pattern and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] })
  const duration = new Histogram({ name: `${PREFIX}http_request_duration_seconds`, help: 'HTTP request duration until the response is fully sent, by method and route pattern', labelNames: ['method', 'route'] as const, buckets: DURATION_BUCKETS, registers: [registry] })
  const bytesInTotal = new Counter({ name: `${PREFIX}http_request_bytes_total`, help: 'Request body bytes received, by method and route pattern', labelNames: ['method', 'route'] as const, registers: [registry] })
  const bytesOutTotal = new Counter({ name: `${PREFIX}http_response_bytes_total`, help: 'Response body bytes sent, by method and route pattern', labelNames: ['method', 'route'] as const, registers: [registry] })
  const rateLimited = new Counter({ name: `${PREFIX}http_rate_limited_total`, help: 'Requests refused with 429 by the rate limiter, by class', labelNames: ['class'] as const, registers: [registry] })

  const g = createGauges(registry)

  const middleware: MiddlewareHandler<any> = async (c, next) => {
    const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER'
    const incoming = c.env?.incoming
    const outgoing = c.env?.outgoing
    if (incoming === undefined || outgoing === undefined) {
      // app.request() without a Node server: status and time from the Response
      const started = process.hrtime.bigint()
      const r = routeLabel(c)
      await next()
      requests.inc({ method, route: r, status: String(c.res.status) })
      duration.observe({ method, route: r }, Number(process.hrtime.bigint() - started) / 1e9)
      return
    }
    const info = requestInfo(incoming, outgoing) // route filled in by trackRequests, which runs first
    outgoing.once('close', () => {
      const status = outgoing.headersSent ? String(outgoing.statusCode) : CLOSED_BEFORE_RESPONSE
      requests.inc({ method, route: info.route, status })
      duration.observe({ method, route: info.route }, Number(process.hrtime.bigint() - info.started) / 1e9)
      const inBytes = bytesIn(incoming, info)
      if (inBytes > 0) bytesInTotal.inc({ method, route: info.route }, inBytes)
      if (info.bytesOut > 0) bytesOutTotal.inc({ method, route: info.route }, info.bytesOut)
    })
    await next()
  }

  async function scrape (): Promise<string> {
    const [stats, net] = await Promise.all([node.stats(), node.network()])
    setGauges(g, stats, net)
    return await registry.metrics()
  }

  return { registry, middleware, rateLimited, scrape }
}
