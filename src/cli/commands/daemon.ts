import type { Command } from 'commander'
import { loadConfig, processSettings } from '../../config.js'
import type { Config } from '../../config.js'
import { startDaemon } from '../../daemon.js'
import type { RunningDaemon } from '../../daemon.js'
import { enableLogs } from '../../logger.js'
import { tuneHeapForDaemon } from '../heap.js'
import type { GlobalOptions, Printer } from '../context.js'
import { errorMessage, makePrinter, parseConfigFlags, status } from '../context.js'

interface DaemonFlags {
  apiHost?: string
  apiPort?: number
  p2pHost?: string
  p2pPort?: number
  bootstrap?: string[]
  mdns?: boolean
  network?: boolean
  insecure?: boolean
}

function port (value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`invalid --api-port "${value}": expected 0-65535 (0 picks a free port)`)
  return Number(value)
}

/** Flags and --config values into one config: file < OPENHASH_* < --config < the daemon's own flags. */
function configFrom (globals: GlobalOptions, opts: DaemonFlags): Config {
  const overrides = parseConfigFlags(globals.config)
  const api: Record<string, unknown> = { ...(overrides.api ?? {}) }
  if (opts.apiHost !== undefined) api.host = opts.apiHost
  if (opts.apiPort !== undefined) api.port = opts.apiPort
  const net: Record<string, unknown> = { ...(overrides.network ?? {}) }
  if (opts.p2pHost !== undefined) net.host = opts.p2pHost
  if (opts.p2pPort !== undefined) net.port = opts.p2pPort
  if (opts.mdns === true) net.mdns = true
  if (opts.network === false) net.enabled = false
  if (opts.bootstrap !== undefined) {
    // --bootstrap adds to network.bootstrap as the file and --config set it
    const base = loadConfig({ dataDir: globals.dataDir, overrides: { ...overrides, api, network: net } })
    net.bootstrap = [...base.network.bootstrap, ...opts.bootstrap]
  }
  return loadConfig({ dataDir: globals.dataDir, overrides: { ...overrides, api, network: net } })
}

function authLine (config: Config, required: boolean): string {
  if (required) return `   Auth: tokens required${config.api.public_reads ? ' (reads of /view, /download, /info are public)' : ''}`
  return config.api.auth === 'auto'
    ? '   Auth: off for local clients (forwarded and remote ones need a token; cross-origin changes, /tokens and /audit always do)'
    : '   Auth: off (loopback only; cross-origin changes, /tokens and /audit still need a token)'
}

function printStarted (print: Printer, config: Config, d: RunningDaemon): void {
  const net = d.node.net?.state()
  const admin = d.admin
  print.result({
    url: d.url,
    port: d.port,
    data_dir: config.data_dir,
    pid: process.pid,
    peer_id: net?.peer_id ?? null,
    addresses: net?.addresses ?? [],
    auth: d.authRequired ? 'on' : 'off',
    ...(admin?.token !== undefined ? { admin_token: admin.token } : {}),
    ...(admin !== undefined ? { admin_token_file: admin.file } : {})
  })
  print.line(`🚀 OpenHashDB daemon listening on ${d.url}`)
  print.line(`   Data directory: ${config.data_dir}`)
  print.line(`   API docs: ${d.url}/docs`)
  print.line(authLine(config, d.authRequired))
  if (admin !== undefined && !admin.first) print.line(`   🔑 New admin token for the local CLI saved with mode 0600 to ${admin.file}`)
  if (admin?.token !== undefined) {
    print.line(`   🔑 Admin token (shown once; saved with mode 0600 to ${admin.file}):`)
    print.line(`      ${admin.token}`)
  }
  if (net === undefined) {
    print.line('   Peer network: off')
    return
  }
  print.line(`   Peer ID: ${net.peer_id}`)
  for (const a of net.addresses) print.line(`   Peer address: ${a}`)
}

/** Resolves once SIGINT or SIGTERM has stopped the daemon; a second signal exits at once (the store is crash-safe). */
async function untilStopped (print: Printer, d: RunningDaemon): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`Error: ${signal} again; exiting without waiting\n`)
        process.exit(130)
      }
      stopping = true
      print.line(`🛑 ${signal}: stopping (finishing ${d.inFlight()} request(s))`)
      d.stop()
        .then(() => { print.line('✅ Daemon stopped cleanly') })
        .catch((err) => { process.stderr.write(`Error: shutdown failed: ${errorMessage(err)}\n`); status.code = 1 })
        .finally(resolve)
    }
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
  })
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
    .action(async (opts: DaemonFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>()
      const print = makePrinter(globals.json === true)
      const env = processSettings()
      tuneHeapForDaemon()
      enableLogs(env.logNamespaces)
      try {
        const config = configFrom(globals, opts)
        const daemon = await startDaemon({
          config,
          insecure: opts.insecure === true,
          requestLog: print.json ? undefined : (line) => process.stdout.write(line + '\n'),
          networkLog: env.networkDebug ? (line) => process.stderr.write(`[net] ${line}\n`) : undefined
        })
        printStarted(print, config, daemon)
        await untilStopped(print, daemon)
      } catch (err) {
        print.error(`Error: ${errorMessage(err)}`)
        status.code = 1
      }
    })
}
