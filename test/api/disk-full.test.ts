/**
 * A full disk end to end (issue 13, defects 2, 6 and 7): a real `openhash
 * daemon` with its data directory on a small tmpfs (mounted as root;
 * skipped with a printed reason otherwise), real HTTP on loopback, the real
 * CLI in-process against the data directory.
 *
 * Uploads until the disk is full: every acknowledged upload reads back
 * intact (after the fill and after restarts), the failing ones answer 507
 * with the disk-full message; the daemon restarts on the full disk; rm + gc
 * free space (the data directory shrinks back, uploads succeed again); with
 * the disk filled to the last byte by someone else, the CLI and the daemon
 * still start and can delete.
 */
import { createHash } from 'node:crypto'
import { readdir, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCleanError, expectOk, runCli, show } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'
import { fillDisk, freeBytes, mountTmpfs } from '../helpers/tmpfs.js'
import type { Tmpfs } from '../helpers/tmpfs.js'

const MiB = 1024 * 1024
const FILE = 3 * MiB + 12345
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const rand = prng(13)

let fs: Tmpfs | undefined
let data = ''
let daemon: DaemonProcess | undefined

async function upload (bytes: Uint8Array, filename: string): Promise<Response> {
  const form = new FormData()
  form.append('file', new Blob([bytes]), filename)
  return await fetch(`${daemon!.url}/upload/file`, { method: 'POST', body: form })
}

async function readBack (hash: string): Promise<string> {
  const res = await fetch(`${daemon!.url}/download/${hash}`)
  expect(res.status, `download ${hash}`).toBe(200)
  return sha(new Uint8Array(await res.arrayBuffer()))
}

/** Bytes the data directory occupies (allocated blocks, recursively). */
async function diskUse (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await diskUse(p)
    else total += ((await stat(p).catch(() => undefined))?.blocks ?? 0) * 512 // a pack compaction just unlinked
  }
  return total
}

async function start (env?: Record<string, string>): Promise<DaemonProcess> {
  daemon = await startDaemon(data, { args: ['--no-network'], env })
  return daemon
}

beforeAll(async () => {
  const m = await mountTmpfs(80)
  if ('skip' in m) { console.log(m.skip); return }
  fs = m
  data = join(fs.path, 'data')
})

afterAll(async () => {
  await daemon?.stop('SIGKILL')
  await fs?.unmount()
})

describe('full disk (daemon on a 80 MiB tmpfs)', () => {
  it('never acknowledges a bad upload, answers 507, recovers after rm + gc, and starts on a full disk', async (ctx) => {
    if (fs === undefined) { ctx.skip(); return }
    await start()
    // the space reserve is made at start
    expect((await stat(join(data, 'reserve'))).size).toBe(16 * MiB)

    // 1. upload until the disk is full
    const acked: string[] = []
    let refused = 0
    for (let i = 0; i < 40 && refused < 3; i++) {
      const bytes = rand(FILE)
      const res = await upload(bytes, `f${i}.bin`)
      const body = await res.json() as any
      if (res.status === 200) {
        expect(body.hash).toBe(sha(bytes))
        acked.push(body.hash)
      } else {
        expect(res.status, JSON.stringify(body)).toBe(507)
        expect(body.error_code).toBe('INSUFFICIENT_STORAGE')
        expect(body.message).toMatch(/^disk full/)
        refused++
      }
    }
    expect(refused, 'the disk filled up').toBe(3)
    expect(acked.length).toBeGreaterThan(5)
    for (const h of acked) expect(await readBack(h), `acknowledged ${h} after the fill`).toBe(h)
    const verify = await (await fetch(`${daemon!.url}/verify`, { method: 'POST' })).json() as any
    expect(verify.problems).toEqual([])

    // 2. restart on the full disk
    expect(await daemon!.stop()).toBe(0)
    await start()
    for (const h of acked) expect(await readBack(h), `acknowledged ${h} after a restart`).toBe(h)

    // 3. rm + gc free space: the data directory shrinks back, uploads succeed again
    const full = await diskUse(data)
    const keep = acked.slice(0, 2)
    for (const h of acked.slice(2)) expect((await fetch(`${daemon!.url}/content/${h}`, { method: 'DELETE' })).status).toBe(200)
    const gc = await fetch(`${daemon!.url}/gc`, { method: 'POST' })
    expect(gc.status, await gc.clone().text()).toBe(200)
    const shrunk = await diskUse(data)
    console.log(`disk-full: ${acked.length} uploads acknowledged, data dir ${full} bytes full, ${shrunk} after rm + gc (${keep.length} files of ${FILE} bytes live)`)
    // live bytes + the space reserve (recreated once there is room) + a little metadata
    expect(shrunk, `data dir ${full} bytes before, ${shrunk} after`).toBeLessThan(keep.length * FILE + 16 * MiB + 4 * MiB)
    const again = rand(FILE)
    const res = await upload(again, 'again.bin')
    expect(res.status, await res.clone().text()).toBe(200)
    keep.push(sha(again))
    for (const h of keep) expect(await readBack(h)).toBe(h)
    expect(await daemon!.stop()).toBe(0)

    // 4. someone else fills the disk to the last byte: the CLI (in-process) and the daemon still start
    const filler = join(fs.path, 'filler')
    await fillDisk(filler, 0)
    expect(await freeBytes(fs.path)).toBeLessThan(64 * 1024)
    const ls = expectOk(await runCli(['--json', 'list'], { dataDir: data }))
    expect(JSON.parse(ls.stdout).map((c: any) => c.hash).sort()).toEqual([...keep].sort())
    const rm = await runCli(['rm', keep[0]], { dataDir: data })
    expect(rm.code, show(rm)).toBe(0)
    const gcCli = await runCli(['gc'], { dataDir: data })
    expect(gcCli.code, show(gcCli)).toBe(0)
    // an add on the full disk: one clear line on stderr, a non-zero exit, nothing stored
    const src = await tempDir('openhash-disk-full-src-')
    try {
      await writeFile(join(src.path, 'big.bin'), rand(FILE))
      const add = await runCli(['add', join(src.path, 'big.bin')], { dataDir: data })
      expectCleanError(add, /^Error: disk full/)
    } finally {
      await src.cleanup()
    }
    const lsAfter = expectOk(await runCli(['--json', 'list'], { dataDir: data }))
    expect(JSON.parse(lsAfter.stdout).map((c: any) => c.hash).sort()).toEqual(keep.slice(1).sort())
    await start()
    for (const h of keep.slice(1)) expect(await readBack(h), `acknowledged ${h} on the full disk`).toBe(h)
    // an upload on the full disk is refused cleanly, then works once space is back
    const refusedNow = await upload(rand(FILE), 'no-room.bin')
    expect(refusedNow.status).toBe(507)
    expect((await refusedNow.json() as any).message).toMatch(/^disk full/)
    await unlink(filler)
    const after = rand(FILE)
    const ok = await upload(after, 'after.bin')
    expect(ok.status, await ok.clone().text()).toBe(200)
    expect(await readBack(sha(after))).toBe(sha(after))
    expect(await daemon!.stop()).toBe(0)
  }, 120_000)
})

describe('quota bounds disk use (daemon on an 80 MiB tmpfs, 40 MiB quota)', () => {
  it('fill, release, fill again (three times): every upload fits, dead pack space is reclaimed, disk use stays near the quota', async (ctx) => {
    const m = await mountTmpfs(80)
    if ('skip' in m) { console.log(m.skip); ctx.skip(); return }
    const QUOTA = 40 * MiB
    try {
      data = join(m.path, 'data')
      await start({ OPENHASH_STORAGE_MAX_BYTES: String(QUOTA) })
      let peak = 0
      for (let round = 0; round < 3; round++) {
        const hashes: string[] = []
        for (let i = 0; i < 12; i++) {
          const bytes = rand(FILE)
          const res = await upload(bytes, `r${round}-${i}.bin`)
          expect(res.status, `round ${round} upload ${i}: ${await res.clone().text()}`).toBe(200)
          hashes.push(sha(bytes))
          peak = Math.max(peak, await diskUse(data))
        }
        for (const h of hashes) expect(await readBack(h)).toBe(h)
        // released: evictable cached content for the next round
        for (const h of hashes) expect((await fetch(`${daemon!.url}/content/${h}`, { method: 'DELETE' })).status).toBe(200)
      }
      console.log(`quota: peak data dir ${peak} bytes under a ${QUOTA} byte quota (reserve 16 MiB included)`)
      // quota + the eviction band's dead space + one file + the reserve + metadata
      expect(peak).toBeLessThan(QUOTA * 1.2 + FILE + 16 * MiB + 4 * MiB)
      expect(await daemon!.stop()).toBe(0)
    } finally {
      await daemon?.stop('SIGKILL')
      await m.unmount()
    }
  }, 120_000)
})
