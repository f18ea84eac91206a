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

export interface BatchOptions {
  /** Resolve only once the batch is durable. */
  sync?: boolean
  /** Group commit (kv-group.ts): refuse the batch if a group failed since this generation was read. */
  generation?: number
}

export interface KvStore {
  open(): Promise<void>
  close(): Promise<void>
  get(key: string): Promise<Uint8Array | undefined>
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>
  /** Apply all operations atomically. With `sync`, durable on disk when the promise resolves. */
  batch(ops: KvOp[], options?: BatchOptions): Promise<void>
  /** Iterate keys in ascending order. */
  iterate(options: KvIterateOptions): AsyncIterable<[string, Uint8Array]>
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixEnd (prefix: string): string {
  return prefix + '\uffff'
}

/**
 * A view of `kv` under `prefix`: keys are given and returned without it, so
 * an owner (tokens, the audit log, the replicator) sees only its own part of
 * the store. open/close are no-ops: the underlying store's owner (openStore)
 * opens and closes it.
 */
export function prefixed (kv: KvStore, prefix: string): KvStore {
  const strip = (key: string): string => key.slice(prefix.length)
  return {
    async open () {},
    async close () {},
    get: async (key) => await kv.get(prefix + key),
    getMany: async (keys) => await kv.getMany(keys.map(k => prefix + k)),
    batch: async (ops, options) => { await kv.batch(ops.map(op => ({ ...op, key: prefix + op.key })), options) },
    async * iterate (options) {
      const it = kv.iterate({ ...options, prefix: prefix + options.prefix, after: options.after === undefined ? undefined : prefix + options.after })
      for await (const [k, v] of it) yield [strip(k), v]
    }
  }
}
