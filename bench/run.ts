/**
 * OpenHashDB benchmark suite: `npm run bench` (builds, then runs dist/bench/run.js).
 *
 * 1. add / get throughput and peak RSS per chunk backend (pack, leveldb) on a
 *    256 MiB and a 1 GiB file, each operation in its own fresh child process
 *    (dist/bench/child.js) so that peak RSS is per operation;
 * 2. the real CLI: `bin/openhash add <1 GiB file> --json`, wall clock, and its
 *    hash checked against `sha256sum`;
 * 3. chunk sizes 64 KiB / 256 KiB / 1 MiB on the pack backend, 256 MiB file;
 * 4. the daemon over HTTP (bench/http.ts): start-up, 1 GiB curl upload and
 *    download, 100 concurrent clients.
 *
 * 6. verify on a store of 5,000 small files (bench/verify.ts), with SHA-256 as anchor.
 * 7. 4 KiB uploads over HTTP from 64 and 256 clients (bench/small.ts), with this disk's fdatasync rate as anchor.
 * 8. a store grown to 1,000,000 objects (bench/scale.ts): add rate at 0/100k/1M, daemon start-up
 *    (anchor: an empty store's), /list, /info, /stats, gc, verify, RSS (`--objects N` for a smaller store).
 * 9. folders of 10k and 100k small files: `openhash add` vs Helia's unixfs addAll on an fs
 *    blockstore, same run (bench/folder.ts); `--files N` for one size.
 *
 * `npm run bench -- --only http` (or store, cli, chunks, net, verify, small, scale, folder) runs one section;
 * verify also runs with store.
 *
 * Prints one JSON document on stdout and writes it to bench/results/latest.json.
 * Progress goes to stderr. Everything temporary lives in one /tmp directory
 * that is removed at the end (also on error or Ctrl-C).
 *
 * The build under test (dist/, bin/, config/, package.json) is copied into that
 * directory first and every child and the CLI run from the copy, so a rebuild
 * of dist/ by someone else while the bench runs cannot mix two versions.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import type { ChildResult, ChildSpec } from './child.js'
import { calibrate, generateFile, httpBench, median, round, runMeasured, settle, spawnCapture } from './http.js'
import type { Input, Spawned } from './http.js'
import { netBench } from './net.js'
import { verifyBench } from './verify.js'
import { smallUploadsBench } from './small.js'
import { scaleBench } from './scale.js'
import { folderBench } from './folder.js'

const MiB = 1024 * 1024
const TARGET_ADD_MIB_S = 300
const TARGET_GET_MIB_S = 500
const TARGET_PEAK_RSS_MIB = 200
/** Runs per measurement; the figure reported is the median, peak RSS the maximum. */
const RUNS_SMALL = 5
const RUNS_LARGE = 3
const RUNS_CHUNK_SIZE = 3
/**
 * Past this many seconds, every remaining figure gets a single run, so the
 * whole suite stays within about 6 minutes even on a slow or busy machine.
 */
const BUDGET_S = 240
/** A child that takes longer than this is killed and reported as failed. */
const CHILD_TIMEOUT_MS = 240_000

const here = fileURLToPath(new URL('.', import.meta.url)) // dist/bench/
const repoRoot = resolve(here, '..', '..')
const resultsDir = join(repoRoot, 'bench', 'results')
/** Set once the build is copied (see snapshotBuild). */
let childScript = join(here, 'child.js')
let cliScript = join(repoRoot, 'bin', 'openhash')
let heliaScript = join(repoRoot, 'dist', 'bench', 'helia-add.js')

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`) }

// ------------------------------------------------------------------ helpers

/** A child process run to its end, killed after CHILD_TIMEOUT_MS unless told otherwise. */
async function run (cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<Spawned> {
  return await spawnCapture(cmd, args, { ...options, timeoutMs: options.timeoutMs ?? CHILD_TIMEOUT_MS })
}

async function runChild (spec: ChildSpec): Promise<ChildResult> {
  const res = await run(process.execPath, [childScript, JSON.stringify(spec)])
  const line = res.stdout.trim().split('\n').at(-1) ?? ''
  if (res.code !== 0 || line === '') {
    throw new Error(`child ${spec.op} (${spec.backend}) failed: code ${String(res.code)} signal ${String(res.signal)}: ${res.stderr.trim().slice(-2000)}`)
  }
  return JSON.parse(line) as ChildResult
}

/** Copy the build under test into `dir` and point the children and the CLI at the copy. */
async function snapshotBuild (dir: string): Promise<void> {
  await mkdir(join(dir, 'dist'), { recursive: true })
  for (const sub of ['src', 'bench']) await cp(join(repoRoot, 'dist', sub), join(dir, 'dist', sub), { recursive: true })
  for (const entry of ['bin', 'config', 'package.json']) await cp(join(repoRoot, entry), join(dir, entry), { recursive: true })
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  childScript = join(dir, 'dist', 'bench', 'child.js')
  heliaScript = join(dir, 'dist', 'bench', 'helia-add.js')
  cliScript = join(dir, 'bin', 'openhash')
}

/** Which code was measured (best effort: git may be absent). */
async function codeInfo (): Promise<{ git_head: string | null, src_uncommitted_changes: boolean | null }> {
  try {
    const head = await run('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { timeoutMs: 10_000 })
    const status = await run('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src', 'config'], { timeoutMs: 10_000 })
    return {
      git_head: head.code === 0 ? head.stdout.trim() : null,
      src_uncommitted_changes: status.code === 0 ? status.stdout.trim() !== '' : null
    }
  } catch {
    return { git_head: null, src_uncommitted_changes: null }
  }
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer)
  return hash.digest('hex')
}

// ------------------------------------------------------------------ measurements

interface OpRow {
  /** get_prefaulted: a diagnostic (see prefaultPageCache); summary.all_targets_met leaves it out. */
  name: 'add' | 'get' | 'get_prefaulted'
  backend: 'pack' | 'leveldb'
  size_mib: number
  chunk_size: number
  runs: number
  /** Median MiB/s over the operation plus closing the node (open excluded, reported in open_ms). */
  mib_per_s: number | null
  mib_per_s_runs: number[]
  /** Median MiB/s counting open + operation + close. */
  mib_per_s_incl_open: number | null
  open_ms: number | null
  op_ms: number | null
  close_ms: number | null
  target_mib_per_s: number
  meets_target: boolean
  peak_rss_mib: number | null
  target_peak_rss_mib: number
  peak_rss_meets_target: boolean
  /** Diagnostics: largest anonymous / file-backed (mmapped) RSS sampled in the child. */
  sampled_peak_rss_anon_mib: number | null
  sampled_peak_rss_file_mib: number | null
  /** add: printed hash == sha256 of the input; get: exported file's sha256 == input's. */
  hash_ok: boolean
  error?: string
}

interface Sample { r: ChildResult, hash_ok: boolean }

function summarise (name: OpRow['name'], backend: 'pack' | 'leveldb', input: Input, chunkSize: number, samples: Sample[], error?: string): OpRow {
  const bytes = input.size_mib * MiB
  const rates = samples.map(s => bytes / MiB / ((s.r.op_ms + s.r.close_ms) / 1000))
  const ratesAll = samples.map(s => bytes / MiB / (s.r.total_ms / 1000))
  const target = name === 'add' ? TARGET_ADD_MIB_S : TARGET_GET_MIB_S
  const rate = samples.length > 0 ? round(median(rates)) : null
  const peak = samples.length > 0 ? round(Math.max(...samples.map(s => s.r.max_rss_kib)) / 1024) : null
  const maxOf = (f: (r: ChildResult) => number | undefined): number | null => {
    const xs = samples.map(s => f(s.r)).filter((x): x is number => x !== undefined)
    return xs.length > 0 ? round(Math.max(...xs) / 1024) : null
  }
  const med = (f: (r: ChildResult) => number): number | null => samples.length > 0 ? round(median(samples.map(s => f(s.r)))) : null
  const row: OpRow = {
    name,
    backend,
    size_mib: input.size_mib,
    chunk_size: chunkSize,
    runs: samples.length,
    mib_per_s: rate,
    mib_per_s_runs: rates.map(r => round(r)),
    mib_per_s_incl_open: samples.length > 0 ? round(median(ratesAll)) : null,
    open_ms: med(r => r.open_ms),
    op_ms: med(r => r.op_ms),
    close_ms: med(r => r.close_ms),
    target_mib_per_s: target,
    meets_target: rate !== null && rate >= target,
    peak_rss_mib: peak,
    target_peak_rss_mib: TARGET_PEAK_RSS_MIB,
    peak_rss_meets_target: peak !== null && peak <= TARGET_PEAK_RSS_MIB,
    sampled_peak_rss_anon_mib: maxOf(r => r.sampled_rss_anon_kib),
    sampled_peak_rss_file_mib: maxOf(r => r.sampled_rss_file_kib),
    hash_ok: samples.length > 0 && samples.every(s => s.hash_ok)
  }
  if (error !== undefined) row.error = error
  return row
}

/**
 * Write and delete a scratch file of `bytes`, untimed, right before a get.
 * On VMs whose guest memory is handed back to the host when free (free page
 * reporting, as on the Firecracker VM this suite was written on), the first
 * touch of never-used page-cache pages faults on the host, which roughly
 * halves the rate at which a fresh 1 GiB output file can be written. Writing
 * and deleting a file just before leaves that much recently freed, backed
 * memory for the get's output, so `get_prefaulted` isolates the software's
 * own cost. `get` is measured without it.
 */
async function prefaultPageCache (path: string, bytes: number): Promise<void> {
  const piece = Buffer.alloc(4 * MiB)
  const out = createWriteStream(path, { flags: 'w' })
  for (let written = 0; written < bytes; written += piece.length) {
    if (!out.write(piece)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  await rm(path, { force: true })
}

type OpName = OpRow['name']

/**
 * `runs` times: add into a fresh data dir, then get from it, each in a fresh
 * child; with `prefaulted`, also a second get after prefaultPageCache.
 */
async function addAndGet (work: string, tag: string, backend: 'pack' | 'leveldb', input: Input, runs: number, chunkSize: number,
  options: { explicitChunkSize: boolean, prefaulted: boolean, overBudget: () => boolean }): Promise<OpRow[]> {
  const ops: OpName[] = ['add', 'get', ...(options.prefaulted ? ['get_prefaulted' as const] : [])]
  const samples = new Map<OpName, Sample[]>(ops.map(op => [op, []]))
  const errors = new Map<OpName, string>()
  const bytes = input.size_mib * MiB
  for (let i = 0; i < runs; i++) {
    if (i > 0 && options.overBudget()) {
      log(`${tag}: time budget spent, stopping after ${i} run(s)`)
      break
    }
    const dataDir = join(work, `data-${tag}-${i}`)
    const out = join(work, `out-${tag}-${i}`)
    const common = { data_dir: dataDir, backend, ...(options.explicitChunkSize ? { chunk_size: chunkSize } : {}) }
    try {
      let hash: string | undefined
      for (const op of ops) {
        if (op !== 'add' && hash === undefined) break
        try {
          log(`${tag} run ${i + 1}/${runs}: ${op}`)
          await settle()
          if (op === 'get_prefaulted') await prefaultPageCache(join(work, 'prefault.tmp'), Math.ceil(bytes * 1.5))
          const r = op === 'add'
            ? await runChild({ op: 'add', file: input.path, ...common })
            : await runChild({ op: 'get', hash, out, ...common })
          let ok: boolean
          if (op === 'add') {
            hash = r.hash
            ok = r.hash === input.sha256 && r.bytes === bytes
          } else {
            ok = await sha256File(out) === input.sha256 && r.bytes === bytes
            await rm(out, { force: true })
          }
          samples.get(op)!.push({ r, hash_ok: ok })
          log(`  ${op} ${round(input.size_mib / ((r.op_ms + r.close_ms) / 1000))} MiB/s, peak RSS ${round(r.max_rss_kib / 1024)} MiB${ok ? '' : ', WRONG HASH'}`)
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err)
          errors.set(op, msg)
          log(`  ${op} failed: ${msg}`)
        }
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
      await rm(out, { force: true })
    }
  }
  return ops.map(op => {
    const list = samples.get(op)!
    const error = errors.get(op) ?? (op !== 'add' && list.length === 0 && samples.get('add')!.length === 0 ? 'no add succeeded' : undefined)
    return summarise(op, backend, input, chunkSize, list, error)
  })
}

interface CliRow {
  name: 'cli_add'
  command: string
  backend: 'pack'
  size_mib: number
  wall_ms: number | null
  mib_per_s: number | null
  target_mib_per_s: number
  meets_target: boolean
  peak_rss_mib: number | null
  target_peak_rss_mib: number
  peak_rss_meets_target: boolean | null
  hash: string | null
  sha256sum: string | null
  sha256sum_ms: number | null
  hash_matches_sha256sum: boolean
  error?: string
}

async function cliAdd (work: string, input: Input): Promise<CliRow> {
  const dataDir = join(work, 'data-cli')
  const row: CliRow = {
    name: 'cli_add',
    command: 'bin/openhash add <file> --json',
    backend: 'pack',
    size_mib: input.size_mib,
    wall_ms: null,
    mib_per_s: null,
    target_mib_per_s: TARGET_ADD_MIB_S,
    meets_target: false,
    peak_rss_mib: null,
    target_peak_rss_mib: TARGET_PEAK_RSS_MIB,
    peak_rss_meets_target: null,
    hash: null,
    sha256sum: null,
    sha256sum_ms: null,
    hash_matches_sha256sum: false
  }
  try {
    // only OPENHASH_DATA_DIR among OPENHASH_* variables, so the shipped defaults (pack) apply
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENHASH_')))
    env.OPENHASH_DATA_DIR = dataDir
    // GNU time, when present, gives the CLI's peak RSS without touching its timing much
    log('cli: openhash add (1 GiB, pack)')
    await settle()
    const res = await runMeasured(process.execPath, [cliScript, 'add', input.path, '--json'], { env, work, timeoutMs: CHILD_TIMEOUT_MS })
    if (res.code !== 0) throw new Error(`openhash add exited ${String(res.code)}: ${res.stderr.trim().slice(-2000)}`)
    const printed = JSON.parse(res.stdout) as { hash: string }
    row.wall_ms = round(res.wall_ms)
    row.mib_per_s = round(input.size_mib / (res.wall_ms / 1000))
    row.meets_target = row.mib_per_s >= TARGET_ADD_MIB_S
    row.hash = printed.hash
    if (res.peak_rss_mib !== undefined) {
      row.peak_rss_mib = res.peak_rss_mib
      row.peak_rss_meets_target = row.peak_rss_mib <= TARGET_PEAK_RSS_MIB
    }
    log(`  ${row.mib_per_s} MiB/s wall clock, peak RSS ${String(row.peak_rss_mib)} MiB`)
    log('cli: sha256sum')
    const sum = await run('sha256sum', [input.path])
    if (sum.code !== 0) throw new Error(`sha256sum exited ${String(sum.code)}: ${sum.stderr.trim()}`)
    row.sha256sum = sum.stdout.trim().split(/\s+/)[0]
    row.sha256sum_ms = round(sum.wall_ms)
    row.hash_matches_sha256sum = row.hash === row.sha256sum
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err)
    log(`  failed: ${row.error}`)
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  return row
}

// ------------------------------------------------------------------ main

async function defaultChunkSize (root: string): Promise<number> {
  const defaults = JSON.parse(await readFile(join(root, 'config', 'default.json'), 'utf8'))
  return Number(defaults.storage.chunk_size)
}

async function main (): Promise<number> {
  const started = performance.now()
  const startDate = new Date().toISOString()
  const work = await mkdtemp(join(tmpdir(), 'openhash-bench-'))
  let interrupted = false
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${sig}: removing ${work}`)
    rm(work, { recursive: true, force: true }).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const loadStart = loadavg().map(x => round(x, 2))
    const calibrationStart = calibrate()
    const code = await codeInfo()
    await snapshotBuild(join(work, 'build'))
    const chunkDefault = await defaultChunkSize(join(work, 'build'))
    // the shipped storage options (what the daemon opens a store with)
    const storageDefaults = JSON.parse(await readFile(join(work, 'build', 'config', 'default.json'), 'utf8')).storage
    log(`work dir ${work}`)
    const onlyIdx = process.argv.indexOf('--only')
    const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined
    const want = (section: string): boolean => only === undefined || only === section
    const inputs: Record<'small' | 'large', Input> = {
      small: { path: join(work, 'input-256MiB.bin'), size_mib: 256, sha256: '' },
      large: { path: join(work, 'input-1GiB.bin'), size_mib: 1024, sha256: '' }
    }
    const genStarted = performance.now()
    for (const input of Object.values(inputs)) {
      if (input.size_mib === 256 && !want('store') && !want('chunks') && !want('net')) continue
      if (input.size_mib === 1024 && !want('store') && !want('cli') && !want('http')) continue
      log(`generating ${input.size_mib} MiB of random bytes`)
      input.sha256 = await generateFile(input.path, input.size_mib * MiB)
    }
    const generateMs = performance.now() - genStarted
    const overBudget = (): boolean => (performance.now() - started) / 1000 > BUDGET_S

    // 1. backends x sizes
    const results: OpRow[] = []
    for (const backend of want('store') ? ['pack', 'leveldb'] as const : []) {
      for (const [key, input] of Object.entries(inputs) as Array<['small' | 'large', Input]>) {
        const runs = key === 'small' ? RUNS_SMALL : RUNS_LARGE
        results.push(...await addAndGet(work, `${backend}-${input.size_mib}`, backend, input, runs, chunkDefault, { explicitChunkSize: false, prefaulted: true, overBudget }))
      }
    }

    // 2. the CLI
    const cli = want('cli') ? await cliAdd(work, inputs.large) : undefined

    // 3. chunk sizes, pack backend, 256 MiB
    const chunkSizes: OpRow[] = []
    for (const cs of want('chunks') ? [65536, 262144, 1048576] : []) {
      chunkSizes.push(...await addAndGet(work, `chunk-${cs}`, 'pack', inputs.small, RUNS_CHUNK_SIZE, cs, { explicitChunkSize: true, prefaulted: false, overBudget }))
    }

    // 4. the daemon over HTTP
    const http = want('http') ? await httpBench({ cli: cliScript, work, input: inputs.large, runs: overBudget() ? 1 : RUNS_LARGE, log }) : undefined

    // 5. the peer network: daemon-to-daemon transfer of 256 MiB, DHT latencies on 20 nodes
    const net = want('net') ? await netBench({ cli: cliScript, work, input: inputs.small, runs: overBudget() ? 3 : 5, log }) : undefined

    // 6. verify on many small files (store section)
    const verify = want('store') || want('verify') ? await verifyBench({ work, log }) : undefined

    // 7. many small uploads over HTTP from 64 and 256 clients, against this disk's fdatasync rate
    const small = want('small') ? await smallUploadsBench({ cli: cliScript, work, log }) : undefined

    // 8. a store of a million objects
    const objectsIdx = process.argv.indexOf('--objects')
    const objects = objectsIdx >= 0 ? Number(process.argv[objectsIdx + 1]) : undefined
    const scale = want('scale') ? await scaleBench({ cli: cliScript, work, log, objects, storage: storageDefaults }) : undefined

    // 9. folders of many small files, against Helia in the same run
    const filesIdx = process.argv.indexOf('--files')
    const sizes = filesIdx >= 0 ? [Number(process.argv[filesIdx + 1])] : undefined
    const folder = want('folder') ? await folderBench({ cli: cliScript, heliaScript, work, sizes, log }) : undefined

    const rows = [...results, ...chunkSizes]
    const primary = results.filter(r => r.name !== 'get_prefaulted')
    const doc = {
      machine: {
        node: process.version,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        total_mem_mib: Math.round(totalmem() / MiB),
        free_mem_mib_at_start: Math.round(freemem() / MiB),
        platform: `${process.platform} ${release()} ${process.arch}`,
        load_avg_1_5_15_at_start: loadStart,
        load_avg_1_5_15_at_end: loadavg().map(x => round(x, 2)),
        calibration_at_start: calibrationStart,
        calibration_at_end: calibrate(),
        date: startDate
      },
      code,
      method: {
        child_per_operation: true,
        runs_per_256mib_figure: RUNS_SMALL,
        runs_per_1gib_figure: RUNS_LARGE,
        runs_per_chunk_size_figure: RUNS_CHUNK_SIZE,
        time_budget_s: `${BUDGET_S} (past it, remaining figures get one run each; see each row's runs)`,
        between_runs: '`sync` before every measured process (untimed), temp data dir and output removed after every run',
        snapshot: 'dist/, bin/, config/ and package.json copied to the temp dir first; all children and the CLI run from the copy',
        figure: 'median of runs; peak_rss_mib is the maximum over runs (process.resourceUsage().maxRSS of the child)',
        mib_per_s: 'size / (operation + node.close()); opening the store is excluded and reported as open_ms; mib_per_s_incl_open counts it',
        add: 'LocalNode.open(config) then node.addPath(file) (durable when it resolves), fresh data dir per run',
        get: 'exportTo(node, hash, file) in a fresh process on the store the add just wrote; output is not fsynced; store files are likely in the page cache',
        get_prefaulted: 'the same get again, right after writing and deleting an untimed scratch file of 1.5x the size, so the output lands in recently freed page-cache memory; a diagnostic for VMs that return free memory to the host (first touch of a page then faults on the host); not counted in summary.all_targets_met',
        input: 'random bytes (incompressible) generated once; in the page cache when read',
        cli: 'wall clock of the whole `bin/openhash add` process (Node start-up, open, add, close), fresh OPENHASH_DATA_DIR, shipped defaults; peak RSS from GNU time when present',
        sampled_rss: 'sampled_peak_rss_anon_mib / _file_mib: largest RssAnon / RssFile of the child seen every 20 ms in /proc/self/status (diagnostic; file-backed = mmapped files such as LevelDB tables, which count in RSS but are reclaimable page cache)',
        default_chunk_size: chunkDefault,
        generate_inputs_ms: round(generateMs)
      },
      targets: { add_mib_per_s: TARGET_ADD_MIB_S, get_mib_per_s: TARGET_GET_MIB_S, peak_rss_mib: TARGET_PEAK_RSS_MIB },
      results,
      cli,
      chunk_size_comparison: chunkSizes,
      http,
      net,
      verify,
      small,
      scale,
      folder,
      summary: {
        sections: only ?? 'all',
        all_targets_met: primary.every(r => r.meets_target && r.peak_rss_meets_target) && (cli === undefined || (cli.meets_target && cli.peak_rss_meets_target !== false)) &&
          (http === undefined || ((http.upload as any).meets_target && (http.download as any).meets_target && (http.startup_ms as any).meets_target)) &&
          (net === undefined || (net.transfer as any)?.meets_target === true) && ((folder?.missed as string[] | undefined) ?? []).length === 0,
        missed: [
          ...primary.flatMap(r => [
            ...(r.meets_target ? [] : [`${r.name} ${r.backend} ${r.size_mib} MiB: ${String(r.mib_per_s)} MiB/s < ${r.target_mib_per_s}`]),
            ...(r.peak_rss_meets_target ? [] : [`${r.name} ${r.backend} ${r.size_mib} MiB: peak RSS ${String(r.peak_rss_mib)} MiB > ${r.target_peak_rss_mib}`])
          ]),
          ...(cli === undefined || cli.meets_target ? [] : [`cli add pack 1024 MiB: ${String(cli.mib_per_s)} MiB/s < ${cli.target_mib_per_s}`]),
          ...(cli?.peak_rss_meets_target === false ? [`cli add pack 1024 MiB: peak RSS ${String(cli.peak_rss_mib)} MiB > ${cli.target_peak_rss_mib}`] : []),
          ...(http === undefined || (http.upload as any).meets_target ? [] : [`http upload: ${JSON.stringify(http.upload)}`]),
          ...(http === undefined || (http.download as any).meets_target ? [] : [`http download: ${String((http.download as any).mib_per_s)} MiB/s`]),
          ...(http === undefined || (http.startup_ms as any).meets_target ? [] : [`http start-up: ${String((http.startup_ms as any).median)} ms`]),
          ...(net === undefined || (net.transfer as any)?.meets_target === true ? [] : [`net transfer: ${String((net.transfer as any)?.mib_per_s)} MiB/s`]),
          ...((folder?.missed as string[] | undefined) ?? [])
        ],
        all_hashes_ok: rows.every(r => r.hash_ok) && (cli?.hash_matches_sha256sum ?? true) && (http === undefined || http.all_ok === true) && (verify === undefined || verify.all_ok === true) && (small === undefined || small.all_ok === true),
        errors: [...rows.filter(r => r.error !== undefined).map(r => `${r.name} ${r.backend} ${r.size_mib} MiB chunk ${r.chunk_size}: ${r.error!}`), ...(cli?.error !== undefined ? [`cli: ${cli.error}`] : [])],
        duration_s: round((performance.now() - started) / 1000)
      }
    }
    const text = JSON.stringify(doc, null, 2) + '\n'
    await mkdir(resultsDir, { recursive: true })
    await writeFile(join(resultsDir, only === undefined ? 'latest.json' : `latest-${only}.json`), text)
    process.stdout.write(text)
    log(`done in ${doc.summary.duration_s} s; written to bench/results/${only === undefined ? 'latest.json' : `latest-${only}.json`}`)
    return doc.summary.errors.length === 0 && doc.summary.all_hashes_ok ? 0 : 1
  } finally {
    await rm(work, { recursive: true, force: true })
    // belt and braces: nothing of ours may stay in /tmp
    if (await stat(work).then(() => true, () => false)) log(`could not remove ${work}`)
  }
}

process.exitCode = await main().catch(err => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  return 1
})
