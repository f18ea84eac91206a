import { readFileSync } from 'node:fs'
/**
 * Run the real `openhash` CLI (bin/openhash over the compiled dist/) as a
 * child process and capture what it does. Every run gets a hermetic
 * environment: no inherited OPENHASH_* variables, HOME=/dev/null (so
 * ~/.openhash can never be used: a run without a data directory fails), and
 * the data directory given explicitly through OPENHASH_DATA_DIR.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect } from 'vitest'
import type { DaemonProcess } from './daemon.js'
import { startDaemon } from './daemon.js'

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'openhash')
export const DIST = join(ROOT, 'dist', 'src')
/** The default chunk size (config/default.json). */
/** The shipped default chunk size (config/default.json), so boundary tests follow it. */
export const CHUNK: number = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')).storage.chunk_size

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Raw stdout bytes (for `get -o -`). */
  stdoutBuf: Buffer
  /** True when the run was killed because it exceeded its timeout. */
  timedOut: boolean
}

export interface RunOptions {
  /** Data directory (OPENHASH_DATA_DIR); required unless env provides it. */
  dataDir?: string
  /** Extra environment variables (added on top of the hermetic base). */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Kill the CLI after this many ms (default 60 s). */
  timeoutMs?: number
  input?: string | Buffer
  /**
   * Run under a pseudo-terminal (util-linux `script`), as a user at a terminal
   * would: stdout then carries stdout and stderr together, terminal codes included.
   */
  tty?: boolean
}

const shellQuote = (a: string): string => "'" + a.replace(/'/g, "'\\''") + "'"

/** HOME for the CLI: ~/.openhash would be /dev/null/.openhash, which cannot be created. */
const NO_HOME = '/dev/null'

function baseEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (k.startsWith('OPENHASH_')) continue
    if (k.startsWith('VITEST') || k === 'NODE_OPTIONS' || k === 'TEST' || k === 'NODE_ENV') continue
    env[k] = v
  }
  return env
}

/**
 * The CLI suite runs twice (vitest.config.ts projects): in-process, and with
 * OPENHASH_TEST_CLI_MODE=api, where every data directory is served by a real
 * `openhash daemon` and each command reaches it with --api <url>.
 */
export const API_MODE = process.env.OPENHASH_TEST_CLI_MODE === 'api'
const daemons = new Map<string, Promise<DaemonProcess>>()

async function daemonFor (dataDir: string): Promise<DaemonProcess> {
  let d = daemons.get(dataDir)
  if (d === undefined) {
    // the CLI parity suite compares with the in-process CLI, which has no peer network (test/net covers it)
    d = startDaemon(dataDir, { args: ['--no-network'] })
    daemons.set(dataDir, d)
  }
  return await d
}

/** Stop the daemon serving dataDir (API mode), e.g. before removing the directory. */
export async function stopDaemonFor (dataDir: string): Promise<void> {
  const d = daemons.get(dataDir)
  if (d === undefined) return
  daemons.delete(dataDir)
  const code = await (await d).stop('SIGTERM')
  expect(code, 'the daemon exits cleanly on SIGTERM').toBe(0)
}

/** Run `node bin/openhash ...args`; never rejects (a failed run is a result). */
export async function runCli (args: string[], options: RunOptions = {}): Promise<CliResult> {
  if (API_MODE && options.dataDir !== undefined && args[0] !== 'daemon' && options.env?.OPENHASH_DATA_DIR === undefined) {
    args = ['--api', (await daemonFor(options.dataDir)).url, ...args]
  }
  const env: Record<string, string> = { ...baseEnv(), HOME: NO_HOME }
  if (options.dataDir !== undefined) env.OPENHASH_DATA_DIR = options.dataDir
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  const timeoutMs = options.timeoutMs ?? 60_000
  return await new Promise((_resolve, reject) => {
    const argv = options.tty === true
      ? ['script', ['-qefc', [process.execPath, BIN, ...args].map(shellQuote).join(' '), '/dev/null']] as const
      : [process.execPath, [BIN, ...args]] as const
    const child = spawn(argv[0], argv[1], { env, cwd: options.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => { clearTimeout(timer); reject(e) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const stdoutBuf = Buffer.concat(out)
      _resolve({ code, signal, stdout: stdoutBuf.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBuf, timedOut })
    })
    child.stdin.on('error', () => {})
    if (options.input !== undefined) child.stdin.end(options.input)
    else child.stdin.end()
  })
}

/** A fresh data directory; `cleanup` removes it. */
export async function freshDataDir (prefix = 'openhash-cli-'): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return {
    path,
    cleanup: async () => {
      // daemons of this directory and of any data directory inside it
      for (const dir of [...daemons.keys()]) if (dir === path || dir.startsWith(path + '/')) await stopDaemonFor(dir)
      await rm(path, { recursive: true, force: true })
    }
  }
}

/** Describe a result for assertion messages. */
export function show (r: CliResult): string {
  return `exit ${String(r.code)}${r.signal !== null ? ` (signal ${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`
}

/** Assert a run succeeded (exit 0) and wrote nothing to stderr. */
export function expectOk (r: CliResult): CliResult {
  expect(r.timedOut, show(r)).toBe(false)
  expect(r.code, show(r)).toBe(0)
  expect(r.stderr, show(r)).toBe('')
  return r
}

/**
 * Assert a run failed cleanly: non-zero exit, exactly one line on stderr,
 * starting with "Error:", no stack trace. Returns that line.
 */
export function expectCleanError (r: CliResult, pattern?: RegExp | string): string {
  expect(r.timedOut, show(r)).toBe(false)
  expect(r.signal, show(r)).toBeNull()
  expect(r.code, show(r)).not.toBe(0)
  expect(r.stderr.endsWith('\n'), show(r)).toBe(true)
  const lines = r.stderr.slice(0, -1).split('\n')
  expect(lines, show(r)).toHaveLength(1)
  expect(lines[0], show(r)).toMatch(/^Error: \S/)
  expect(r.stderr, show(r)).not.toContain('    at ')
  if (pattern !== undefined) {
    if (typeof pattern === 'string') expect(lines[0], show(r)).toContain(pattern)
    else expect(lines[0], show(r)).toMatch(pattern)
  }
  return lines[0]
}

/** Run with --json, expect success, and return the parsed output. */
export async function cliJson<T = any> (args: string[], options: RunOptions = {}): Promise<T> {
  const r = expectOk(await runCli(['--json', ...args], options))
  try {
    return JSON.parse(r.stdout) as T
  } catch (err) {
    throw new Error(`stdout of openhash --json ${args.join(' ')} is not JSON: ${String(err)}\n${show(r)}`)
  }
}

/** The hash the CLI printed for `add` ("✅ File uploaded: <hash>"). */
export function uploadedHash (r: CliResult, kind: 'File' | 'Directory' = 'File'): string {
  const m = new RegExp(`^✅ ${kind} uploaded: ([0-9a-f]{64})$`, 'm').exec(r.stdout)
  expect(m, show(r)).not.toBeNull()
  return m![1]
}

const execFileP = promisify(execFile)

/** SHA-256 by the real coreutils `sha256sum` binary. */
export async function sha256sum (path: string): Promise<string> {
  const { stdout } = await execFileP('sha256sum', ['--', path], { maxBuffer: 1024 * 1024 })
  const m = /^\\?([0-9a-f]{64}) /.exec(stdout)
  if (m === null) throw new Error(`unexpected sha256sum output: ${stdout}`)
  return m[1]
}

/** Everything a store exposes through the CLI, for before/after comparisons. */
export async function snapshot (dataDir: string): Promise<{ list: unknown, stats: unknown }> {
  const list = await cliJson(['list'], { dataDir })
  const stats = await cliJson(['stats'], { dataDir })
  return { list, stats }
}
