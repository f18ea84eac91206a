/**
 * Peer network benchmarks (issue 4).
 *
 * 1. transfer: two daemon processes on loopback; A holds a 256 MiB file
 *    (uploaded with curl), a fresh B joins with --bootstrap A and fetches it:
 *    GET /info/<hash> answers once the verified fetch is committed to B's
 *    store (the target), and, on another fresh B, GET /download/<hash> end
 *    to end (the fetch, then the HTTP answer). Wall clock of curl.
 * 2. dht: 20 in-process nodes on 127.0.0.1 (joined in a chain, routing tables
 *    settled first): provide latency, findProviders latency (to the first
 *    provider) from random other nodes, and time to first byte of a remote
 *    read of a 1 MiB file.
 */
import '../src/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createHash, randomBytes } from 'node:crypto'
import { loadConfig } from '../src/config.js'
import { LocalNode } from '../src/node.js'
import { hashToCid } from '../src/content/cid.js'
import type { Input } from './http.js'
import { curl, firstAnswer, freePort, median, peakRssMib, percentile, round, startDaemon } from './http.js'

type Log = (msg: string) => void
export const NET_TARGETS = { transfer_mib_per_s: 150 }

async function getJson (url: string): Promise<any> {
  return await (await fetch(url)).json()
}

/** sha256 of a URL's body, streamed (untimed check that B serves the right bytes). */
async function bodySha256 (url: string): Promise<{ status: number, size: number, sha256: string }> {
  const res = await fetch(url)
  const h = createHash('sha256')
  let size = 0
  for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) { h.update(piece); size += piece.byteLength }
  return { status: res.status, size, sha256: h.digest('hex') }
}

/**
 * Two kinds of run, each on a fresh daemon B joined to A with --bootstrap:
 * - fetch: `GET /info/<hash>` on B, which finds A through the DHT, fetches the
 *   file, checks every chunk and the whole-file hash and commits it to B's
 *   store before it answers: "B fetches the file held by A". Then (untimed)
 *   B's /download is hashed to check the bytes.
 * - download: `curl B/download/<hash>` on another fresh B: the same fetch and
 *   then the 256 MiB HTTP answer, end to end (nothing is served before the
 *   whole file is verified, so this adds B's serving time to the fetch).
 */
async function transfer (cli: string, work: string, input: Input, runs: number, log: Log): Promise<Record<string, unknown>> {
  const a = await startDaemon(cli, work, await freePort())
  const fetches: Array<Record<string, unknown>> = []
  const downloads: Array<Record<string, unknown>> = []
  const size = input.size_mib * 1024 * 1024
  try {
    await firstAnswer(a.url, a.spawnedAt)
    const up = await curl(['-F', `file=@${input.path}`, `${a.url}/upload/file`])
    const hash = JSON.parse(up.stdout).hash as string
    if (hash !== input.sha256) throw new Error(`upload hash ${hash} is not ${input.sha256}`)
    const addr = (await getJson(`${a.url}/network`)).addresses[0] as string
    const freshB = async (): Promise<Awaited<ReturnType<typeof startDaemon>>> => {
      const b = await startDaemon(cli, work, await freePort(), ['--bootstrap', addr])
      await firstAnswer(b.url, b.spawnedAt)
      const t0 = performance.now()
      while ((await getJson(`${b.url}/network`)).connected_peers < 1) {
        if (performance.now() - t0 > 20_000) throw new Error('B did not connect to A')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      return b
    }
    for (let i = 0; i < runs; i++) {
      let b = await freshB()
      try {
        const info = await curl(['-o', '-', '-w', '\n%{http_code}', `${b.url}/info/${hash}`])
        const status = Number(info.stdout.trim().split('\n').at(-1))
        const served = await bodySha256(`${b.url}/download/${hash}`)
        fetches.push({
          mib_per_s: round(input.size_mib / (info.wall_ms / 1000)),
          wall_ms: round(info.wall_ms),
          b_peak_rss_mib: await peakRssMib(b.proc.pid!),
          bytes_ok: status === 200 && served.status === 200 && served.size === size && served.sha256 === hash
        })
        log(`net: fetch ${input.size_mib} MiB run ${i + 1}: ${String(fetches[i].mib_per_s)} MiB/s${fetches[i].bytes_ok === true ? '' : ' (BYTES NOT OK)'}`)
      } finally {
        await b.stop()
      }
      b = await freshB()
      try {
        const dl = await curl(['-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_starttransfer}', `${b.url}/download/${hash}`])
        const [status, got, ttfb] = dl.stdout.trim().split(' ').map(Number)
        // B now holds a verified copy: its /info answers locally
        const info = await getJson(`${b.url}/info/${hash}`)
        downloads.push({
          mib_per_s: round(input.size_mib / (dl.wall_ms / 1000)),
          wall_ms: round(dl.wall_ms),
          time_to_first_byte_ms: round(ttfb * 1000),
          b_peak_rss_mib: await peakRssMib(b.proc.pid!),
          bytes_ok: status === 200 && got === size && info.hash === hash
        })
        log(`net: download ${input.size_mib} MiB run ${i + 1}: ${String(downloads[i].mib_per_s)} MiB/s (first byte after ${String(downloads[i].time_to_first_byte_ms)} ms)`)
      } finally {
        await b.stop()
      }
    }
  } finally {
    await a.stop()
  }
  const fetchMibs = median(fetches.map(r => r.mib_per_s as number))
  const downloadMibs = median(downloads.map(r => r.mib_per_s as number))
  return {
    size_mib: input.size_mib,
    mib_per_s: fetchMibs,
    fetch: { mib_per_s: fetchMibs, runs: fetches },
    download_end_to_end: { mib_per_s: downloadMibs, meets_150: downloadMibs >= NET_TARGETS.transfer_mib_per_s, runs: downloads },
    meets_target: fetchMibs >= NET_TARGETS.transfer_mib_per_s && [...fetches, ...downloads].every(r => r.bytes_ok === true)
  }
}

async function dht (work: string, log: Log, count = 20, samples = 20): Promise<Record<string, unknown>> {
  const nodes: LocalNode[] = []
  const dirs: string[] = []
  try {
    for (let i = 0; i < count; i++) {
      const dir = await mkdtemp(join(work, `dht-${i}-`))
      dirs.push(dir)
      const config = loadConfig({ dataDir: dir, env: {}, overrides: { network: { host: '127.0.0.1', port: 0, reprovide_interval_s: 0, search_timeout_ms: 10_000 } } })
      const node = await LocalNode.open(config, 'bench dht')
      await node.startNetwork()
      nodes.push(node)
      if (i > 0) await node.net!.connect(nodes[i - 1].net!.addresses()[0])
    }
    const settleStart = performance.now()
    for (let round = 0; round < 10; round++) {
      await Promise.all(nodes.map(async n => { await n.net!.refresh().catch(() => {}) }))
      if (nodes.every(n => n.net!.state().dht.peer_count >= Math.min(count - 1, 10))) break
    }
    const settle = performance.now() - settleStart
    log(`net: ${count} nodes up, routing tables ${nodes.map(n => n.net!.state().dht.peer_count).join(',')} after ${Math.round(settle)} ms`)

    const provideMs: number[] = []
    const findMs: number[] = []
    const ttfbMs: number[] = []
    const readMs: number[] = []
    let failures = 0
    for (let s = 0; s < samples; s++) {
      const holder = nodes[s % count]
      const asker = nodes[(s * 7 + 3) % count === s % count ? (s + 1) % count : (s * 7 + 3) % count]
      const bytes = randomBytes(1024 * 1024)
      const added = await holder.addStream((async function * () { yield bytes })(), { filename: `s${s}.bin` })
      let t = performance.now()
      await holder.net!.libp2p.contentRouting.provide(hashToCid(added.hash), { signal: AbortSignal.timeout(30_000) })
      provideMs.push(performance.now() - t)
      t = performance.now()
      let found = false
      for await (const p of asker.net!.libp2p.contentRouting.findProviders(hashToCid(added.hash), { signal: AbortSignal.timeout(30_000) })) {
        if (p.id.equals(holder.net!.libp2p.peerId)) { found = true; break }
      }
      if (found) findMs.push(performance.now() - t)
      else failures++
      // a remote read: lookup, dial, fetch, verify, then the first byte
      const reader = nodes[(s * 11 + 5) % count] === holder ? nodes[(s * 11 + 6) % count] : nodes[(s * 11 + 5) % count]
      t = performance.now()
      let first: number | undefined
      let n = 0
      for await (const piece of reader.read(added.hash)) { first ??= performance.now() - t; n += piece.byteLength }
      if (first !== undefined && n === bytes.length) { ttfbMs.push(first); readMs.push(performance.now() - t) } else failures++
    }
    const stat = (xs: number[]): Record<string, number> => xs.length === 0 ? {} : { p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)), samples: xs.length }
    const out = {
      nodes: count,
      topology: 'chain of dials, then self-lookups until routing tables hold ≥10 peers',
      settle_ms: round(settle),
      provide_ms: stat(provideMs),
      find_providers_ms: stat(findMs),
      remote_read_1mib_time_to_first_byte_ms: stat(ttfbMs),
      remote_read_1mib_total_ms: stat(readMs),
      failures
    }
    log(`net: provide ${JSON.stringify(out.provide_ms)} find ${JSON.stringify(out.find_providers_ms)} ttfb ${JSON.stringify(out.remote_read_1mib_time_to_first_byte_ms)}`)
    return out
  } finally {
    await Promise.all(nodes.map(async n => { await n.close().catch(() => {}) }))
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

export async function netBench (options: { cli: string, work: string, input: Input, runs: number, log: Log }): Promise<Record<string, unknown>> {
  const t = await transfer(options.cli, options.work, options.input, options.runs, options.log)
  const d = await dht(options.work, options.log)
  return {
    method: {
      transfer: `daemon A holds a ${options.input.size_mib} MiB random file (curl -F upload); per run two fresh daemons B started with --bootstrap A. fetch (the target): wall clock of curl B/info/<hash>, which answers once B found A through the DHT, fetched the file, checked every chunk and the whole-file SHA-256 and committed it to its store; B's /download is then hashed (untimed) to check the bytes. download_end_to_end: curl -o /dev/null B/download/<hash> on the other fresh B, the same fetch plus the HTTP answer (served only after the whole file is verified). Medians of runs`,
      dht: 'in-process nodes on 127.0.0.1 in the bench process (one Node, sharing 2 cores); provide = contentRouting.provide of a fresh 1 MiB file on its holder; find = findProviders from another node until the holder is named; ttfb = LocalNode.read on a third node (lookup, dial, fetch, verify) to its first byte'
    },
    targets: NET_TARGETS,
    transfer: t,
    dht: d
  }
}
