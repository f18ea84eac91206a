/**
 * Reading: object records, directory entries, listings, and file bytes
 * streamed chunk by chunk (read ahead, each chunk checked against its hash
 * with storage.verify_on_read). Reads by a user mark the object used
 * (access.ts), for the eviction order.
 */
import type { ContentInfo } from '../interface.js'
import type { AccessClock } from './access.js'
import type { ChunkStore } from './chunk-store.js'
import type { KvStore } from './kv.js'
import { K, PREFIX, dec, segmentHashes } from './keys.js'
import type { ObjectRecord } from './records.js'
import { toInfo } from './records.js'
import type { DirEntry } from '../format/directory.js'
import { decodeDirectory } from '../format/directory.js'
import { sha256hexAsync } from '../format/hash.js'
import { hashOwned } from '../format/hasher.js'
import { CorruptDataError, IsADirectoryError, NotADirectoryError, NotFoundError, throwIfAborted } from '../errors.js'

/** Chunks per manifest segment: bounds memory and batch size whatever the file size. */
export const SEGMENT_CHUNKS = 256
/** Chunks at least this large that the store reads into memory of their own are verified on the hash worker, not through WebCrypto (which copies). */
const OWNED_HASH_MIN = 64 * 1024

export interface ReaderContext {
  kv: KvStore
  chunks: ChunkStore
  access: Pick<AccessClock, 'touch'>
  /** The store's chunk size (files recorded without one). */
  chunkSize: number
  verifyOnRead: boolean
  /** Chunks read ahead when streaming a file. */
  readAhead: number
}

export class Reader {
  constructor (private readonly ctx: ReaderContext) {}

  async getObject (hash: string): Promise<ObjectRecord | undefined> {
    const v = await this.ctx.kv.get(K.object(hash))
    return v === undefined ? undefined : dec<ObjectRecord>(v)
  }

  async requireObject (hash: string): Promise<ObjectRecord> {
    const rec = await this.getObject(hash)
    if (rec === undefined) throw new NotFoundError(`content not found: ${hash}`, { hash, operation: 'content_retrieval' })
    return rec
  }

  async info (hash: string): Promise<ContentInfo> {
    const rec = await this.requireObject(hash)
    this.ctx.access.touch(hash)
    return toInfo(rec)
  }

  async entries (hash: string): Promise<DirEntry[]> {
    const rec = await this.requireObject(hash)
    if (!rec.is_directory) throw new NotADirectoryError(`not a directory: ${hash}`, { hash })
    this.ctx.access.touch(hash)
    const v = await this.ctx.kv.get(K.dir(hash))
    if (v === undefined) throw new CorruptDataError(`directory ${hash} has no entries record`, { hash })
    return decodeDirectory(v)
  }

  async * list (options: { after?: string, limit?: number } = {}): AsyncGenerator<ContentInfo> {
    const after = options.after === undefined ? undefined : K.object(options.after)
    for await (const [, v] of this.ctx.kv.iterate({ prefix: PREFIX.object, after, limit: options.limit })) {
      yield toInfo(dec<ObjectRecord>(v))
    }
  }

  /** Chunk hashes of a file, in order, one segment at a time. */
  async * manifestChunks (rec: ObjectRecord, fromChunk = 0): AsyncGenerator<string> {
    if (rec.manifest === undefined) return
    const firstSeg = Math.floor(fromChunk / SEGMENT_CHUNKS)
    let skip = fromChunk - firstSeg * SEGMENT_CHUNKS
    const after = firstSeg === 0 ? undefined : K.segment(rec.manifest, firstSeg - 1)
    for await (const [, v] of this.ctx.kv.iterate({ prefix: K.segments(rec.manifest), after })) {
      yield * segmentHashes(v, skip)
      skip = 0
    }
  }

  /** Stream a file's bytes (optionally a range), verifying each chunk. */
  async * read (hash: string, options: { offset?: number, length?: number, signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const rec = await this.requireObject(hash)
    if (rec.is_directory) throw new IsADirectoryError(`is a directory: ${hash}`, { hash })
    this.ctx.access.touch(hash)
    const start = Math.max(0, options.offset ?? 0)
    const end = Math.min(rec.size, options.length === undefined ? rec.size : start + options.length)
    if (start >= end) return
    const cs = rec.chunk_size ?? this.ctx.chunkSize
    const first = Math.floor(start / cs)
    const last = Math.floor((end - 1) / cs)
    const window: Array<Promise<Uint8Array>> = []
    let index = first
    const it = this.manifestChunks(rec, first)[Symbol.asyncIterator]()
    let pos = first * cs
    const fill = async (): Promise<void> => {
      while (window.length < this.ctx.readAhead && index <= last) {
        const next = await it.next()
        if (next.done === true) throw new CorruptDataError(`manifest of ${hash} is shorter than its size`, { hash })
        const pending = this.readChunk(next.value)
        pending.catch(() => {}) // observed when its turn comes; never an unhandled rejection
        window.push(pending)
        index++
      }
    }
    try {
      await fill()
      while (window.length > 0) {
        throwIfAborted(options.signal)
        const chunk = await window.shift()!
        await fill()
        const from = Math.max(0, start - pos)
        const to = Math.min(chunk.byteLength, end - pos)
        pos += chunk.byteLength
        yield from === 0 && to === chunk.byteLength ? chunk : chunk.subarray(from, to)
      }
    } finally {
      // settle outstanding reads so none rejects unobserved
      await Promise.allSettled(window)
      await it.return?.(undefined)
    }
  }

  /**
   * One chunk's bytes. With storage.verify_on_read they are checked against
   * their hash first (CORRUPT_DATA if damaged), unless `verify` is false: for
   * readers that check every chunk themselves (a peer fetching from us).
   */
  async readChunk (h: string, options: { verify?: boolean } = {}): Promise<Uint8Array> {
    let bytes: Uint8Array
    try {
      bytes = await this.ctx.chunks.get(h)
    } catch (err: any) {
      if (err?.code === 'NOT_FOUND') throw new CorruptDataError(`missing chunk ${h}`, { chunk: h }, { cause: err })
      throw err
    }
    if (!this.ctx.verifyOnRead || options.verify === false) return bytes
    let actual: string
    if (this.ctx.chunks.ownsReads === true && bytes.byteLength >= OWNED_HASH_MIN) {
      // the store's own buffer: hashed on the hash worker without a copy (it moves there and back)
      ({ hash: actual, bytes } = await hashOwned(bytes))
    } else {
      actual = await sha256hexAsync(bytes)
    }
    if (actual !== h) throw new CorruptDataError(`chunk ${h} is corrupt`, { chunk: h })
    return bytes
  }
}
