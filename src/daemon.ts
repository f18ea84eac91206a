/**
 * The daemon as a module: `startDaemon(config)` opens the store, decides the
 * auth policy, serves the HTTP API, starts the peer network and records the
 * API address in the lock file; `stop()` ends it all within the shutdown
 * grace. The CLI's `daemon` command only turns flags into a config, calls
 * this and prints; tests and embedders can call it directly.
 */
import type { Config } from './config.js'
import { LocalNode } from './node.js'
import { ensureAdminToken } from './auth/admin-token.js'
import { startServer } from './api/server.js'
import type { RunningServer, ServerOptions } from './api/server.js'
import { isLoopbackHost } from './api/host-check.js'

export interface DaemonOptions {
  /** The merged configuration (config.ts `loadConfig`); api.host / api.port say where to listen. */
  config: Config
  /** Serve beyond loopback with auth off (the CLI's --insecure). */
  insecure?: boolean
  /** Request log lines (one per request), when api.request_log is on; none when undefined. */
  requestLog?: (line: string) => void
  /** Network diagnostics (dropped providers…). */
  networkLog?: (line: string) => void
  /** Who holds the data directory, for the lock file. */
  command?: string
}

export interface AdminTokenInfo {
  /** The secret, only when it was made at this start (shown once). */
  token?: string
  /** Made at this start (the first one, or the file was missing or stale). */
  first: boolean
  file: string
}

export interface RunningDaemon {
  node: LocalNode
  url: string
  port: number
  /** This node's libp2p peer id; undefined when the network is off. */
  peerId?: string
  /** Tokens required for this client population (api.auth on, or auto beyond loopback). */
  authRequired: boolean
  /** Set when an admin token for the local CLI was made at this start (none when the saved one is still good). */
  admin?: AdminTokenInfo
  /** Requests being answered now. */
  inFlight: () => number
  /** Stop serving (answers under way get `graceMs`), stop the network and close the store. */
  stop: (graceMs?: number) => Promise<void>
}

/** The API server's options from the config (one mapping, used by startDaemon). */
export function toServerOptions (config: Config, node: LocalNode, authRequired: boolean, requestLog?: (line: string) => void): ServerOptions {
  const { api } = config
  const loopback = isLoopbackHost(api.host)
  const tokens = node.tokens
  const auditLog = node.auditLog
  return {
    host: api.host,
    port: api.port,
    maxUploadBytes: api.max_upload_bytes,
    auth: {
      required: authRequired,
      publicReads: api.public_reads,
      loopbackOnly: loopback,
      // auto: a client that is not local (forwarded, or beyond a trusted proxy) needs a token even on loopback
      requireRemote: api.auth === 'auto',
      allowedHosts: api.allowed_hosts,
      authenticate: async (t) => await tokens.authenticate(t),
      lookup: async (id) => await tokens.get(id)
    },
    trustedProxies: api.trusted_proxies,
    audit: (entry) => { auditLog.append(entry) },
    log: api.request_log ? requestLog : undefined,
    logFormat: api.log_format,
    logLevel: api.log_level,
    metrics: api.metrics,
    idleTimeoutMs: api.idle_timeout_ms,
    maxPipelined: api.max_pipelined_requests,
    rateLimit: api.rate_limit_enabled
      ? { loopback: api.rate_limit_loopback, perMinute: { upload: api.rate_limit_upload_per_min, download: api.rate_limit_download_per_min, metadata: api.rate_limit_metadata_per_min } }
      : undefined
  }
}

/** Whether this config needs tokens (api.auth on, or auto beyond loopback); throws when it would serve beyond loopback unprotected. */
export function authPolicy (config: Config, insecure = false): boolean {
  const { host } = config.api
  const loopback = isLoopbackHost(host)
  const required = config.api.auth === 'on' || (config.api.auth === 'auto' && !loopback)
  if (!required && !loopback && !config.api.allow_insecure && !insecure) {
    throw new Error(`refusing to serve the API on ${host} with authentication off: anyone who can reach it could change this node. Set api.auth to "auto" or "on", or pass --insecure to force it`)
  }
  return required
}

async function listen (node: LocalNode, options: ServerOptions): Promise<RunningServer> {
  try {
    return await startServer(node, options)
  } catch (err: any) {
    const where = `${options.host}:${options.port}`
    throw new Error(err?.code === 'EADDRINUSE'
      ? `cannot listen on ${where}: address already in use (choose another with --api-port, or 0 for any free port)`
      : `cannot listen on ${where}: ${String(err?.message ?? err)}`)
  }
}

async function startNetwork (node: LocalNode, config: Config, log?: (line: string) => void): Promise<void> {
  const p2p = config.network.listen.length > 0 ? config.network.listen.join(', ') : `${config.network.host}:${config.network.port}`
  try {
    await node.startNetwork(log)
  } catch (err: any) {
    throw new Error(/EADDRINUSE/.test(String(err?.message ?? err))
      ? `cannot listen for peers on ${p2p}: address already in use (choose another with --p2p-port, or 0 for any free port)`
      : `cannot start the peer network on ${p2p}: ${String(err?.message ?? err)}`)
  }
}

export async function startDaemon (options: DaemonOptions): Promise<RunningDaemon> {
  const { config } = options
  const authRequired = authPolicy(config, options.insecure)
  const node = await LocalNode.open(config, options.command ?? 'openhash daemon')
  let server: RunningServer | undefined
  try {
    // the local CLI's admin token, kept (0600) in the data directory: created at the first start (and shown
    // once), created again (not shown) whenever the file is missing or no longer holds an active admin token
    const admin = await ensureAdminToken(node.tokens, config.data_dir)
    server = await listen(node, toServerOptions(config, node, authRequired, options.requestLog))
    // the peer network after the API (loading libp2p takes ~0.5 s; the API answers meanwhile)
    if (config.network.enabled) await startNetwork(node, config, options.networkLog)
    await node.announceApi(server.url)
    const running = server
    return {
      node,
      url: running.url,
      peerId: node.net?.peerId,
      port: running.port,
      authRequired,
      admin: admin === undefined ? undefined : { token: admin.first ? admin.token : undefined, first: admin.first, file: admin.file },
      inFlight: () => running.inFlight(),
      stop: async (graceMs = config.api.shutdown_grace_ms) => {
        try { await running.close(graceMs) } finally { await node.close() }
      }
    }
  } catch (err) {
    // nothing keeps running when the start fails part-way
    await server?.close(0).catch(() => {})
    await node.close().catch(() => {})
    throw err
  }
}
