/**
 * Manifests: a file's chunk list as segments m/<mid>/<seq> with their chunk
 * counts c/<chunk>, and the manifest's state ms/<mid> (staging, live,
 * released; see repo.ts). A segment and its count changes are always one
 * atomic, synced batch, so a crash never skews the counts.
 */
import type { ChunkStore } from './chunk-store.js'
import type { Guard } from './guard.js'
import type { KvOp, KvStore } from './kv.js'
import type { Mutex } from './mutex.js'
import { K, countBy, enc, num, numValue, segmentHashes, segmentValue } from './keys.js'
import type { ManifestState } from './records.js'

export class Manifests {
  constructor (private readonly kv: KvStore, private readonly chunks: Pick<ChunkStore, 'flush'>, private readonly lock: Mutex) {}

  /** A manifest state record, as an op. */
  static stateOp (mid: string, state: ManifestState): KvOp {
    return { type: 'put', key: K.manifest(mid), value: enc(state) }
  }

  /** The op that marks a manifest released (to be unwound by release or the next gc). */
  static releasedOp (mid: string): KvOp {
    return Manifests.stateOp(mid, { state: 'released', created_at: new Date().toISOString() })
  }

  /**
   * Write segment `seq` of manifest `mid` durably, its chunks flushed first;
   * the first segment also records the manifest as staging. Then the
   * segment's chunks are counted and no longer need `guard`.
   */
  async commitSegment (mid: string, seq: number, seg: string[], guard: Guard): Promise<void> {
    await this.chunks.flush()
    await this.lock.run(async () => {
      const ops = await this.segmentOps(mid, seq, seg)
      if (seq === 0) ops.push(Manifests.stateOp(mid, { state: 'staging', created_at: new Date().toISOString() }))
      // synced: a later synced batch does not make this one durable when LevelDB switched
      // memtables in between (it closes the old log without fsync); one fsync per 256 chunks
      await this.kv.batch(ops, { sync: true })
    })
    guard.releaseChunks(seg)
  }

  /** The segment and its chunk-count increments (read-modify-write: call under the lock). */
  async segmentOps (mid: string, seq: number, seg: string[]): Promise<KvOp[]> {
    const counts = countBy(seg)
    const keys = [...counts.keys()]
    const current = await this.kv.getMany(keys.map(K.chunkRef))
    const ops: KvOp[] = keys.map((h, i) => ({ type: 'put', key: K.chunkRef(h), value: numValue(num(current[i]) + counts.get(h)!) }))
    ops.push({ type: 'put', key: K.segment(mid, seq), value: segmentValue(seg) })
    return ops
  }

  /**
   * Unwind a released manifest: one atomic batch per segment. `onZeroed`
   * hears, batch by batch, the chunks no manifest counts any more.
   */
  async release (mid: string, onZeroed?: (chunks: string[]) => Promise<void>): Promise<void> {
    for (;;) {
      const batch: Array<[string, Uint8Array]> = []
      for await (const kv of this.kv.iterate({ prefix: K.segments(mid), limit: 4 })) batch.push(kv)
      if (batch.length === 0) break
      const zeroed: string[] = []
      await this.lock.run(async () => {
        for (const [key, v] of batch) {
          const counts = countBy(segmentHashes(v))
          const keys = [...counts.keys()]
          const current = await this.kv.getMany(keys.map(K.chunkRef))
          const ops: KvOp[] = keys.map((h, i) => {
            const n = num(current[i]) - counts.get(h)!
            if (n <= 0) zeroed.push(h)
            return n > 0 ? { type: 'put', key: K.chunkRef(h), value: numValue(n) } : { type: 'del', key: K.chunkRef(h) }
          })
          ops.push({ type: 'del', key })
          await this.kv.batch(ops, { sync: true }) // see commitSegment
        }
      })
      if (onZeroed !== undefined && zeroed.length > 0) await onZeroed(zeroed)
    }
    await this.lock.run(async () => {
      await this.kv.batch([{ type: 'del', key: K.manifest(mid) }], { sync: true })
    })
  }
}
