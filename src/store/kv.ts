/**
 * The metadata store: an ordered key/value store with atomic batches.
 * Keys are strings (the repo namespaces them with prefixes); values are bytes.
 * Implementations: LevelKv (classic-level, the design's store) and MemoryKv (tests).
 * Both pass test/store/kv.compliance.ts.
 */
export type KvOp =
  | { type: 'put', key: string, value: Uint8Array }
  | { type: 'del', key: string }

export interface KvIterateOptions {
  /** Only keys starting with this prefix. */
  prefix: string
  /** Start strictly after this key (for paging). */
  after?: string
  limit?: number
}

export interface KvStore {
  open(): Promise<void>
  close(): Promise<void>
  get(key: string): Promise<Uint8Array | undefined>
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>
  /** Apply all operations atomically. With `sync`, durable on disk when the promise resolves. */
  batch(ops: KvOp[], options?: { sync?: boolean }): Promise<void>
  /** Iterate keys in ascending order. */
  iterate(options: KvIterateOptions): AsyncIterable<[string, Uint8Array]>
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixEnd (prefix: string): string {
  return prefix + '\uffff'
}
