/**
 * One benchmark measurement in a fresh process, so that the peak RSS it
 * reports belongs to this operation alone.
 *
 *   node dist/bench/child.js '<json spec>'
 *
 * spec: { op: 'add' | 'get', data_dir, backend, chunk_size?, file?, hash?, out? }
 * Prints one JSON line on stdout:
 *   { ok, op, open_ms, op_ms, close_ms, total_ms, bytes, hash?, max_rss_kib }
 * max_rss_kib is process.resourceUsage().maxRSS read after the node is closed.
 */
import '../src/polyfill.js'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { loadConfig } from '../src/config.js'
import { LocalNode } from '../src/node.js'
import { exportTo } from '../src/content/exporter.js'

export interface ChildSpec {
  op: 'add' | 'get'
  data_dir: string
  backend: 'pack' | 'leveldb'
  chunk_size?: number
  /** add: the file to add */
  file?: string
  /** get: the hash to export, and where to write it */
  hash?: string
  out?: string
}

export interface ChildResult {
  ok: true
  op: 'add' | 'get'
  open_ms: number
  op_ms: number
  close_ms: number
  total_ms: number
  bytes: number
  hash?: string
  max_rss_kib: number
  /**
   * Diagnostics, sampled from /proc/self/status every 20 ms (Linux only, so
   * approximate): the largest anonymous (heap, buffers) and file-backed
   * (mmapped files, e.g. LevelDB tables) resident sizes seen.
   */
  sampled_rss_anon_kib?: number
  sampled_rss_file_kib?: number
}

/** Peak RssAnon / RssFile, sampled. */
function sampleRss (): { stop: () => { anon?: number, file?: number } } {
  let anon: number | undefined
  let file: number | undefined
  const sample = (): void => {
    let text: string
    try { text = readFileSync('/proc/self/status', 'utf8') } catch { return }
    const a = /^RssAnon:\s+(\d+) kB/m.exec(text)
    const f = /^RssFile:\s+(\d+) kB/m.exec(text)
    if (a !== null) anon = Math.max(anon ?? 0, Number(a[1]))
    if (f !== null) file = Math.max(file ?? 0, Number(f[1]))
  }
  sample()
  const timer = setInterval(sample, 20)
  timer.unref()
  return { stop: () => { clearInterval(timer); sample(); return { anon, file } } }
}

async function main (): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ChildSpec
  const storage: Record<string, unknown> = { backend: spec.backend }
  if (spec.chunk_size !== undefined) storage.chunk_size = spec.chunk_size
  // env: {} so that OPENHASH_* variables of whoever runs the bench cannot skew it
  const config = loadConfig({ dataDir: spec.data_dir, env: {}, overrides: { storage } })

  const sampler = sampleRss()
  const t0 = performance.now()
  const node = await LocalNode.open(config, `openhash-bench ${spec.op}`)
  const t1 = performance.now()
  let bytes: number
  let hash: string | undefined
  let t2: number
  try {
    if (spec.op === 'add') {
      if (spec.file === undefined) throw new Error('add needs "file"')
      const res = await node.addPath(spec.file)
      t2 = performance.now()
      bytes = res.size
      hash = res.hash
    } else {
      if (spec.hash === undefined || spec.out === undefined) throw new Error('get needs "hash" and "out"')
      const res = await exportTo(node, spec.hash, spec.out)
      t2 = performance.now()
      bytes = res.bytes
      hash = spec.hash
    }
  } finally {
    await node.close()
  }
  const t3 = performance.now()
  const sampled = sampler.stop()
  const result: ChildResult = {
    ok: true,
    op: spec.op,
    open_ms: t1 - t0,
    op_ms: t2 - t1,
    close_ms: t3 - t2,
    total_ms: t3 - t0,
    bytes,
    hash,
    max_rss_kib: process.resourceUsage().maxRSS,
    ...(sampled.anon !== undefined ? { sampled_rss_anon_kib: sampled.anon } : {}),
    ...(sampled.file !== undefined ? { sampled_rss_file_kib: sampled.file } : {})
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch(err => {
  process.stderr.write(`bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
