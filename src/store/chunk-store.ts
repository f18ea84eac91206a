/**
 * The chunk store: bytes addressed by their SHA-256 (lowercase hex).
 *
 * Contract (checked by test/store/chunk-store.compliance.ts for every backend):
 * - `put` stages a chunk; it is visible to `has`/`get` at once and durable
 *   after the next `flush()` resolves. It reports whether the chunk is new
 *   (false for a chunk already stored or staged: nothing is written). The caller vouches that `hash` is the
 *   SHA-256 of `bytes` (the content layer hashes every chunk it hands over).
 * - `delete` is durable when it resolves; deleting a missing chunk is a no-op.
 * - `entries()` lists durable chunks with their sizes, in hash order.
 * - `stats()` is O(1): counters kept atomically with the index.
 * - `compact()` reclaims space that deletes left behind (backend-specific).
 */
export interface ChunkStoreStats {
  count: number
  /** Sum of the sizes of stored chunks. */
  bytes: number
  /** Bytes the backend occupies on disk (including dead space), when known. */
  disk_bytes?: number
}

export interface CompactResult {
  reclaimed_bytes: number
  files_removed: number
}

export interface ChunkStore {
  readonly backend: string
  /**
   * `get` returns, for chunks of 64 KiB or more, memory that nothing else
   * references (its own ArrayBuffer, fresh per call): the caller may move it
   * to a worker thread without a copy.
   */
  readonly ownsReads?: boolean
  /** The store's staged chunks are made durable and indexed by every metadata group commit (kv-group.ts): no flush() needed before a commit. */
  readonly joinsCommits?: boolean
  open(): Promise<void>
  close(): Promise<void>
  has(hash: string): Promise<boolean>
  /** Throws NotFoundError when absent. */
  get(hash: string): Promise<Uint8Array>
  /** Resolves true when the chunk was not stored before (its bytes now count in `stats().bytes` once flushed), false when it was already there. */
  put(hash: string, bytes: Uint8Array): Promise<boolean>
  flush(): Promise<void>
  /** Returns the bytes freed (sum of sizes of chunks that existed). */
  delete(hashes: string[]): Promise<number>
  entries(): AsyncIterable<{ hash: string, size: number }>
  stats(): Promise<ChunkStoreStats>
  /** `threshold` overrides the backend's own (pack: rewrite packs whose live fraction is below it; 1 = every pack with dead space). */
  compact(options?: { threshold?: number }): Promise<CompactResult>
}

export function encodeCounters (count: number, bytes: number): Uint8Array {
  const buf = Buffer.alloc(16)
  buf.writeDoubleBE(count, 0)
  buf.writeDoubleBE(bytes, 8)
  return buf
}

export function decodeCounters (value: Uint8Array | undefined): { count: number, bytes: number } {
  if (value === undefined || value.byteLength < 16) return { count: 0, bytes: 0 }
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return { count: buf.readDoubleBE(0), bytes: buf.readDoubleBE(8) }
}
