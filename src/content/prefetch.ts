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

  // reuse mode: `slab` is being filled; `idle` slabs wait to be filled again
  const size = options.reuse ?? 0
  const idle: Buffer[] = []
  const keepIdle = size > 0 ? Math.ceil(maxBytes / size) + 1 : 0
  let slab: Buffer | undefined
  let fill = 0
  const copyIn = (piece: Uint8Array): void => {
    for (let off = 0; off < piece.byteLength;) {
      slab ??= idle.pop() ?? Buffer.allocUnsafeSlow(size)
      const n = Math.min(size - fill, piece.byteLength - off)
      slab.set(off === 0 && n === piece.byteLength ? piece : piece.subarray(off, off + n), fill)
      fill += n
      off += n
      if (fill === size) {
        enqueue(slab)
        slab = undefined
        fill = 0
      }
    }
  }

  const producer = (async () => {
    try {
      while (!stopped) {
        if (queued >= maxBytes) {
          await new Promise<void>(resolve => { wakeProducer = resolve })
          continue
        }
        const r = await it.next()
        if (r.done === true) break
        if (size > 0) copyIn(r.value)
        else enqueue(r.value)
      }
      if (slab !== undefined && fill > 0) enqueue(slab.subarray(0, fill))
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
        if (size > 0 && idle.length < keepIdle && piece.buffer.byteLength === size) idle.push(Buffer.from(piece.buffer, 0, size))
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
