/**
 * Web UI measurements (issue 16), written to bench/results/latest-ui.json:
 * - the gzipped size of the UI's JavaScript (dist/ui/assets/*.js);
 * - the Files page over a store of 100,000 objects: the time from navigation
 *   until its first page of rows is shown (it loads one page, never the list);
 * - a 2 GiB upload through the UI in chromium, with the daemon's and the
 *   browser's RSS sampled every 500 ms during it (flat = streamed).
 * Run after `npm run build`: `node dist/bench/ui.js` (hold `flock /tmp/bench.lock`).
 * UI_BENCH_OBJECTS and UI_BENCH_UPLOAD_BYTES change the sizes.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import { loadConfig, packageRoot } from '../src/config.js'
import { LocalNode } from '../src/node.js'

const ROOT = packageRoot()
const OBJECTS = Number(process.env.UI_BENCH_OBJECTS ?? 100_000)
const UPLOAD = Number(process.env.UI_BENCH_UPLOAD_BYTES ?? 2 * 1024 ** 3)
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function jsGzipBytes (): Promise<{ raw: number, gzip: number }> {
  const dir = join(ROOT, 'dist', 'ui', 'assets')
  let raw = 0
  let gzip = 0
  for (const f of (await readdir(dir)).filter(f => f.endsWith('.js'))) {
    const b = await readFile(join(dir, f))
    raw += b.length
    gzip += gzipSync(b, { level: 9 }).length
  }
  return { raw, gzip }
}

async function fill (dataDir: string, n: number): Promise<number> {
  const started = Date.now()
  const node = await LocalNode.open(loadConfig({ dataDir, env: {}, overrides: { network: { enabled: false } } }), 'ui bench fill')
  const one = async function * (b: Buffer): AsyncGenerator<Uint8Array> { yield b }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      await node.addStream(one(Buffer.from(`object ${i}\n`)), { filename: `file-${i}.txt` })
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  await node.close()
  return Date.now() - started
}

interface Daemon { url: string, pid: number, stop: () => Promise<void> }

async function daemon (dataDir: string): Promise<Daemon> {
  const env = { PATH: process.env.PATH ?? '', HOME: '/dev/null', OPENHASH_DATA_DIR: dataDir }
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'openhash'), 'daemon', '--api-host', '127.0.0.1', '--api-port', '0', '--no-network'], { env, cwd: ROOT })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (b: Buffer) => { out += b.toString(); const m = /listening on (http:\/\/\S+)/.exec(out); if (m !== null) resolve(m[1]) })
    proc.on('exit', (code) => reject(new Error(`daemon exited ${String(code)}: ${out}`)))
  })
  return { url, pid: proc.pid!, stop: async () => { proc.kill('SIGTERM'); await new Promise(resolve => proc.once('exit', resolve)) } }
}

async function rssKiB (pid: number): Promise<number> {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1])
  } catch { return 0 }
}

/** RSS of the chromium processes under a process (playwright starts the browser as our child; its renderer, GPU and network processes below it). */
async function browserRssKiB (root: number): Promise<number> {
  const parent = new Map<number, number>()
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8')
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {}
  }
  const inTree = (p: number): boolean => { for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) if (q === root) return true; return false }
  let sum = 0
  for (const p of parent.keys()) {
    if (!inTree(p)) continue
    const comm = await readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')
    if (comm.includes('chrom')) sum += await rssKiB(p)
  }
  return sum
}

async function main (): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'openhash-ui-bench-'))
  const result: Record<string, unknown> = { date: new Date().toISOString(), node: process.version }
  try {
    result.js = await jsGzipBytes()
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS, headless: true })
    try {
      // Files page over a large store
      const big = join(tmp, 'big')
      const fillMs = await fill(big, OBJECTS)
      const d1 = await daemon(big)
      try {
        const page = await browser.newPage()
        const t0 = Date.now()
        await page.goto(`${d1.url}/ui/#/files`)
        await page.locator('table tbody tr').first().waitFor()
        const firstRowsMs = Date.now() - t0
        const rows = await page.locator('table tbody tr').count()
        const t1 = Date.now()
        await page.getByRole('button', { name: 'Load more' }).click()
        await page.locator('table tbody tr').nth(rows).waitFor()
        result.files_page = { objects: OBJECTS, fill_ms: fillMs, first_rows_ms: firstRowsMs, rows_per_page: rows, next_page_ms: Date.now() - t1 }
        await page.close()
      } finally { await d1.stop() }

      // a large upload through the UI, memory sampled
      const up = join(tmp, 'up')
      await mkdir(up)
      const file = join(tmp, 'large.bin')
      await writeFile(file, '')
      await truncate(file, UPLOAD) // sparse zeros: the bytes still stream through the browser and are hashed by the daemon
      const d2 = await daemon(up)
      try {
        const page = await browser.newPage()
        await page.goto(`${d2.url}/ui/#/upload`)
        await page.waitForLoadState('networkidle')
        const samples: Array<{ t_ms: number, daemon_rss_kib: number, browser_rss_kib: number }> = []
        const t0 = Date.now()
        let done = false
        const sampler = (async () => {
          while (!done) {
            samples.push({ t_ms: Date.now() - t0, daemon_rss_kib: await rssKiB(d2.pid), browser_rss_kib: await browserRssKiB(process.pid) })
            await new Promise(resolve => setTimeout(resolve, 500))
          }
        })()
        await page.setInputFiles('#pick-files', file)
        await page.locator('li.job a[data-hash]').waitFor({ timeout: 30 * 60_000 })
        const ms = Date.now() - t0
        done = true
        await sampler
        const d = samples.map(s => s.daemon_rss_kib)
        const b = samples.map(s => s.browser_rss_kib)
        result.upload = {
          bytes: UPLOAD,
          ms,
          mib_per_s: Math.round((UPLOAD / 1024 / 1024) / (ms / 1000)),
          daemon_rss_mib: { first: Math.round(d[0] / 1024), max: Math.round(Math.max(...d) / 1024), last: Math.round(d[d.length - 1] / 1024) },
          browser_rss_mib: { first: Math.round(b[0] / 1024), max: Math.round(Math.max(...b) / 1024), last: Math.round(b[b.length - 1] / 1024) },
          samples
        }
        await page.close()
      } finally { await d2.stop() }
    } finally { await browser.close() }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true })
  await writeFile(join(ROOT, 'bench', 'results', 'latest-ui.json'), JSON.stringify(result, null, 2) + '\n')
  const { samples: _s, ...upload } = (result.upload ?? {}) as Record<string, unknown>
  console.log(JSON.stringify({ ...result, upload }, null, 2))
}

await main()
