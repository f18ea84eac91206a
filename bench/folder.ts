/**
 * Folder adds of many small files (issue 15): a tree of 100 B-8 KB random
 * files (100 per directory), added by `openhash add` (the whole process,
 * fresh data dir, shipped defaults) and, in the same run on the same tree, by
 * Helia's `@helia/unixfs` addAll into an fs blockstore (bench/helia-add.ts),
 * each a fresh process, alternating. Files/s and peak RSS (GNU time) for
 * both; with strace present, the fdatasync/fsync calls of one extra,
 * untimed `openhash add` of the smallest tree.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { median, round, runMeasured } from './http.js'

type Log = (line: string) => void

/** Issue 15's targets for a folder of 10k small files. */
export const FOLDER_TARGETS = { files_per_s_vs_helia: 2, peak_rss_mib: 250, fdatasync_per_1000_files: 1 }

async function makeTree (dir: string, files: number): Promise<number> {
  let bytes = 0
  for (let d = 0; d * 100 < files; d++) {
    const sub = join(dir, `d${String(d).padStart(4, '0')}`)
    await mkdir(sub, { recursive: true })
    for (let i = 0; i < 100 && d * 100 + i < files; i++) {
      const b = randomBytes(100 + Math.floor(Math.random() * 8092))
      bytes += b.byteLength
      await writeFile(join(sub, `f${i}.bin`), b)
    }
  }
  return bytes
}

interface Run { wall_ms: number, peak_rss_mib?: number, stdout: string }

async function timedRun (cmd: string, args: string[], env: NodeJS.ProcessEnv, work: string): Promise<Run> {
  const r = await runMeasured(cmd, args, { env, work })
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code)}: ${r.stderr.trim().slice(-2000)}`)
  return r
}

async function syncCounts (cli: string, tree: string, work: string, env: NodeJS.ProcessEnv): Promise<Record<string, number> | undefined> {
  if (!existsSync('/usr/bin/strace')) return undefined
  const data = await mkdtemp(join(work, 'strace-'))
  const out = join(work, 'strace.txt')
  try {
    await timedRun('/usr/bin/strace', ['-f', '-c', '-o', out, '-e', 'trace=fdatasync,fsync,sync_file_range', process.execPath, cli, 'add', tree, '--json'], { ...env, OPENHASH_DATA_DIR: data }, work)
    const text = await readFile(out, 'utf8')
    const counts: Record<string, number> = {}
    for (const m of text.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/gm)) counts[m[2]] = Number(m[1])
    return counts
  } finally {
    await rm(data, { recursive: true, force: true })
    await rm(out, { force: true })
  }
}

export async function folderBench (options: { cli: string, heliaScript: string, work: string, sizes?: number[], log: Log }): Promise<Record<string, unknown>> {
  const { cli, heliaScript, work, log } = options
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENHASH_'))), OPENHASH_API_REQUEST_LOG: 'false' }
  const rows: Array<Record<string, unknown>> = []
  let strace: Record<string, unknown> | undefined
  for (const files of options.sizes ?? [10_000, 100_000]) {
    const tree = join(work, `tree-${files}`)
    const bytes = await makeTree(tree, files)
    const runs = files <= 10_000 ? 3 : 1
    const ours: Run[] = []
    const helia: Run[] = []
    let hash = ''
    let heliaRoot = ''
    for (let r = 0; r < runs; r++) {
      const data = await mkdtemp(join(work, 'folder-'))
      const o = await timedRun(process.execPath, [cli, 'add', tree, '--json'], { ...env, OPENHASH_DATA_DIR: data }, work)
      await rm(data, { recursive: true, force: true })
      ours.push(o)
      const parsed = JSON.parse(o.stdout)
      if (parsed.files !== files) throw new Error(`openhash add stored ${String(parsed.files)} files of ${files}`)
      hash = parsed.hash
      const bs = await mkdtemp(join(work, 'helia-'))
      const h = await timedRun(process.execPath, [heliaScript, tree, bs], env, work)
      await rm(bs, { recursive: true, force: true })
      helia.push(h)
      heliaRoot = JSON.parse(h.stdout).root
      log(`folder: ${files} files, run ${r + 1}/${runs}: openhash ${round(o.wall_ms)} ms, Helia ${round(h.wall_ms)} ms`)
    }
    const oMs = median(ours.map(r => r.wall_ms))
    const hMs = median(helia.map(r => r.wall_ms))
    const row: Record<string, unknown> = {
      files,
      total_mib: round(bytes / 1024 / 1024, 1),
      runs,
      openhash: { wall_ms: round(oMs), files_per_s: round(files / (oMs / 1000)), peak_rss_mib: Math.max(...ours.map(r => r.peak_rss_mib ?? 0)), root_hash: hash },
      helia: { wall_ms: round(hMs), files_per_s: round(files / (hMs / 1000)), peak_rss_mib: Math.max(...helia.map(r => r.peak_rss_mib ?? 0)), root_cid: heliaRoot },
      ratio_vs_helia: round(hMs / oMs, 2)
    }
    if (strace === undefined) {
      const counts = await syncCounts(cli, tree, work, env)
      if (counts !== undefined) {
        const syncs = (counts.fdatasync ?? 0) + (counts.fsync ?? 0)
        strace = { files, calls: counts, syncs_per_1000_files: round(syncs / (files / 1000), 2) }
      }
    }
    rows.push(row)
    await rm(tree, { recursive: true, force: true })
  }
  // the targets are set for 10k files (or the smallest tree measured)
  const missed: string[] = []
  const first = rows[0] as any
  if (first !== undefined) {
    if (first.ratio_vs_helia < FOLDER_TARGETS.files_per_s_vs_helia) missed.push(`folder ${String(first.files)} files: ${String(first.ratio_vs_helia)}x Helia's files/s < ${FOLDER_TARGETS.files_per_s_vs_helia}x`)
    if (first.openhash.peak_rss_mib > FOLDER_TARGETS.peak_rss_mib) missed.push(`folder ${String(first.files)} files: peak RSS ${String(first.openhash.peak_rss_mib)} MiB > ${FOLDER_TARGETS.peak_rss_mib}`)
  }
  if (strace !== undefined && (strace.syncs_per_1000_files as number) > FOLDER_TARGETS.fdatasync_per_1000_files) missed.push(`folder: ${String(strace.syncs_per_1000_files)} syncs per 1,000 files > ${FOLDER_TARGETS.fdatasync_per_1000_files}`)
  return { missed, what: 'whole-process folder add of 100 B-8 KB files; Helia = @helia/unixfs addAll(globSource) into blockstore-fs, no libp2p', rows, strace, targets: FOLDER_TARGETS }
}
