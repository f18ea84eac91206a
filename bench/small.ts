/**
 * Many small uploads over HTTP (issue 15's group commit): 64 and 256
 * concurrent clients, each uploading 4 KiB files of random bytes to a fresh
 * daemon, every answer checked against the SHA-256 of what was sent. The
 * anchor, measured in the same run on the same file system: this disk's
 * sequential rate of (append 4 KiB + fdatasync), the rate at which uploads
 * could be acknowledged if each paid for its own sync.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { firstAnswer, freePort, peakRssMib, percentile, round, startDaemon } from './http.js'

type Log = (line: string) => void

/** 3x the disk's own sequential fdatasync rate, for 64 clients (issue 15). */
const TARGET_RATIO = 3
const FILE = 4096

/** Sequential appends of 4 KiB, each followed by fdatasync: syncs per second. */
export async function fdatasyncRate (dir: string, count = 2000): Promise<number> {
  const path = join(dir, 'fsync-probe')
  const fh = await open(path, 'w')
  const buf = randomBytes(FILE)
  try {
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      await fh.write(buf, 0, FILE, i * FILE)
      await fh.datasync()
    }
    return count / ((performance.now() - started) / 1000)
  } finally {
    await fh.close()
    await rm(path, { force: true })
  }
}

async function uploads (url: string, clients: number, perClient: number): Promise<Record<string, unknown>> {
  const latency: number[] = []
  let failures = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let r = 0; r < perClient; r++) {
      const payload = randomBytes(FILE)
      const form = new FormData()
      form.append('file', new Blob([payload]), 'small.bin')
      const t = performance.now()
      const res = await fetch(`${url}/upload/file`, { method: 'POST', body: form })
      const body = await res.json() as { hash?: string }
      latency.push(performance.now() - t)
      if (res.status !== 200 || body.hash !== createHash('sha256').update(payload).digest('hex')) failures++
    }
  }))
  const seconds = (performance.now() - started) / 1000
  return {
    clients,
    uploads: latency.length,
    failures,
    uploads_per_s: round(latency.length / seconds),
    latency_ms: { p50: round(percentile(latency, 50)), p99: round(percentile(latency, 99)), max: round(Math.max(...latency)) }
  }
}

export async function smallUploadsBench (options: { cli: string, work: string, log: Log }): Promise<Record<string, unknown>> {
  const { cli, work, log } = options
  const probeDir = await mkdtemp(join(work, 'fsync-'))
  const fsyncBefore = await fdatasyncRate(probeDir)
  log(`small: this disk's sequential 4 KiB append + fdatasync: ${round(fsyncBefore)}/s`)
  const runs: Array<Record<string, unknown>> = []
  for (const [clients, perClient] of [[64, 40], [256, 12]]) {
    const d = await startDaemon(cli, work, await freePort())
    try {
      await firstAnswer(d.url, d.spawnedAt)
      await d.ready
      await uploads(d.url, 8, 5) // warm-up: compile the hot paths before the figure
      const r = await uploads(d.url, clients, perClient)
      r.daemon_peak_rss_mib = await peakRssMib(d.proc.pid!)
      runs.push(r)
      log(`small: ${clients} clients: ${String(r.uploads_per_s)} uploads/s, latency ${JSON.stringify(r.latency_ms)}, failures ${String(r.failures)}`)
    } finally {
      await d.stop()
    }
  }
  const fsyncAfter = await fdatasyncRate(probeDir)
  await rm(probeDir, { recursive: true, force: true })
  const fsync = (fsyncBefore + fsyncAfter) / 2
  const at64 = runs[0].uploads_per_s as number
  return {
    method: 'fresh daemon per client count (defaults, pack backend, peer network on 127.0.0.1); N fetch() clients in the bench process, each POSTing 4 KiB random files to /upload/file one after another; an upload counts only if answered 200 with the SHA-256 of its bytes; 40 warm-up uploads first. Anchor: sequential 4 KiB append + fdatasync on the same file system, 2,000 times, before and after (mean)',
    fdatasync_per_s: { before: round(fsyncBefore), after: round(fsyncAfter), mean: round(fsync) },
    runs,
    ratio_64_clients_to_fdatasync: round(at64 / fsync, 2),
    target_ratio: TARGET_RATIO,
    meets_target: at64 / fsync >= TARGET_RATIO,
    all_ok: runs.every(r => r.failures === 0)
  }
}
