/**
 * In-memory KvStore, for tests and ephemeral nodes. Same semantics as LevelKv.
 */
import type { KvIterateOptions, KvOp, KvStore } from './kv.js'

export class MemoryKv implements KvStore {
  private readonly data = new Map<string, Uint8Array>()

  async open (): Promise<void> {}
  async close (): Promise<void> {}

  async get (key: string): Promise<Uint8Array | undefined> {
    return this.data.get(key)
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return keys.map(k => this.data.get(k))
  }

  async batch (ops: KvOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value)
      else this.data.delete(op.key)
    }
  }

  async * iterate (options: KvIterateOptions): AsyncIterable<[string, Uint8Array]> {
    const keys = [...this.data.keys()]
      .filter(k => k.startsWith(options.prefix) && (options.after === undefined || k > options.after))
      .sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    let n = 0
    for (const key of keys) {
      if (options.limit !== undefined && n >= options.limit) return
      const value = this.data.get(key)
      if (value === undefined) continue
      n++
      yield [key, value]
    }
  }
}
