/**
 * Daemons for tests: a real `openhash daemon` child process on 127.0.0.1
 * (port 0), or an in-process API server over a LocalNode for endpoint tests.
 */
import { spawn } from 'node:child_process'
import { afterAll } from 'vitest'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import { BIN, ROOT } from './cli.js'

export interface DaemonProcess {
  url: string
  proc: ChildProcessWithoutNullStreams
  /** stdout so far. */
  output(): string
  stderr(): string
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

const running = new Set<ChildProcessWithoutNullStreams>()
process.on('exit', () => { for (const p of running) p.kill('SIGKILL') })
// a test file never leaves a daemon behind, whatever its own cleanup did (runs after the file's hooks)
afterAll(() => { for (const p of running) p.kill('SIGKILL') })

export async function startDaemon (dataDir: string, options: { args?: string[], env?: Record<string, string> } = {}): Promise<DaemonProcess> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('OPENHASH_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v
  }
  Object.assign(env, { HOME: '/dev/null', OPENHASH_DATA_DIR: dataDir }, options.env)
  const proc = spawn(process.execPath, [BIN, 'daemon', '--api-host', '127.0.0.1', '--api-port', '0', '--p2p-host', '127.0.0.1', '--p2p-port', '0', ...(options.args ?? [])], { env, cwd: ROOT })
  running.add(proc)
  let out = ''
  let err = ''
  proc.stdout.on('data', (b: Buffer) => { out += b.toString('utf8') })
  proc.stderr.on('data', (b: Buffer) => { err += b.toString('utf8') })
  const exited = new Promise<number | null>(resolve => proc.on('exit', (code) => { running.delete(proc); resolve(code) }))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start in 20 s\n${out}\n${err}`)), 20_000)
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    }
    proc.stdout.on('data', check)
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`daemon exited with ${String(code)} before listening\n${out}\n${err}`)) })
  })
  return {
    url,
    proc,
    output: () => out,
    stderr: () => err,
    async stop (signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode
      proc.kill(signal)
      return await exited
    }
  }
}

export interface InProcessApi { url: string, node: LocalNode, server: RunningServer, close(): Promise<void> }

/** An API server in this process over a fresh LocalNode (overrides: config sections). */
export async function startInProcessApi (dataDir: string, overrides: Record<string, any> = {}): Promise<InProcessApi> {
  const config = loadConfig({ dataDir, env: {}, overrides })
  const node = await LocalNode.open(config, 'test api')
  const server = await startServer(node, { host: '127.0.0.1', port: 0, maxUploadBytes: config.api.max_upload_bytes })
  await node.announceApi(server.url)
  return {
    url: server.url,
    node,
    server,
    async close () {
      await server.close(1000)
      await node.close()
    }
  }
}
