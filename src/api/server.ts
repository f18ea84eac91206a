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
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { OpenHashNode } from '../interface.js'
import { createApp } from './app.js'
import type { RateLimitConfig } from './rate-limit.js'
import { bytesIn, clientIp, requestInfo } from './request-info.js'
import type { LogFormat, LogLevel } from './request-log.js'
import { formatRequest } from './request-log.js'
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

export async function startServer (node: OpenHashNode, options: ServerOptions): Promise<RunningServer> {
  const shutdown = new AbortController()
  let shuttingDown = false
  const app = createApp(node, { maxUploadBytes: options.maxUploadBytes, signal: shutdown.signal, isShuttingDown: () => shuttingDown, auth: options.auth, audit: options.audit, metrics: options.metrics, rateLimit: options.rateLimit, trustedProxies: options.trustedProxies })
  const logFormat = options.logFormat ?? 'text'
  const logLevel = options.logLevel ?? 'info'
  let active = 0
  let idle: (() => void) | undefined

  const live = new Map<AbortController, import('node:http').ServerResponse>() // requests in flight: aborted on shutdown
  const connections = new ConnectionRequests(options.maxPipelined ?? DEFAULT_MAX_PIPELINED)
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const idleWatch = new IdleWatch(idleMs)

  const server = createAdaptorServer({
    fetch: (req, env) => {
      const { incoming, outgoing } = env as { incoming: import('node:http').IncomingMessage, outgoing: import('node:http').ServerResponse }
      const info = requestInfo(incoming, outgoing) // before any body byte arrives: counts bytes in and out
      const controller = new AbortController()
      const ip = clientIp(incoming) // now: once the client is gone, its socket no longer knows its address
      active++
      live.set(controller, outgoing)
      let done = false
      let answered = true
      let untrack: (() => void) | undefined
      const finish = (): void => {
        if (done) return
        done = true
        active--
        live.delete(controller)
        untrack?.()
        if (active === 0) idle?.()
        if (options.log !== undefined) {
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
          }, logFormat, logLevel)
          if (line !== undefined) options.log(line)
        }
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
      untrack = connections.add(incoming.socket, gone)
      if (untrack === undefined) {
        // too many unanswered requests on this connection (it is being closed), or it is gone already
        return new Response(null, { status: 503, headers: { Connection: 'close' } })
      }
      if (shutdown.signal.aborted) controller.abort(shutdown.signal.reason)
      const hasBody = (incoming.headers['content-length'] !== undefined && incoming.headers['content-length'] !== '0') || incoming.headers['transfer-encoding'] !== undefined
      if (hasBody) {
        idleWatch.add(incoming, () => info.bytesIn, () => {
          const socket = incoming.socket
          if (done || outgoing.headersSent) { socket.destroy(); return }
          // the route answers 408 (an upload rolls back); then the connection closes: the rest of the body never comes
          outgoing.setHeader('Connection', 'close')
          outgoing.once('finish', () => socket.destroy())
          setTimeout(() => socket.destroy(), IDLE_CLOSE_MS).unref()
          controller.abort(new RequestTimeoutError(`no byte of the request body arrived for ${idleMs} ms`, { idle_timeout_ms: idleMs }))
        })
      }
      // Hono answers HEAD by running GET and wrapping its Response in a new one, which
      // loses the already-sent marker of content written straight to `outgoing`: the
      // adapter would then write headers a second time (error, connection destroyed)
      return Promise.resolve(app.fetch(req, { incoming, outgoing, signal: controller.signal })).then(res => outgoing.headersSent ? RESPONSE_ALREADY_SENT : res)
    },
    hostname: options.host
  }) as Server
  // no limit on a request's total time (Node 20's default cuts any request at 300 s with 408,
  // uploads included); bodies have the idle limit instead, headers their own bound
  server.requestTimeout = 0
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.timeout = 0
  server.keepAliveTimeout = 5000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const url = `http://${host}:${addr.port}`

  return {
    url,
    port: addr.port,
    inFlight: () => active,
    async close (graceMs: number) {
      shuttingDown = true
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      server.closeIdleConnections()
      if (active > 0) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          new Promise<void>(resolve => { idle = resolve }),
          new Promise<void>(resolve => { timer = setTimeout(resolve, graceMs) })
        ])
        clearTimeout(timer)
      }
      // past the grace period: abort what is left (uploads roll back), cut connections
      shutdown.abort(new AbortedError('the daemon is shutting down'))
      for (const [c, out] of [...live]) {
        c.abort(shutdown.signal.reason)
        // an answer already under way cannot become a 503: cut it now rather than wait for a slow reader
        if (out.headersSent) out.destroy()
      }
      idleWatch.stop()
      // a short wait for the aborted requests to answer (a timer that keeps the process alive: the
      // caller awaits this close); cutting the connections then ends every request still open
      if (active > 0) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>(resolve => { idle = resolve; timer = setTimeout(resolve, 2000) })
        clearTimeout(timer)
      }
      server.closeAllConnections()
      await closed
      // the cut connections' requests end on their sockets' 'close' (at most a few ticks later)
      if (active > 0) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>(resolve => { idle = resolve; timer = setTimeout(resolve, 500) })
        clearTimeout(timer)
      }
    }
  }
}
