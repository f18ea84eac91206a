/**
 * Collection, shared by gc and eviction: delete an object nothing keeps
 * (cascading into a directory's children through the orphans it returns),
 * and delete chunks no manifest counts and no add protects. Each step is one
 * synced batch under the repo's lock.
 */
import type { ChunkStore } from './chunk-store.js'
import type { AccessClock } from './access.js'
import type { Protections } from './guard.js'
import type { KvOp, KvStore } from './kv.js'
import { Manifests } from './manifests.js'
import type { Mutex } from './mutex.js'
import type { Pins } from './pins.js'
import { K, countBy, dec, enc } from './keys.js'
import type { ObjectRecord } from './records.js'
import { readCounters } from './records.js'
import { decodeDirectory } from '../format/directory.js'

/** What collecting an object left to do: its manifest to unwind, and its children no longer referenced. */
export interface Collected { manifest?: string, orphans: string[] }

export interface CollectContext {
  kv: KvStore
  chunks: Pick<ChunkStore, 'has' | 'delete'>
  lock: Mutex
  protections: Protections
  pins: Pick<Pins, 'isKept'>
  access: Pick<AccessClock, 'forget'>
  /** Chunk bytes deleted (the quota's count goes down). */
  onFreed: (bytes: number) => void
}

export class Collector {
  constructor (private readonly ctx: CollectContext) {}

  private async object (hash: string): Promise<ObjectRecord | undefined> {
    const v = await this.ctx.kv.get(K.object(hash))
    return v === undefined ? undefined : dec<ObjectRecord>(v)
  }

  /** Delete `hash` if nothing holds it. Returns its manifest and children left unreferenced. */
  async collectObject (hash: string): Promise<Collected | undefined> {
    return await this.ctx.lock.run(async () => {
      const rec = await this.object(hash)
      if (rec === undefined || rec.refs > 0 || rec.added || this.ctx.protections.objects.has(hash)) return undefined
      if (await this.ctx.pins.isKept(hash)) return undefined
      const ops: KvOp[] = [{ type: 'del', key: K.object(hash) }, { type: 'del', key: K.access(hash) }]
      this.ctx.access.forget(hash)
      const orphans: string[] = []
      const counters = await readCounters(this.ctx.kv)
      counters.objects--
      if (rec.is_directory) {
        counters.directories--
        const v = await this.ctx.kv.get(K.dir(hash))
        ops.push({ type: 'del', key: K.dir(hash) })
        const entries = v === undefined ? [] : decodeDirectory(v)
        const counts = countBy(entries.map(e => e.hash))
        const children = [...counts.keys()]
        const values = await this.ctx.kv.getMany(children.map(K.object))
        children.forEach((h, i) => {
          const cv = values[i]
          if (cv === undefined) return
          const child = dec<ObjectRecord>(cv)
          child.refs = Math.max(0, child.refs - counts.get(h)!)
          ops.push({ type: 'put', key: K.object(h), value: enc(child) })
          if (child.refs === 0 && !child.added) orphans.push(h)
        })
      } else {
        counters.files--
        counters.logical_bytes -= rec.size
        if (rec.manifest !== undefined) {
          ops.push(Manifests.releasedOp(rec.manifest))
        }
      }
      ops.push({ type: 'put', key: K.counters, value: enc(counters) })
      await this.ctx.kv.batch(ops, { sync: true })
      return { manifest: rec.manifest, orphans }
    })
  }

  /** Delete those of `hashes` that no manifest counts and no add protects. */
  async sweepChunks (hashes: readonly string[]): Promise<{ count: number, bytes: number }> {
    if (hashes.length === 0) return { count: 0, bytes: 0 }
    return await this.ctx.lock.run(async () => {
      const unique = [...new Set(hashes)]
      const refs = await this.ctx.kv.getMany(unique.map(K.chunkRef))
      const dead = unique.filter((h, i) => refs[i] === undefined && !this.ctx.protections.chunks.has(h))
      if (dead.length === 0) return { count: 0, bytes: 0 }
      const present: string[] = []
      for (const h of dead) if (await this.ctx.chunks.has(h)) present.push(h)
      const bytes = await this.ctx.chunks.delete(present)
      this.ctx.onFreed(bytes)
      return { count: present.length, bytes }
    })
  }
}
