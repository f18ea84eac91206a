/**
 * A data directory held by another process: the CLI names the holder and
 * points at --api, and works again once the holder is gone.
 */
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIST, cliJson, expectCleanError, expectOk, freshDataDir, runCli, uploadedHash } from '../helpers/cli.js'

const HOLDER = `
import ${JSON.stringify(pathToFileURL(join(DIST, 'polyfill.js')).href)}
const { LocalNode } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'node.js')).href)})
const { loadConfig } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'config.js')).href)})
const node = await LocalNode.open(loadConfig({ dataDir: process.env.HOLD_DIR }), 'test holder')
process.stdout.write('ready ' + process.pid + '\\n')
setInterval(() => {}, 1 << 30)
process.on('SIGTERM', async () => { await node.close(); process.exit(0) })
`

/** Start a process that holds the store open; resolves once it has it. */
async function hold (dataDir: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER], {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENHASH_'))), HOLD_DIR: dataDir },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`holder did not start: ${out} ${err}`)) }, 20_000)
    child.stderr.on('data', (b: Buffer) => { err += b.toString() })
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('\n')) { clearTimeout(timer); resolve() }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`holder exited with ${String(code)}: ${err}`)) })
  })
  expect(out.trim()).toBe(`ready ${String(child.pid)}`)
  return child
}

async function stop (child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill(signal)
  await exited
}

describe('a data directory held by another process', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  let hash: string
  const holders: ChildProcessWithoutNullStreams[] = []

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
    await writeFile(join(work.path, 'a.txt'), 'locked content\n')
    hash = uploadedHash(expectOk(await runCli(['add', join(work.path, 'a.txt')], { dataDir: data.path })))
  })
  afterAll(async () => {
    for (const h of holders) await stop(h, 'SIGKILL')
    await data.cleanup()
    await work.cleanup()
  })

  it('the CLI names the holder pid and mentions --api; the store works again after it is killed', async () => {
    const holder = await hold(data.path)
    holders.push(holder)
    const pid = String(holder.pid)
    for (const args of [['list'], ['add', join(work.path, 'a.txt')], ['get', hash], ['gc']]) {
      const line = expectCleanError(await runCli(args, { dataDir: data.path, timeoutMs: 20_000 }))
      expect(line).toMatch(new RegExp(`\\b${pid}\\b`))
      expect(line).toContain('--api')
      expect(line).toContain(data.path)
    }
    const j = await runCli(['--json', 'stats'], { dataDir: data.path })
    expectCleanError(j)
    expect(JSON.parse(j.stdout).code).toBe('STORE_LOCKED')
    // the refused CLI did not remove the holder's lock record
    const lock = JSON.parse(await readFile(join(data.path, 'lock.json'), 'utf8'))
    expect(lock.pid).toBe(holder.pid)

    // an abrupt death leaves a stale lock.json; the next CLI run must not be blocked by it
    await stop(holder, 'SIGKILL')
    const list = await cliJson(['list'], { dataDir: data.path })
    expect(list.map((i: any) => i.hash)).toEqual([hash])
    expect((await cliJson(['verify'], { dataDir: data.path })).ok).toBe(true)
  })

  it('a holder that closes gracefully releases the store', async () => {
    const holder = await hold(data.path)
    holders.push(holder)
    expectCleanError(await runCli(['list'], { dataDir: data.path }), String(holder.pid))
    await stop(holder, 'SIGTERM')
    expect(holder.exitCode).toBe(0)
    expectOk(await runCli(['get', hash], { dataDir: data.path }))
  })
})
