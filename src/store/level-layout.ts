/**
 * The layout of the LevelDB chunk store's two databases (chunks-level.ts):
 * their keys and values, the batches that index and unindex chunks (with
 * the counters), and syncLogs(), which makes their writes durable.
 *
 * Index database: 's' + hash -> u32 BE size + u64 BE value number; '!stats'
 * -> counters; '!next' -> the next value number; 'x' + value number (hex) ->
 * a deleted value still to reclaim; 'd' + hash -> bytes (the earlier
 * layout). Values database: u64 BE value number -> chunk bytes.
 */
import { open as openFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeCounters, encodeCounters } from './chunk-store.js'

export const STATS_KEY = '!stats'
export const NEXT_KEY = '!next'

type Bytes = Uint8Array

/** u64 BE value number, the key in the values database. */
export function valueKey (n: number): Bytes {
  const b = Buffer.allocUnsafe(8)
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0)
  b.writeUInt32BE(n % 2 ** 32, 4)
  return b
}

function encodeIndex (size: number, n: number): Bytes {
  const b = Buffer.allocUnsafe(12)
  b.writeUInt32BE(size, 0)
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 4)
  b.writeUInt32BE(n % 2 ** 32, 8)
  return b
}

/** size, and the value number (undefined: a chunk of the old layout, bytes at 'd' + hash). */
export function decodeIndex (v: Bytes): { size: number, n?: number } {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  const size = b.readUInt32BE(0)
  return b.byteLength >= 12 ? { size, n: b.readUInt32BE(4) * 2 ** 32 + b.readUInt32BE(8) } : { size }
}

export function decodeNumber (v: Bytes | undefined): number {
  if (v === undefined || v.byteLength < 8) return 0
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  return b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4)
}

const markerKey = (n: number): string => 'x' + n.toString(16).padStart(16, '0')

/**
 * fsync every LevelDB log file in `dir`, then the directory: makes every write
 * done so far durable, including those in the log of a memtable that LevelDB
 * is still turning into a table (closed without sync).
 */
export async function syncLogs (dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!/^\d+\.log$/.test(name)) continue
    let fh
    try {
      fh = await openFile(join(dir, name), 'r')
    } catch (err: any) {
      if (err?.code === 'ENOENT') continue // its memtable is a synced table by now
      throw err
    }
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  }
  const d = await openFile(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

type IndexOp = { type: 'put', key: string, value: Bytes } | { type: 'del', key: string }

/** The index entries of the written values `pending`, the counters (`stats`: their current value) and '!next'. */
export function indexBatch (stats: Bytes | undefined, pending: Map<string, { size: number, n: number }>, next: number): IndexOp[] {
  const counters = decodeCounters(stats)
  const ops: IndexOp[] = []
  for (const [hash, { size, n }] of pending) {
    ops.push({ type: 'put', key: 's' + hash, value: encodeIndex(size, n) })
    counters.count += 1
    counters.bytes += size
  }
  ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
  ops.push({ type: 'put', key: NEXT_KEY, value: valueKey(next) })
  return ops
}

/**
 * The index batch that deletes the chunks `unique` whose index entries are
 * `entries` (undefined: not stored), the value keys it leaves dead, and the
 * bytes it frees. No ops when none is stored.
 */
export function unindexBatch (stats: Bytes | undefined, unique: string[], entries: Array<Bytes | undefined>): { ops: IndexOp[], dead: Bytes[], freed: number } {
  const counters = decodeCounters(stats)
  const ops: IndexOp[] = []
  const dead: Bytes[] = []
  let freed = 0
  unique.forEach((hash, i) => {
    const e = entries[i]
    if (e === undefined) return
    const { size, n } = decodeIndex(e)
    ops.push({ type: 'del', key: 's' + hash })
    if (n === undefined) {
      ops.push({ type: 'del', key: 'd' + hash })
    } else {
      // compact() deletes the value again (should this batch be lost) and reclaims its space
      ops.push({ type: 'put', key: markerKey(n), value: new Uint8Array(0) })
      dead.push(valueKey(n))
    }
    counters.count -= 1
    counters.bytes -= size
    freed += size
  })
  if (ops.length > 0) ops.push({ type: 'put', key: STATS_KEY, value: encodeCounters(counters.count, counters.bytes) })
  return { ops, dead, freed }
}
