/**
 * The chunk loop of one file add (Writer.importFile, writer.ts): the stream
 * cut into chunks, each hashed on the worker, guarded, admitted under the
 * quota and put, a window of PUT_WINDOW at a time, and the file's manifest
 * committed segment by segment as it grows.
 */
import type { OperationOptions } from '../interface.js'
import { chunker } from '../format/chunker.js'
import type { ChunkPool } from '../format/chunker.js'
import type { ChunkHasher } from '../format/hasher.js'
import { SNIFF_BYTES } from '../format/mime.js'
import { throwIfAborted } from '../errors.js'
import type { ChunkStore } from './chunk-store.js'
import type { Guard } from './guard.js'
import type { Manifests } from './manifests.js'
import type { Mutex } from './mutex.js'
import type { AddQuota, Quota } from './quota.js'
import { SEGMENT_CHUNKS } from './reader.js'

/** Chunks of one add hashed and written concurrently (bounds the extra memory to this many chunks). */
export const PUT_WINDOW = 8

/** What the chunk loop uses of the store (a part of WriterContext). */
interface FileChunksContext {
  chunks: ChunkStore
  lock: Mutex
  manifests: Pick<Manifests, 'commitSegment'>
  quota: Pick<Quota, 'admit' | 'stored' | 'unreserve'>
}

interface FileChunksInit extends OperationOptions {
  mid: string
  guard: Guard
  hasher: ChunkHasher
  chunkSize: number
  /** Pooled chunk buffers (undefined for prehashed chunks, which come with their own). */
  pool?: ChunkPool
  /** Called with each chunk's memory once it is written. */
  release?: (bytes: Uint8Array) => void
  /** Expected size, for progress events. */
  total?: number
}

/** One file's chunks as they are written; `seg` holds the written chunks not in a committed segment yet. */
export class FileChunks {
  seg: string[] = []
  /** Segments committed (or being committed) so far. */
  seq = 0
  size = 0
  count = 0
  /** The file's first bytes, for MIME sniffing. */
  head: Buffer | undefined
  private inflight: Promise<void> = Promise.resolve()
  /**
   * Chunks being hashed and written, in stream order. Each resolves to its
   * hash once the chunk is guarded and put; only then does it join `seg`, so
   * a segment names only chunks already written (commitSegment's flush then
   * makes them durable before the segment is). Holds at most PUT_WINDOW
   * chunks; a chunk's buffer goes back to the pool once it is put. (The
   * chunker copies every piece into pool buffers before asking for the
   * next, so a source may reuse a piece's memory from then on.)
   */
  private readonly window: Array<Promise<string>> = []
  private readonly quota: AddQuota = { rescanned: false }
  private readonly done: (bytes: Buffer) => void

  constructor (private readonly ctx: FileChunksContext, private readonly init: FileChunksInit) {
    const { pool, release } = init
    this.done = (bytes) => { pool?.give(bytes); release?.(bytes) }
  }

  /** Write every chunk of `source` and wait for the segments committed on the way. */
  async write (source: AsyncIterable<Uint8Array>): Promise<void> {
    const { signal, onProgress, total, hasher, guard } = this.init
    const window = this.window
    for await (const chunk of chunker(source, this.init.chunkSize, this.init.pool)) {
      throwIfAborted(signal)
      if (this.head === undefined) this.head = Buffer.from(chunk.subarray(0, SNIFF_BYTES))
      if (window.length >= PUT_WINDOW) await this.collect()
      this.size += chunk.byteLength
      // the chunk's memory moves to the hashing worker (which also feeds the
      // whole-file hash, in stream order) and comes back with its hash
      const hashed = hasher.chunk(chunk as Buffer)
      const put = this.putChunk(hashed, guard)
      put.catch(() => {}) // observed when collected (or settled on failure); never an unhandled rejection
      window.push(put)
      onProgress?.({ type: 'add:bytes', bytes: this.size, total })
    }
    while (window.length > 0) await this.collect()
    throwIfAborted(signal)
    await this.inflight
  }

  /** After a failure: let every put and commit settle, so that none races the cleanup. */
  async settle (): Promise<void> {
    await Promise.allSettled(this.window)
    await this.inflight.catch(() => {})
  }

  private async collect (): Promise<void> {
    const h = await this.window[0]
    this.window.shift()
    this.seg.push(h)
    this.count++
    if (this.seg.length >= SEGMENT_CHUNKS) {
      // one commit in flight: segment k syncs while segment k+1 is read, hashed and written
      await this.inflight
      this.inflight = this.ctx.manifests.commitSegment(this.init.mid, this.seq++, this.seg, this.init.guard)
      this.inflight.catch(() => {})
      this.seg = []
    }
  }

  /**
   * One chunk of an add, once hashed: guarded, admitted under the quota and
   * put (under the lock, so gc's check-then-delete of an orphan chunk never
   * interleaves with it; put skips chunks the store already has). Its
   * memory goes back (`done`) once it is written.
   */
  private async putChunk (hashed: Promise<{ hash: string, bytes: Buffer }>, guard: Guard): Promise<string> {
    const { hash: h, bytes } = await hashed
    guard.protectChunk(h) // before the put: gc must not sweep it until a segment counts it
    // room under storage.max_bytes (evicting cached content if need be) before a new chunk is written
    const reserved = await this.ctx.quota.admit(h, bytes.byteLength, this.quota)
    try {
      await this.ctx.lock.run(async () => {
        if (await this.ctx.chunks.put(h, bytes)) this.ctx.quota.stored(bytes.byteLength)
      })
    } finally {
      this.ctx.quota.unreserve(reserved)
    }
    this.done(bytes) // written (or copied by the store): the buffer may be reused
    return h
  }
}
