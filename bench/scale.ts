/**
 * A store grown to many objects (issue 15, item 3): how adds, start-up,
 * listing, /info, gc and verify behave as the object count grows.
 *
 * The store is grown in-process through the fast path (Repo.importFile, 64
 * adds in flight, durability deferred to later group commits as a folder add
 * does), each object a unique ~100-byte file.
 * The add rate is timed over the same number of adds at each checkpoint (an
 * empty store, 100k, 1M by default). Then a real daemon (--no-network) opens
 * the store: start-up (spawn to the first /health answer; an empty store's is
 * the anchor, measured in the same run), GET /list?limit=100, GET /info p99,
 * GET /stats, POST /gc and POST /verify, with the daemon's RSS.
 *
 * `npm run bench -- --only scale [--objects N]`.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { openStore } from '../src/store/open.js'
import type { StoreOptions } from '../src/store/open.js'
import { firstAnswer, freePort, peakRssMib, percentile, round, startDaemon } from './http.js'

type Log = (line: string) => void

/** Issue 15's targets at 1M objects. */
export const SCALE_TARGETS = { add_rate_ratio_min: 0.8, startup_ms: 1000, list_ms: 50, info_p99_ms: 5, gc_verify_rss_mib: 300 }
const IN_FLIGHT = 64
const TIMED = 5000

async function * once (b: Uint8Array): AsyncGenerator<Uint8Array> { yield b }

/**
 * `count` adds of unique small files, IN_FLIGHT at a time; adds/s. `bulk`
 * (growing the store) defers each add's durability to the group commits that
 * follow, as a folder add does; the timed adds each wait for their own.
 */
async function addMany (repo: Awaited<ReturnType<typeof openStore>>['repo'], from: number, count: number, hashes?: string[], bulk = false): Promise<number> {
  let next = from
  const end = from + count
  const started = performance.now()
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < end) {
      const i = next++
      const bytes = Buffer.concat([Buffer.from(`object ${i} `), randomBytes(48 + (i % 64))])
      const rec = await repo.importFile(once(bytes), { filename: `o${i}.bin` }, { added: true, deferred: bulk && i < end - IN_FLIGHT })
      if (hashes !== undefined && hashes.length < 10_000) hashes.push(rec.hash)
    }
  }))
  return count / ((performance.now() - started) / 1000)
}

async function getJson (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ ms: number, status: number, body: any }> {
  const t = performance.now()
  const res = await fetch(url, { method, headers })
  const body = await res.json()
  return { ms: performance.now() - t, status: res.status, body }
}

async function latencies (n: number, fn: (i: number) => Promise<{ ms: number, status: number }>): Promise<{ p50: number, p99: number, max: number, failures: number }> {
  const ms: number[] = []
  let failures = 0
  for (let i = 0; i < n; i++) {
    const r = await fn(i)
    ms.push(r.ms)
    if (r.status !== 200) failures++
  }
  return { p50: round(percentile(ms, 50), 2), p99: round(percentile(ms, 99), 2), max: round(Math.max(...ms), 2), failures }
}

async function startupMs (cli: string, work: string, dataDir?: string): Promise<{ ms: number, daemon: Awaited<ReturnType<typeof startDaemon>> }> {
  const d = await startDaemon(cli, work, await freePort(), ['--no-network'], dataDir)
  const ms = await firstAnswer(d.url, d.spawnedAt, 120_000)
  await d.ready
  return { ms, daemon: d }
}

export async function scaleBench (options: { cli: string, work: string, objects?: number, log: Log, storage: StoreOptions }): Promise<Record<string, unknown>> {
  const { cli, work, log } = options
  const objects = options.objects ?? 1_000_000
  const checkpoints = [0, Math.min(100_000, Math.floor(objects / 10)), objects].filter((at, i, all) => i === 0 || at > all[i - 1] + TIMED)
  // the anchor: an empty store's start-up, same run
  const empty = await startupMs(cli, work)
  await empty.daemon.stop()
  // a daemon data dir, grown in-process, then served by the daemon
  const host = await startDaemon(cli, work, await freePort(), ['--no-network'])
  await firstAnswer(host.url, host.spawnedAt)
  await host.ready
  host.proc.kill('SIGTERM')
  await new Promise(resolve => host.proc.once('exit', resolve))
  const dataDir = host.dataDir
  const store = await openStore(dataDir, options.storage, 'bench')
  const addRates: Array<{ at_objects: number, adds_per_s: number }> = []
  const growth: Array<{ to_objects: number, adds_per_s: number }> = []
  const hashes: string[] = []
  let count = 0
  try {
    for (const at of checkpoints) {
      while (count < at) {
        const step = Math.min(100_000, at - count)
        const rate = await addMany(store.repo, count, step, undefined, true)
        count += step
        growth.push({ to_objects: count, adds_per_s: round(rate) })
        log(`scale: grown to ${count} objects (${round(rate)} adds/s)`)
      }
      const rate = await addMany(store.repo, count, TIMED, hashes)
      count += TIMED
      addRates.push({ at_objects: at, adds_per_s: round(rate) })
      log(`scale: ${TIMED} adds at ${at} objects: ${round(rate)} adds/s`)
    }
  } finally {
    await store.close()
  }
  const started = await startupMs(cli, work, dataDir)
  const d = started.daemon
  try {
    log(`scale: daemon start-up at ${count} objects: ${round(started.ms)} ms (empty store: ${round(empty.ms)} ms)`)
    const idleRss = await peakRssMib(d.proc.pid!, 'VmRSS')
    const token = (await readFile(join(dataDir, 'admin.token'), 'utf8').catch(() => '')).trim()
    const auth: Record<string, string> = token === '' ? {} : { Authorization: `Bearer ${token}` }
    await getJson(`${d.url}/list?limit=100`, auth) // warm
    const list = await latencies(50, async () => await getJson(`${d.url}/list?limit=100`, auth))
    let after = ''
    const deep = await latencies(50, async () => {
      const r = await getJson(`${d.url}/list?limit=100${after === '' ? '' : `&after=${after}`}`, auth)
      after = r.body.at(-1)?.hash ?? ''
      return r
    })
    const info = await latencies(2000, async (i) => await getJson(`${d.url}/info/${hashes[i % hashes.length]}`, auth))
    const stats = await latencies(50, async () => await getJson(`${d.url}/stats`, auth))
    const listCount = (await getJson(`${d.url}/list?limit=100`, auth)).body
    log(`scale: /list?limit=100 ${JSON.stringify(list)}, /info ${JSON.stringify(info)}, /stats ${JSON.stringify(stats)}`)
    const rssBefore = await peakRssMib(d.proc.pid!)
    const gc = await getJson(`${d.url}/gc`, auth, 'POST')
    log(`scale: gc ${round(gc.ms)} ms, status ${gc.status}`)
    const verify = await getJson(`${d.url}/verify`, auth, 'POST')
    log(`scale: verify ${round(verify.ms)} ms, status ${verify.status}, ok ${String(verify.body.ok)}`)
    const peak = await peakRssMib(d.proc.pid!)
    return {
      objects: count,
      in_flight: IN_FLIGHT,
      add_rate: addRates,
      add_rate_ratio_at_max: round(addRates[addRates.length - 1].adds_per_s / addRates[0].adds_per_s, 2),
      growth,
      startup_ms: round(started.ms),
      startup_empty_store_ms: round(empty.ms),
      daemon_idle_rss_mib: idleRss,
      list_first_page_ms: list,
      list_paging_after_ms: deep,
      list_page_items: Array.isArray(listCount) ? listCount.length : undefined,
      info_ms: info,
      stats_ms: stats,
      gc: { ms: round(gc.ms), status: gc.status, result: gc.body },
      verify: {
        ms: round(verify.ms),
        status: verify.status,
        ok: verify.body.ok,
        objects_checked: verify.body.objects_checked,
        objects_per_s: round(verify.body.objects_checked / (verify.ms / 1000))
      },
      daemon_peak_rss_before_gc_mib: rssBefore,
      daemon_peak_rss_mib: peak,
      targets: SCALE_TARGETS
    }
  } finally {
    await d.stop()
  }
}
