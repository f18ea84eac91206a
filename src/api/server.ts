/**
 * The HTTP server around the API app: listen, log one line per request, and
 * shut down gracefully (stop accepting, let in-flight requests finish within
 * a grace period, then abort the rest, so unfinished uploads roll back).
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import type { OpenHashNode } from '../node.js'
import { createApp } from './app.js'

export interface ServerOptions {
  host: string
  port: number
  maxUploadBytes: number
  /** Called with one line per finished request. */
  log?: (line: string) => void
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
  const app = createApp(node, { maxUploadBytes: options.maxUploadBytes, signal: shutdown.signal, isShuttingDown: () => shuttingDown })
  let active = 0
  let idle: (() => void) | undefined

  const server = createAdaptorServer({
    fetch: (req, env) => {
      const { incoming, outgoing } = env as { incoming: import('node:http').IncomingMessage, outgoing: import('node:http').ServerResponse }
      const started = process.hrtime.bigint()
      active++
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        active--
        if (active === 0) idle?.()
        if (options.log !== undefined) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6
          const bytes = Number(outgoing.getHeader('content-length') ?? 0)
          const status = outgoing.writableFinished ? String(outgoing.statusCode) : `${outgoing.statusCode}!` // ! = cut short
          options.log(`${new Date().toISOString()} ${incoming.socket?.remoteAddress ?? '-'} ${req.method} ${incoming.url ?? ''} ${status} ${bytes} ${ms.toFixed(1)}ms`)
        }
      }
      outgoing.once('close', finish)
      return app.fetch(req, env)
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
