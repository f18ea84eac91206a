/**
 * Read ahead of a consumer: pull from `source` into a queue of up to
 * `maxBytes` while the consumer works on earlier pieces. Over a socket this
 * keeps data flowing (the TCP window stays open) while chunks are hashed and
 * written; memory stays bounded by maxBytes plus one piece.
 */
export async function * prefetch (source: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  const queue: Uint8Array[] = []
  let queued = 0
  let done = false
  let failure: { err: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  let stopped = false

  const producer = (async () => {
    try {
      while (!stopped) {
        if (queued >= maxBytes) {
          await new Promise<void>(resolve => { wakeProducer = resolve })
          continue
        }
        const r = await it.next()
        if (r.done === true) break
        queue.push(r.value)
        queued += r.value.byteLength
        wakeConsumer?.()
      }
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
