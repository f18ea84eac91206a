/**
 * Store section, verify: `Repo.verify()` on a store of many small files
 * (5,000 files of 1-8 KiB, pack backend, fresh temp data dir), reported as
 * objects/s and MiB/s (bytes_checked over the verify time), median of a few
 * runs. The anchor, measured in the same run: plain SHA-256 (node:crypto,
 * main thread) over the same bytes in the same pieces, so that figures from
 * different machines or loads can be compared.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { openStore } from '../src/store/open.js'
import { median, round } from './http.js'

const MiB = 1024 * 1024

export interface VerifyBenchOptions {
  work: string
  files?: number
  runs?: number
  log: (msg: string) => void
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

export async function verifyBench (options: VerifyBenchOptions): Promise<Record<string, unknown>> {
  const files = options.files ?? 5000
  const runs = options.runs ?? 3
  const dir = await mkdtemp(join(options.work, 'verify-'))
  try {
    const store = await openStore(dir, { backend: 'pack', chunk_size: 1024 * 1024, pack_max_bytes: 64 * MiB, compact_threshold: 0.5, verify_on_read: true }, 'bench')
    try {
      options.log(`verify: adding ${files} files of 1-8 KiB`)
      const pieces: Buffer[] = []
      for (let i = 0; i < files; i++) {
        const bytes = randomBytes(1024 + Math.floor(Math.random() * 7 * 1024))
        pieces.push(bytes)
        await store.repo.importFile(once(Buffer.from(bytes)), { filename: `f${i}.bin` }, { added: true })
      }
      const totalBytes = pieces.reduce((s, b) => s + b.byteLength, 0)
      const samples: Array<{ ms: number, objects: number, bytes: number, ok: boolean }> = []
      for (let r = 0; r < runs; r++) {
        options.log(`verify: run ${r + 1}/${runs}`)
        const t = performance.now()
        const v = await store.repo.verify()
        samples.push({ ms: performance.now() - t, objects: v.objects_checked, bytes: v.bytes_checked, ok: v.ok })
      }
      // anchor: SHA-256 of the same pieces, twice per piece (a chunk hash and the file hash), on the main thread
      const anchor: number[] = []
      for (let r = 0; r < runs; r++) {
        const t = performance.now()
        for (const p of pieces) { createHash('sha256').update(p).digest(); createHash('sha256').update(p).digest() }
        anchor.push(performance.now() - t)
      }
      const ms = median(samples.map(s => s.ms))
      const anchorMs = median(anchor)
      return {
        files,
        total_mib: round(totalBytes / MiB, 2),
        runs,
        verify_ms: round(ms),
        objects_per_s: round(files / (ms / 1000)),
        mib_per_s: round(totalBytes / MiB / (ms / 1000), 2),
        all_ok: samples.every(s => s.ok && s.objects === files && s.bytes === totalBytes),
        sha256_anchor: {
          what: 'createHash(sha256) of every piece twice (chunk + file hash), main thread, same pieces',
          ms: round(anchorMs, 2),
          mib_per_s: round(2 * totalBytes / MiB / (anchorMs / 1000), 1)
        }
      }
    } finally {
      await store.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
