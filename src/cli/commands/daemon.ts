import type { Command } from 'commander'
import { startServer } from '../../api/server.js'
import { loadConfig } from '../../config.js'
import { LocalNode } from '../../node.js'
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
    .action(async (opts: { apiHost?: string, apiPort?: number }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>()
      const print = makePrinter(globals.json === true)
      let node: LocalNode | undefined
      try {
        const overrides = parseConfigFlags(globals.config)
        const config = loadConfig({ dataDir: globals.dataDir, overrides })
        const host = opts.apiHost ?? config.api.host
        const listenPort = opts.apiPort ?? config.api.port
        node = await LocalNode.open(config, 'openhash daemon')
        const server = await startServer(node, {
          host,
          port: listenPort,
          maxUploadBytes: config.api.max_upload_bytes,
          log: config.api.request_log && !print.json ? (line) => process.stdout.write(line + '\n') : undefined
        }).catch((err: any) => {
          throw new Error(err?.code === 'EADDRINUSE'
            ? `cannot listen on ${host}:${listenPort}: address already in use (choose another with --api-port, or 0 for any free port)`
            : `cannot listen on ${host}:${listenPort}: ${String(err?.message ?? err)}`)
        })
        await node.announceApi(server.url)
        print.result({ url: server.url, port: server.port, data_dir: config.data_dir, pid: process.pid })
        print.line(`🚀 OpenHashDB daemon listening on ${server.url}`)
        print.line(`   Data directory: ${config.data_dir}`)
        print.line(`   API docs: ${server.url}/docs`)
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
