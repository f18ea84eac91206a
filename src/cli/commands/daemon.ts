import type { Command } from 'commander'
import { startServer } from '../../api/server.js'
import { loadConfig } from '../../config.js'
import { LocalNode } from '../../node.js'
import { ensureAdminToken } from '../../auth/admin-token.js'
import { tuneHeapForDaemon } from '../heap.js'
import { isLoopbackHost } from '../../api/host-check.js'
import type { GlobalOptions } from '../context.js'
import { errorMessage, makePrinter, parseConfigFlags, status } from '../context.js'

function port (value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`invalid --api-port "${value}": expected 0-65535 (0 picks a free port)`)
  return Number(value)
}

export function register (program: Command): void {
  program.command('daemon')
    .description('serve the HTTP API over the data directory (Ctrl-C stops it cleanly)')
    .option('--api-host <host>', 'address to listen on (default: api.host, 127.0.0.1)')
    .option('--api-port <port>', 'port to listen on; 0 picks a free one (default: api.port, 8080)', port)
    .option('--p2p-host <host>', 'address the peer network listens on (default: network.host, 0.0.0.0)')
    .option('--p2p-port <port>', 'peer network TCP port; 0 picks a free one (default: network.port, 4001)', port)
    .option('--bootstrap <multiaddr>', 'peer to join at start, e.g. /ip4/10.0.0.2/tcp/4001/p2p/12D3Koo… (repeatable; adds to network.bootstrap)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--mdns', 'discover peers on the LAN by multicast DNS (off by default: it sends traffic beyond this machine)')
    .option('--no-network', 'serve only the local store: no peer network')
    .option('--insecure', 'allow serving the API beyond loopback with api.auth off (anyone who can reach it can change the node)')
    .action(async (opts: { apiHost?: string, apiPort?: number, p2pHost?: string, p2pPort?: number, bootstrap?: string[], mdns?: boolean, network?: boolean, insecure?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>()
      const print = makePrinter(globals.json === true)
      tuneHeapForDaemon()
      let node: LocalNode | undefined
      try {
        const overrides = parseConfigFlags(globals.config)
        const net: Record<string, unknown> = { ...(overrides.network ?? {}) }
        if (opts.p2pHost !== undefined) net.host = opts.p2pHost
        if (opts.p2pPort !== undefined) net.port = opts.p2pPort
        if (opts.mdns === true) net.mdns = true
        if (opts.network === false) net.enabled = false
        overrides.network = net
        let config = loadConfig({ dataDir: globals.dataDir, overrides })
        if (opts.bootstrap !== undefined) {
          config = loadConfig({ dataDir: globals.dataDir, overrides: { ...overrides, network: { ...net, bootstrap: [...config.network.bootstrap, ...opts.bootstrap] } } })
        }
        const host = opts.apiHost ?? config.api.host
        const listenPort = opts.apiPort ?? config.api.port
        const loopback = isLoopbackHost(host)
        const authRequired = config.api.auth === 'on' || (config.api.auth === 'auto' && !loopback)
        if (!authRequired && !loopback && !config.api.allow_insecure && opts.insecure !== true) {
          throw new Error(`refusing to serve the API on ${host} with authentication off: anyone who can reach it could change this node. Set api.auth to "auto" or "on", or pass --insecure to force it`)
        }
        node = await LocalNode.open(config, 'openhash daemon')
        // the local CLI's admin token, kept (0600) in the data directory: created at the first start (and shown
        // once), created again (not shown) whenever the file is missing or no longer holds an active admin token
        const admin = await ensureAdminToken(node.tokens, config.data_dir)
        const tokens = node.tokens
        const auditLog = node.auditLog
        const server = await startServer(node, {
          host,
          port: listenPort,
          maxUploadBytes: config.api.max_upload_bytes,
          auth: {
            required: authRequired,
            publicReads: config.api.public_reads,
            loopbackOnly: loopback,
            // auto: a client that is not local (forwarded, or beyond a trusted proxy) needs a token even on loopback
            requireRemote: config.api.auth === 'auto',
            allowedHosts: config.api.allowed_hosts,
            authenticate: async (t) => await tokens.authenticate(t),
            lookup: async (id) => await tokens.get(id)
          },
          trustedProxies: config.api.trusted_proxies,
          audit: (entry) => { auditLog.append(entry) },
          log: config.api.request_log && !print.json ? (line) => process.stdout.write(line + '\n') : undefined,
          logFormat: config.api.log_format,
          logLevel: config.api.log_level,
          metrics: config.api.metrics,
          idleTimeoutMs: config.api.idle_timeout_ms,
          maxPipelined: config.api.max_pipelined_requests,
          rateLimit: config.api.rate_limit_enabled
            ? { loopback: config.api.rate_limit_loopback, perMinute: { upload: config.api.rate_limit_upload_per_min, download: config.api.rate_limit_download_per_min, metadata: config.api.rate_limit_metadata_per_min } }
            : undefined
        }).catch((err: any) => {
          throw new Error(err?.code === 'EADDRINUSE'
            ? `cannot listen on ${host}:${listenPort}: address already in use (choose another with --api-port, or 0 for any free port)`
            : `cannot listen on ${host}:${listenPort}: ${String(err?.message ?? err)}`)
        })
        // the peer network after the API (loading libp2p takes ~0.5 s; the API answers meanwhile);
        // if it fails, the HTTP server is closed so that nothing keeps the process alive
        if (config.network.enabled) {
          const p2p = config.network.listen.length > 0 ? config.network.listen.join(', ') : `${config.network.host}:${config.network.port}`
          try {
            await node.startNetwork(process.env.OPENHASH_DEBUG === '1' ? (line) => process.stderr.write(`[net] ${line}\n`) : undefined)
          } catch (err: any) {
            await server.close(0).catch(() => {})
            throw new Error(/EADDRINUSE/.test(String(err?.message ?? err))
              ? `cannot listen for peers on ${p2p}: address already in use (choose another with --p2p-port, or 0 for any free port)`
              : `cannot start the peer network on ${p2p}: ${String(err?.message ?? err)}`)
          }
        }
        await node.announceApi(server.url)
        const netState = node.net?.state()
        print.result({
          url: server.url,
          port: server.port,
          data_dir: config.data_dir,
          pid: process.pid,
          peer_id: netState?.peer_id ?? null,
          addresses: netState?.addresses ?? [],
          auth: authRequired ? 'on' : 'off',
          ...(admin?.first === true ? { admin_token: admin.token } : {}),
          ...(admin !== undefined ? { admin_token_file: admin.file } : {})
        })
        print.line(`🚀 OpenHashDB daemon listening on ${server.url}`)
        print.line(`   Data directory: ${config.data_dir}`)
        print.line(`   API docs: ${server.url}/docs`)
        print.line(authRequired
          ? `   Auth: tokens required${config.api.public_reads ? ' (reads of /view, /download, /info are public)' : ''}`
          : config.api.auth === 'auto'
            ? `   Auth: off for local clients (forwarded and remote ones need a token; cross-origin changes, /tokens and /audit always do)`
            : `   Auth: off (loopback only; cross-origin changes, /tokens and /audit still need a token)`)
        if (admin !== undefined && !admin.first) print.line(`   🔑 New admin token for the local CLI saved with mode 0600 to ${admin.file}`)
        if (admin?.first === true) {
          print.line(`   🔑 Admin token (shown once; saved with mode 0600 to ${admin.file}):`)
          print.line(`      ${admin.token}`)
        }
        if (netState !== undefined) {
          print.line(`   Peer ID: ${netState.peer_id}`)
          for (const a of netState.addresses) print.line(`   Peer address: ${a}`)
        } else {
          print.line('   Peer network: off')
        }
        const opened = node
        await new Promise<void>((resolve) => {
          let stopping = false
          const stop = (signal: string): void => {
            if (stopping) {
              // a second signal: leave now; the store is crash-safe
              process.stderr.write(`Error: ${signal} again; exiting without waiting\n`)
              process.exit(130)
            }
            stopping = true
            print.line(`🛑 ${signal}: stopping (finishing ${server.inFlight()} request(s))`)
            server.close(config.api.shutdown_grace_ms)
              .then(async () => { await opened.close() })
              .then(() => { print.line('✅ Daemon stopped cleanly'); resolve() })
              .catch((err) => { process.stderr.write(`Error: shutdown failed: ${errorMessage(err)}\n`); status.code = 1; resolve() })
          }
          process.on('SIGINT', () => stop('SIGINT'))
          process.on('SIGTERM', () => stop('SIGTERM'))
        })
        node = undefined
      } catch (err) {
        print.error(`Error: ${errorMessage(err)}`)
        status.code = 1
      } finally {
        await node?.close().catch(() => {})
      }
    })
}
