/**
 * KvStore on LevelDB (classic-level). Holds metadata, refcounts, pins and the
 * pack-file chunk index.
 */
import { ClassicLevel } from 'classic-level'
import type { KvIterateOptions, KvOp, KvStore } from './kv.js'
import { prefixEnd } from './kv.js'
import { StoreLockedError } from '../errors.js'
import { asDiskFull, isDiskFull } from '../disk-full.js'

/** getMany of at most this many keys reads them synchronously (LevelKv.get). */
const SYNC_GET_MANY = 8

export interface LevelKvInit {
  writeBufferSize?: number
  /** Called when a write (or the open's recovery) meets a full disk, e.g. to release the space reserve. */
  onDiskFull?: () => void
}

export class LevelKv implements KvStore {
  readonly db: ClassicLevel<string, Uint8Array>

  private readonly onDiskFull?: () => void

  constructor (readonly path: string, init: LevelKvInit = {}) {
    this.onDiskFull = init.onDiskFull
    this.db = new ClassicLevel<string, Uint8Array>(path, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: init.writeBufferSize ?? 8 * 1024 * 1024
    })
  }

  async open (): Promise<void> {
    try {
      await this.db.open()
    } catch (err: any) {
      if (err?.code === 'LEVEL_DATABASE_NOT_OPEN' && err?.cause?.code === 'LEVEL_LOCKED') {
        throw new StoreLockedError(`database ${this.path} is locked by another process`, { path: this.path }, { cause: err })
      }
      throw this.failed(err)
    }
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  /**
   * Point reads are synchronous (LevelDB's Get on this thread): a key that
   * is absent (the bloom filters answer) or cached needs no thread-pool
   * round trip, which in a profiled 10k-file add cost ~30 µs of main-thread
   * time per asynchronous get (3 per object; the add went from ~5.7 to
   * ~4.6 s). A read that misses the caches blocks for one block read.
   */
  async get (key: string): Promise<Uint8Array | undefined> {
    return this.db.getSync(key)
  }

  /** Up to SYNC_GET_MANY keys read as point reads (see get); more in one asynchronous call, off this thread. */
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    if (keys.length <= SYNC_GET_MANY) return keys.map(k => this.db.getSync(k))
    return await this.db.getMany(keys)
  }

  async batch (ops: KvOp[], options: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return
    try {
      await this.db.batch(ops as any, { sync: options.sync === true })
    } catch (err) {
      throw this.failed(err)
    }
  }

  /** A full disk becomes the typed disk-full error (and is reported to onDiskFull). */
  private failed (err: unknown): unknown {
    if (!isDiskFull(err)) return err
    this.onDiskFull?.()
    return asDiskFull(err, this.path)
  }

  async * iterate (options: KvIterateOptions): AsyncIterable<[string, Uint8Array]> {
    const range: Record<string, unknown> = { lt: prefixEnd(options.prefix) }
    if (options.after !== undefined && options.after >= options.prefix) range.gt = options.after
    else range.gte = options.prefix
    if (options.limit !== undefined) range.limit = options.limit
    for await (const [key, value] of this.db.iterator(range as any)) {
      yield [key, value]
    }
  }
}
