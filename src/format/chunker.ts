/**
 * Fixed-size chunking of a byte stream. Every chunk but the last is exactly
 * `chunkSize` bytes. Memory: one chunk buffer at a time.
 *
 * With a `pool`, every chunk is copied into a buffer taken from it (the
 * consumer gives each back once done with it), so a long stream reuses a
 * few warm buffers instead of allocating (and page-faulting) a fresh one per
 * chunk; without one, whole aligned chunks are passed on as views of the
 * source's pieces.
 */
/** Bytes of the small buffer a pooled stream's first chunk starts in. */
const FIRST_BUFFER = 64 * 1024

export async function * chunker (source: AsyncIterable<Uint8Array>, chunkSize: number, pool?: ChunkPool): AsyncGenerator<Uint8Array> {
  const alloc = (): Buffer => pool !== undefined ? pool.take() : Buffer.allocUnsafe(chunkSize)
  // with a pool, a stream's first chunk starts in a small buffer of its own (moved to a pool buffer
  // once it outgrows it): a small file, the common case, never allocates a whole chunk
  let first = pool !== undefined && chunkSize > FIRST_BUFFER
  let buf: Buffer | undefined
  let fill = 0
  for await (const piece of source) {
    let off = 0
    while (off < piece.byteLength) {
      // fast path: a whole aligned chunk straight from the source
      if (pool === undefined && fill === 0 && piece.byteLength - off >= chunkSize) {
        yield piece.subarray(off, off + chunkSize)
        off += chunkSize
        continue
      }
      if (buf === undefined && first) {
        first = false
        buf = Buffer.from(new ArrayBuffer(FIRST_BUFFER))
      } else if (buf !== undefined && fill === buf.byteLength) {
        const grown = alloc() // a chunk-sized buffer for the rest of this chunk
        grown.set(buf.subarray(0, fill))
        buf = grown
      }
      buf ??= alloc()
      const n = Math.min(buf.byteLength - fill, piece.byteLength - off)
      buf.set(piece.subarray(off, off + n), fill)
      fill += n
      off += n
      if (fill === chunkSize) {
        const full = buf
        buf = undefined
        fill = 0
        yield full
      }
    }
  }
  if (buf !== undefined) yield buf.subarray(0, fill) // only ever allocated to take bytes, so fill > 0
}

/**
 * Chunk buffers for reuse, each the sole user of its ArrayBuffer, so it can
 * be moved to a hashing worker and back without a copy (format/hasher.ts).
 * Holds at most `keep` idle buffers; `take` allocates when none is idle, so
 * it never waits.
 */
export class ChunkPool {
  private readonly idle: Buffer[] = []

  constructor (readonly chunkSize: number, private readonly keep: number) {}

  take (): Buffer {
    return this.idle.pop() ?? Buffer.from(new ArrayBuffer(this.chunkSize))
  }

  /** Return a chunk from `take` (or a view of one); its bytes may be overwritten from now on. */
  give (chunk: Uint8Array): void {
    if (this.idle.length >= this.keep || chunk.buffer.byteLength !== this.chunkSize) return
    this.idle.push(Buffer.from(chunk.buffer, 0, this.chunkSize))
  }
}
