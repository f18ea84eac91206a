/**
 * gc: delete every object nothing references (not added, not pinned, in no
 * stored directory, not protected by an add in progress), unwind their
 * manifests, delete chunks no manifest counts, and compact the chunk store.
 * Four phases, each safe to interrupt: a crash at any point leaves what the
 * next run finishes. The caller holds the gc lock.
 */
import type { GcResult, OperationOptions } from '../interface.js'
import type { ChunkStore } from './chunk-store.js'
import type { Protections } from './guard.js'
import type { KvOp, KvStore } from './kv.js'
import type { Manifests } from './manifests.js'
import type { Mutex } from './mutex.js'
import { PREFIX, dec, enc, keyName } from './keys.js'
import type { ManifestState, ObjectRecord } from './records.js'
import { throwIfAborted } from '../errors.js'

export interface GcContext {
  kv: KvStore
  chunks: Pick<ChunkStore, 'entries' | 'compact'>
  lock: Mutex
  protections: Protections
  manifests: Manifests
  /** Delete `hash` if nothing holds it: its manifest and the children it left unreferenced. */
  collectObject: (hash: string) => Promise<{ manifest?: string, orphans: string[] } | undefined>
  /** Delete those of `hashes` no manifest counts and no add protects. */
  sweepChunks: (hashes: readonly string[]) => Promise<{ count: number, bytes: number }>
}

export async function gc (ctx: GcContext, options: OperationOptions = {}): Promise<GcResult> {
  const started = Date.now()
  const result: GcResult = { objects_removed: 0, chunks_removed: 0, bytes_freed: 0, disk_bytes_reclaimed: 0, manifests_released: 0, duration_ms: 0 }
  result.manifests_released += await releaseLeftovers(ctx)
  options.onProgress?.({ type: 'gc:manifests', count: result.manifests_released })
  await collectObjects(ctx, result, options.signal)
  options.onProgress?.({ type: 'gc:objects', count: result.objects_removed })
  await sweepAll(ctx, result)
  options.onProgress?.({ type: 'gc:chunks', count: result.chunks_removed })
  // 4. reclaim disk space
  const compacted = await ctx.chunks.compact()
  result.disk_bytes_reclaimed = compacted.reclaimed_bytes
  result.duration_ms = Date.now() - started
  return result
}

/** 1. Manifests left by crashed adds, dedups and deletions (not those of adds running now). */
async function releaseLeftovers (ctx: GcContext): Promise<number> {
  const toRelease: string[] = []
  await ctx.lock.run(async () => {
    const ops: KvOp[] = []
    for await (const [k, v] of ctx.kv.iterate({ prefix: PREFIX.manifest })) {
      const mid = keyName(PREFIX.manifest, k)
      if (ctx.protections.manifests.has(mid)) continue
      const st = dec<ManifestState>(v)
      if (st.state === 'live') continue
      if (st.state === 'staging') ops.push({ type: 'put', key: k, value: enc({ ...st, state: 'released' }) })
      toRelease.push(mid)
    }
    await ctx.kv.batch(ops, { sync: true })
  })
  for (const mid of toRelease) await ctx.manifests.release(mid)
  return toRelease.length
}

/** 2. Objects, cascading into directories' children. */
async function collectObjects (ctx: GcContext, result: GcResult, signal?: AbortSignal): Promise<void> {
  let work: string[] = []
  for await (const [k, v] of ctx.kv.iterate({ prefix: PREFIX.object })) {
    const rec = dec<ObjectRecord>(v)
    if (rec.refs === 0 && !rec.added) work.push(keyName(PREFIX.object, k))
  }
  while (work.length > 0) {
    throwIfAborted(signal)
    const next: string[] = []
    for (const hash of work) {
      const removed = await ctx.collectObject(hash)
      if (removed === undefined) continue
      result.objects_removed++
      if (removed.manifest !== undefined) { await ctx.manifests.release(removed.manifest); result.manifests_released++ }
      next.push(...removed.orphans)
    }
    work = next
  }
}

/** 3. Chunks no manifest counts, 1024 at a time. */
async function sweepAll (ctx: GcContext, result: GcResult): Promise<void> {
  let batch: string[] = []
  const flushBatch = async (): Promise<void> => {
    const { count, bytes } = await ctx.sweepChunks(batch)
    result.chunks_removed += count
    result.bytes_freed += bytes
    batch = []
  }
  for await (const { hash } of ctx.chunks.entries()) {
    batch.push(hash)
    if (batch.length >= 1024) await flushBatch()
  }
  await flushBatch()
}
