/**
 * The index of the pack chunk store (chunks-pack.ts) in the metadata KV:
 * key `pk/<hash>` -> [pack u32][offset f64][length u32] (16 bytes), counters
 * at `pk!stats`. The functions here read the index and build the batches
 * that change it, counters included; the store decides when they are
 * written and under which lock (the counters are read-modify-write).
 */
import { decodeCounters, encodeCounters } from './chunk-store.js'
import type { KvOp, KvStore } from './kv.js'
import { PACK_STATS, PREFIX } from './keys.js'
import { HEADER } from './pack-file.js'

export const INDEX_PREFIX = PREFIX.packIndex
export const STATS_KEY = PACK_STATS

/** Where a chunk's record is: pack id, record offset, chunk length. */
export interface Location { pack: number, offset: number, length: number }

function encodeLocation (loc: Location): Uint8Array {
  const buf = Buffer.alloc(16)
  buf.writeUInt32BE(loc.pack, 0)
  buf.writeDoubleBE(loc.offset, 4)
  buf.writeUInt32BE(loc.length, 12)
  return buf
}

export function decodeLocation (value: Uint8Array): Location {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return { pack: buf.readUInt32BE(0), offset: buf.readDoubleBE(4), length: buf.readUInt32BE(12) }
}

/** The index entries of `staged` and the counters with them (read-modify-write: call under the index lock). */
export async function indexOps (kv: KvStore, staged: Map<string, Location>): Promise<KvOp[]> {
  const counters = decodeCounters(await kv.get(STATS_KEY))
  const ops: KvOp[] = []
  for (const [hash, loc] of staged) {
    ops.push({ type: 'put', key: INDEX_PREFIX + hash, value: encodeLocation(loc) })
    counters.count += 1
    counters.bytes += loc.length
  }
  ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
  return ops
}

/** The batch that unindexes `hashes` (those indexed, once each) and the chunk bytes it frees (under the index lock). */
export async function deleteOps (kv: KvStore, hashes: string[]): Promise<{ ops: KvOp[], freed: number }> {
  const values = await kv.getMany(hashes.map(h => INDEX_PREFIX + h))
  const counters = decodeCounters(await kv.get(STATS_KEY))
  const ops: KvOp[] = []
  let freed = 0
  const seen = new Set<string>()
  hashes.forEach((hash, i) => {
    const v = values[i]
    if (v === undefined || seen.has(hash)) return
    seen.add(hash)
    const loc = decodeLocation(v)
    ops.push({ type: 'del', key: INDEX_PREFIX + hash })
    counters.count -= 1
    counters.bytes -= loc.length
    freed += loc.length
  })
  if (ops.length === 0) return { ops, freed: 0 }
  ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
  return { ops, freed }
}

/** The entries that re-point the `moved` chunks still indexed in pack `from` (under the index lock). */
export async function repointOps (kv: KvStore, from: number, moved: Map<string, Location>): Promise<KvOp[]> {
  const keys = [...moved.keys()]
  const current = await kv.getMany(keys.map(h => INDEX_PREFIX + h))
  const ops: KvOp[] = []
  keys.forEach((hash, i) => {
    const v = current[i]
    if (v !== undefined && decodeLocation(v).pack === from) {
      ops.push({ type: 'put', key: INDEX_PREFIX + hash, value: encodeLocation(moved.get(hash)!) })
    }
  })
  return ops
}

/** Live record bytes (headers included) per pack, from one scan of the index; `only`: of that pack alone. */
export async function liveBytesPerPack (kv: KvStore, only?: number): Promise<Map<number, number>> {
  const live = new Map<number, number>()
  for await (const [, value] of kv.iterate({ prefix: INDEX_PREFIX })) {
    const loc = decodeLocation(value)
    if (only !== undefined && loc.pack !== only) continue
    live.set(loc.pack, (live.get(loc.pack) ?? 0) + HEADER + loc.length)
  }
  return live
}

/** The indexed chunks of the `selected` packs, per pack. */
export async function recordsIn (kv: KvStore, selected: Map<number, number>): Promise<Map<number, Array<[string, Location]>>> {
  const toMove = new Map<number, Array<[string, Location]>>()
  for await (const [key, value] of kv.iterate({ prefix: INDEX_PREFIX })) {
    const loc = decodeLocation(value)
    if (!selected.has(loc.pack)) continue
    let list = toMove.get(loc.pack)
    if (list === undefined) toMove.set(loc.pack, list = [])
    list.push([key.slice(INDEX_PREFIX.length), loc])
  }
  return toMove
}
