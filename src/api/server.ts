/**
 * The HTTP server around the API app: listen, log one line per request, and
 * shut down gracefully (stop accepting, let in-flight requests finish within
 * a grace period, then abort the rest, so unfinished uploads roll back).
 *
 * Each request gets its own AbortSignal (passed to the app as
 * `c.env.signal`): it fires when the client goes away before its answer
 * finished (the socket closed, pipelined requests included), when its body
 * stops arriving for `idleTimeoutMs` (idle-watch.ts), or on shutdown. There
 * is no limit on a request's total time (Node's 300 s `requestTimeout` is
 * off): an upload that keeps moving is never cut. Headers must arrive
 * within `HEADERS_TIMEOUT_MS` (slow headers cannot hold connections open),
 * and a connection may hold at most `maxPipelined` unanswered requests
 * (connections.ts).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { OpenHashNode } from '../interface.js'
import { createApp } from './app.js'
import { clientIp } from './client-address.js'
import type { RateLimitConfig } from './middleware/rate-limit.js'
import { bytesIn, requestInfo } from './middleware/request-info.js'
import type { RequestInfo } from './middleware/request-info.js'
import type { LogFormat, LogLevel } from './middleware/request-log.js'
import { formatRequest } from './middleware/request-log.js'
import type { ApiOptions } from './app.js'
import { AbortedError, RequestTimeoutError } from '../errors.js'
import { ConnectionRequests } from './connections.js'
import { IdleWatch } from './idle-watch.js'

/** Whole request headers must arrive within this (Node checks every 30 s, so up to 30 s more). */
const HEADERS_TIMEOUT_MS = 30_000
/** After an idle body was answered 408 (or could not be), the connection is closed at the latest this much later. */
const IDLE_CLOSE_MS = 5000
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
export const DEFAULT_MAX_PIPELINED = 64

export interface ServerOptions {
  host: string
  port: number
  maxUploadBytes: number
  /** Tokens and policy, audit sink (see ApiOptions). */
  auth?: ApiOptions['auth']
  audit?: ApiOptions['audit']
  /** Called with one line per finished request. */
  log?: (line: string) => void
  /** Request lines as text (default) or JSON lines (api.log_format). */
  logFormat?: LogFormat
  /** Least severe request line passed to `log` (api.log_level); default info. */
  logLevel?: LogLevel
  /** GET /metrics (api.metrics); on unless false. */
  metrics?: boolean
  /** Request limits (api.rate_limit_*); none when undefined. */
  rateLimit?: RateLimitConfig
  /** A request body of which no byte arrives for this long is aborted (408); 0 = never (api.idle_timeout_ms, default 60 s). */
  idleTimeoutMs?: number
  /** Unanswered requests one connection may hold; one more and it is closed (api.max_pipelined_requests, default 64). */
  maxPipelined?: number
  /** api.trusted_proxies (see ApiOptions). */
  trustedProxies?: readonly string[]
  /** Objects one page of GET /list?q= looks at (see ApiOptions). */
  listScanLimit?: number
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string
  port: number
  /** In-flight requests right now. */
  inFlight(): number
  /** Stop accepting; wait up to graceMs for in-flight requests, then abort them. */
  close(graceMs: number): Promise<void>
}

/**
 * The requests in flight: counted, logged when they end, aborted when their client leaves, when their body
 * stops arriving, or at shutdown.
 */
class InFlight {
  active = 0
  private idle: (() => void) | undefined
  /** Requests in flight, aborted on shutdown. */
  private readonly live = new Map<AbortController, ServerResponse>()
  private readonly connections: ConnectionRequests
  private readonly idleMs: number
  private readonly idleWatch: IdleWatch

  constructor (private readonly options: ServerOptions, private readonly shutdown: AbortSignal) {
    this.connections = new ConnectionRequests(options.maxPipelined ?? DEFAULT_MAX_PIPELINED)
    this.idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.idleWatch = new IdleWatch(this.idleMs)
  }

  /** Track one request: its AbortSignal's controller, or undefined when its connection holds too many already. */
  admit (req: Request, incoming: IncomingMessage, outgoing: ServerResponse): AbortController | undefined {
    const info = requestInfo(incoming, outgoing) // before any body byte arrives: counts bytes in and out
    const controller = new AbortController()
    const ip = clientIp(incoming) // now: once the client is gone, its socket no longer knows its address
    this.active++
    this.live.set(controller, outgoing)
    let done = false
    let answered = true
    // assigned once below, but declared here because finish() (defined first) calls it
    let untrack: (() => void) | undefined // eslint-disable-line prefer-const
    const finish = (): void => {
      if (done) return
      done = true
      this.active--
      this.live.delete(controller)
      untrack?.()
      if (this.active === 0) this.idle?.()
      this.log(req, incoming, outgoing, info, ip, answered)
    }
    // the client left before the answer finished: abort what the request runs, then count it done.
    // Never answered: no header written, or written but still queued behind an earlier pipelined
    // request (a queued response has no socket yet), so no byte of it reached the client
    const gone = (): void => {
      if (done) return
      if (!outgoing.writableFinished) {
        answered = outgoing.headersSent && outgoing.socket !== null
        controller.abort(new AbortedError('the client closed the connection'))
      }
      finish()
    }
    outgoing.once('close', gone)
    untrack = this.connections.add(incoming.socket, gone)
    // too many unanswered requests on this connection (it is being closed), or it is gone already
    if (untrack === undefined) return undefined
    if (this.shutdown.aborted) controller.abort(this.shutdown.reason)
    const hasBody = (incoming.headers['content-length'] !== undefined && incoming.headers['content-length'] !== '0') || incoming.headers['transfer-encoding'] !== undefined
    if (hasBody) this.watchBody(incoming, outgoing, info, controller, () => done)
    return controller
  }

  /** A body of which no byte arrives for idleMs: the route answers 408 (an upload rolls back), then the connection closes. */
  private watchBody (incoming: IncomingMessage, outgoing: ServerResponse, info: RequestInfo, controller: AbortController, isDone: () => boolean): void {
    this.idleWatch.add(incoming, () => info.bytesIn, () => {
      const socket = incoming.socket
      if (isDone() || outgoing.headersSent) { socket.destroy(); return }
      // the rest of the body never comes
      outgoing.setHeader('Connection', 'close')
      outgoing.once('finish', () => socket.destroy())
      setTimeout(() => socket.destroy(), IDLE_CLOSE_MS).unref()
      controller.abort(new RequestTimeoutError(`no byte of the request body arrived for ${this.idleMs} ms`, { idle_timeout_ms: this.idleMs }))
    })
  }

  private log (req: Request, incoming: IncomingMessage, outgoing: ServerResponse, info: RequestInfo, ip: string, answered: boolean): void {
    const { log } = this.options
    if (log === undefined) return
    const line = formatRequest({
      time: new Date(),
      method: req.method,
      url: incoming.url ?? '',
      route: info.route,
      status: outgoing.statusCode,
      finished: outgoing.writableFinished,
      answered: outgoing.writableFinished || answered,
      bytesIn: bytesIn(incoming, info),
      bytesOut: info.bytesOut,
      durationMs: Number(process.hrtime.bigint() - info.started) / 1e6,
      ip: info.client?.ip ?? ip,
      principal: info.principal()
    }, this.options.logFormat ?? 'text', this.options.logLevel ?? 'info')
    if (line !== undefined) log(line)
  }

  /** Resolves when no request is in flight, or after `ms` (a timer that keeps the process alive: the caller awaits). */
  async drained (ms: number): Promise<void> {
    if (this.active === 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => { this.idle = resolve; timer = setTimeout(resolve, ms) })
    clearTimeout(timer)
  }

  /** Abort every request left; an answer already under way cannot become a 503: cut it now rather than wait for a slow reader. */
  abortAll (reason: unknown): void {
    for (const [c, out] of [...this.live]) {
      c.abort(reason)
      if (out.headersSent) out.destroy()
    }
    this.idleWatch.stop()
  }
}

async function listen (server: Server, options: ServerOptions): Promise<{ url: string, port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return { url: `http://${host}:${addr.port}`, port: addr.port }
}

export async function startServer (node: OpenHashNode, options: ServerOptions): Promise<RunningServer> {
  const shutdown = new AbortController()
  let shuttingDown = false
  const app = createApp(node, { maxUploadBytes: options.maxUploadBytes, signal: shutdown.signal, isShuttingDown: () => shuttingDown, auth: options.auth, audit: options.audit, metrics: options.metrics, rateLimit: options.rateLimit, trustedProxies: options.trustedProxies, listScanLimit: options.listScanLimit })
  const requests = new InFlight(options, shutdown.signal)
  const server = createAdaptorServer({
    fetch: async (req, env) => {
      const { incoming, outgoing } = env as { incoming: IncomingMessage, outgoing: ServerResponse }
      const controller = requests.admit(req, incoming, outgoing)
      if (controller === undefined) return new Response(null, { status: 503, headers: { Connection: 'close' } })
      // Hono answers HEAD by running GET and wrapping its Response in a new one, which
      // loses the already-sent marker of content written straight to `outgoing`: the
      // adapter would then write headers a second time (error, connection destroyed)
      const res = await app.fetch(req, { incoming, outgoing, signal: controller.signal })
      return outgoing.headersSent ? RESPONSE_ALREADY_SENT : res
    },
    hostname: options.host
  }) as Server
  // no limit on a request's total time (Node 20's default cuts any request at 300 s with 408,
  // uploads included); bodies have the idle limit instead, headers their own bound
  server.requestTimeout = 0
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.timeout = 0
  server.keepAliveTimeout = 5000
  const { url, port } = await listen(server, options)

  return {
    url,
    port,
    inFlight: () => requests.active,
    async close (graceMs: number) {
      shuttingDown = true
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      server.closeIdleConnections()
      await requests.drained(graceMs)
      // past the grace period: abort what is left (uploads roll back), cut connections
      shutdown.abort(new AbortedError('the daemon is shutting down'))
      requests.abortAll(shutdown.signal.reason)
      // a short wait for the aborted requests to answer; cutting the connections then ends every request still open
      await requests.drained(2000)
      server.closeAllConnections()
      await closed
      // the cut connections' requests end on their sockets' 'close' (at most a few ticks later)
      await requests.drained(500)
    }
  }
}
