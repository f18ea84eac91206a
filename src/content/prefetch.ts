/**
 * Read ahead of a consumer: pull from `source` into a queue of up to
 * `maxBytes` while the consumer works on earlier pieces. Over a socket this
 * keeps data flowing (the TCP window stays open) while chunks are hashed and
 * written; memory stays bounded by maxBytes plus one piece.
 */
export interface PrefetchOptions {
  /**
   * Copy the source's pieces into reusable buffers of this many bytes and
   * pass those on (the last one of the stream may be partly filled). The
   * read-ahead then lives in a fixed set of buffers instead of the source's
   * own pieces: a socket delivers ~64 KiB pieces, and thousands of them held
   * in the queue long enough to reach V8's old generation cost a major GC
   * every few dozen MiB (that was a third of the main thread's time on a
   * 1 GiB upload). With this option a piece passed on is valid only until
   * the consumer asks for the next one (the chunker with a ChunkPool copies
   * before it does).
   */
  reuse?: number
}

export async function * prefetch (source: AsyncIterable<Uint8Array>, maxBytes: number, options: PrefetchOptions = {}): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  const queue: Uint8Array[] = []
  let queued = 0
  let done = false
  let failure: { err: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  let stopped = false

  const enqueue = (piece: Uint8Array): void => {
    queue.push(piece)
    queued += piece.byteLength
    wakeConsumer?.()
  }

  // reuse mode: pieces are copied into slabs of `reuse` bytes, handed back once the consumer moves on
  const slabs = options.reuse !== undefined && options.reuse > 0 ? new Slabs(options.reuse, maxBytes, enqueue) : undefined

  void (async () => {
    try {
      while (!stopped) {
        if (queued >= maxBytes) {
          await new Promise<void>(resolve => { wakeProducer = resolve })
          continue
        }
        const r = await it.next()
        if (r.done === true) break
        if (slabs !== undefined) slabs.copyIn(r.value)
        else enqueue(r.value)
      }
      slabs?.flush()
    } catch (err) {
      failure = { err }
    } finally {
      done = true
      wakeConsumer?.()
    }
  })()

  try {
    while (true) {
      if (queue.length > 0) {
        const piece = queue.shift()!
        queued -= piece.byteLength
        wakeProducer?.()
        wakeProducer = undefined
        yield piece
        // reuse mode: the consumer asked for more, so it is done with `piece`
        slabs?.recycle(piece)
        continue
      }
      if (failure !== undefined) throw failure.err
      if (done) return
      await new Promise<void>(resolve => { wakeConsumer = resolve })
      wakeConsumer = undefined
    }
  } finally {
    stopped = true
    wakeProducer?.()
    if (!done) {
      // consumer gave up early: stop the source too, without waiting on a read
      // that may never complete (a stalled socket)
      void Promise.resolve(it.return?.()).catch(() => {})
    }
  }
}

/** Bytes of the first slab of a stream (the later ones are `size`). */
const FIRST_SLAB = 64 * 1024

/** Fixed-size slabs that pieces are copied into, reused once the consumer is done with them. */
class Slabs {
  /** Slabs waiting to be filled again. */
  private readonly idle: Buffer[] = []
  private readonly keepIdle: number
  /** The slab being filled, and how far. */
  private slab: Buffer | undefined
  private fill = 0
  private made = 0

  constructor (private readonly size: number, maxBytes: number, private readonly enqueue: (piece: Uint8Array) => void) {
    this.keepIdle = Math.ceil(maxBytes / size) + 1
  }

  copyIn (piece: Uint8Array): void {
    for (let off = 0; off < piece.byteLength;) {
      // the first slab is small: a small upload (the common case) never pays for a whole one
      this.slab ??= this.idle.pop() ?? Buffer.allocUnsafeSlow(this.made++ === 0 ? Math.min(this.size, FIRST_SLAB) : this.size)
      const cap = this.slab.byteLength
      const n = Math.min(cap - this.fill, piece.byteLength - off)
      this.slab.set(off === 0 && n === piece.byteLength ? piece : piece.subarray(off, off + n), this.fill)
      this.fill += n
      off += n
      if (this.fill === cap) {
        this.enqueue(this.slab)
        this.slab = undefined
        this.fill = 0
      }
    }
  }

  /** The last, partly filled slab. */
  flush (): void {
    if (this.slab !== undefined && this.fill > 0) this.enqueue(this.slab.subarray(0, this.fill))
  }

  /** The consumer asked for more, so it is done with `piece`: its slab can be filled again. */
  recycle (piece: Uint8Array): void {
    if (this.idle.length < this.keepIdle && piece.buffer.byteLength === this.size) this.idle.push(Buffer.from(piece.buffer, 0, this.size))
  }
}
