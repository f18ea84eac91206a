/**
 * What every command gets: the node (in-process here; a daemon through the
 * HTTP client once --api lands) and a printer that honours --json.
 */
import type { Command } from 'commander'
import { loadConfig, processSettings, resolveDataDir } from '../config.js'
import { ConfigInvalidError, isOpenHashError } from '../errors.js'
import type { OpenHashNode } from '../interface.js'
import { LocalNode } from '../node.js'
import { OpenHashClient } from '../client/client.js'
import { readLockInfo } from '../store/open.js'
import { diskFullError, isDiskFull } from '../disk-full.js'
import { readAdminToken } from '../auth/admin-token.js'

export interface Printer {
  json: boolean
  /** Human output (suppressed with --json). */
  line(text?: string): void
  /** The command's result as JSON (only with --json). */
  result(value: unknown): void
  /** One line on stderr. */
  error(text: string): void
}

export interface CliContext {
  node: OpenHashNode
  print: Printer
}

export interface GlobalOptions {
  dataDir?: string
  api?: string
  token?: string
  json?: boolean
  config?: string[]
}

/** `-c section.key=value` flags as a config override object (values parsed as JSON when they parse). */
export function parseConfigFlags (flags: string[] = []): Record<string, any> {
  const out: Record<string, any> = {}
  for (const flag of flags) {
    const m = /^([a-z_]+)\.([a-z_]+)=(.*)$/s.exec(flag)
    if (m === null) throw new ConfigInvalidError(`invalid --config "${flag}": expected section.key=value, e.g. storage.backend=leveldb`)
    let value: unknown = m[3]
    try { value = JSON.parse(m[3]) } catch {}
    out[m[1]] ??= {}
    out[m[1]][m[2]] = value
  }
  return out
}

export function makePrinter (json: boolean): Printer {
  return {
    json,
    line (text = '') { if (!json) process.stdout.write(text + '\n') },
    result (value) { if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n') },
    error (text) { process.stderr.write(text.replace(/\s*\n\s*/g, ' ') + '\n') }
  }
}

/** Exit status the CLI returns once its command settles. */
export const status = { code: 0 }

export function errorMessage (err: unknown): string {
  if (isOpenHashError(err)) return err.message
  if (isDiskFull(err)) return diskFullError(err).message
  if (err instanceof Error) return err.message
  return String(err)
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err?.code === 'EPERM'
  }
}

/** Same scheme, host and port (an --api URL and the address a lock file names). */
function sameOrigin (a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin
  } catch {
    return false
  }
}

/**
 * The node a command talks to: the daemon at --api (or $OPENHASH_API); else
 * the daemon that holds the data directory (its lock file names its API
 * address); else the store itself, in-process. The data directory's admin
 * token goes only to the daemon that holds that directory: found through the
 * lock file, or an --api URL that is exactly the address the lock names.
 */
export async function openNode (globals: GlobalOptions, command: string): Promise<OpenHashNode> {
  const env = processSettings()
  const api = globals.api ?? env.api
  const token = (globals.token === '' ? undefined : globals.token) ?? env.token
  if (api !== undefined) {
    if (token !== undefined) return new OpenHashClient({ url: api, token })
    const dataDir = resolveDataDir(globals.dataDir)
    const lock = await readLockInfo(dataDir)
    const own = lock?.api !== undefined && lock.pid !== process.pid && processAlive(lock.pid) && sameOrigin(lock.api, api)
    return new OpenHashClient({ url: api, token: own ? await readAdminToken(dataDir) : undefined })
  }
  const config = loadConfig({ dataDir: globals.dataDir, overrides: parseConfigFlags(globals.config) })
  const lock = await readLockInfo(config.data_dir)
  if (lock?.api !== undefined && lock.pid !== process.pid && processAlive(lock.pid)) {
    // the daemon of our own data directory: its admin token is ours to use (never sent to an --api URL)
    return new OpenHashClient({ url: lock.api, token: token ?? await readAdminToken(config.data_dir) })
  }
  return await LocalNode.open(config, command)
}

/** Run a command action with an open node; errors become one line on stderr. */
export async function withNode (cmd: Command, action: (ctx: CliContext) => Promise<number | void>): Promise<void> {
  const globals = cmd.optsWithGlobals<GlobalOptions>()
  const print = makePrinter(globals.json === true)
  let node: OpenHashNode | undefined
  try {
    node = await openNode(globals, `openhash ${cmd.name()}`)
    const code = await action({ node, print })
    status.code = code ?? 0
  } catch (err) {
    if (processSettings().debug) console.error(err)
    print.error(`Error: ${errorMessage(err)}`)
    if (print.json) process.stdout.write(JSON.stringify({ error: errorMessage(err), code: isOpenHashError(err) ? err.code : isDiskFull(err) ? 'INSUFFICIENT_STORAGE' : 'INTERNAL' }) + '\n')
    status.code = 1
  } finally {
    await node?.close().catch(() => {})
  }
}
