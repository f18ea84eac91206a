/**
 * Fixed-size chunking of a byte stream. Every chunk but the last is exactly
 * `chunkSize` bytes. Memory: one chunk buffer at a time.
 */
export async function * chunker (source: AsyncIterable<Uint8Array>, chunkSize: number): AsyncGenerator<Uint8Array> {
  let buf = Buffer.allocUnsafe(chunkSize)
  let fill = 0
  for await (const piece of source) {
    let off = 0
    // fast path: a whole aligned chunk straight from the source
    while (off < piece.byteLength) {
      if (fill === 0 && piece.byteLength - off >= chunkSize) {
        yield piece.subarray(off, off + chunkSize)
        off += chunkSize
        continue
      }
      const n = Math.min(chunkSize - fill, piece.byteLength - off)
      buf.set(piece.subarray(off, off + n), fill)
      fill += n
      off += n
      if (fill === chunkSize) {
        yield buf
        buf = Buffer.allocUnsafe(chunkSize)
        fill = 0
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill)
}
