/**
 * The HTTP server around the API app: listen, log one line per request, and
 * shut down gracefully (stop accepting, let in-flight requests finish within
 * a grace period, then abort the rest, so unfinished uploads roll back).
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { OpenHashNode } from '../node.js'
import { createApp } from './app.js'
import type { RateLimitConfig } from './rate-limit.js'
import { bytesIn, clientIp, requestInfo } from './request-info.js'
import type { LogFormat, LogLevel } from './request-log.js'
import { formatRequest } from './request-log.js'
import type { ApiOptions } from './app.js'

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
  const app = createApp(node, { maxUploadBytes: options.maxUploadBytes, signal: shutdown.signal, isShuttingDown: () => shuttingDown, auth: options.auth, audit: options.audit, metrics: options.metrics, rateLimit: options.rateLimit })
  const logFormat = options.logFormat ?? 'text'
  const logLevel = options.logLevel ?? 'info'
  let active = 0
  let idle: (() => void) | undefined

  const server = createAdaptorServer({
    fetch: (req, env) => {
      const { incoming, outgoing } = env as { incoming: import('node:http').IncomingMessage, outgoing: import('node:http').ServerResponse }
      const info = requestInfo(incoming, outgoing) // before any body byte arrives: counts bytes in and out
      active++
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        active--
        if (active === 0) idle?.()
        if (options.log !== undefined) {
          const line = formatRequest({
            time: new Date(),
            method: req.method,
            url: incoming.url ?? '',
            route: info.route,
            status: outgoing.statusCode,
            finished: outgoing.writableFinished,
            bytesIn: bytesIn(incoming, info),
            bytesOut: info.bytesOut,
            durationMs: Number(process.hrtime.bigint() - info.started) / 1e6,
            ip: clientIp(incoming),
            principal: info.principal()
          }, logFormat, logLevel)
          if (line !== undefined) options.log(line)
        }
      }
      outgoing.once('close', finish)
      // Hono answers HEAD by running GET and wrapping its Response in a new one, which
      // loses the already-sent marker of content written straight to `outgoing`: the
      // adapter would then write headers a second time (error, connection destroyed)
      return Promise.resolve(app.fetch(req, env)).then(res => outgoing.headersSent ? RESPONSE_ALREADY_SENT : res)
    },
    hostname: options.host
  }) as Server
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
      shutdown.abort()
      if (active > 0) await new Promise<void>(resolve => { idle = resolve; setTimeout(resolve, 2000).unref() })
      server.closeAllConnections()
      await closed
    }
  }
}
