import { describe, it, expect } from 'vitest'
import { FrameReader, encodeFrame } from '../../src/net/wire.js'

/** A list of byte arrays, as a libp2p stream may yield (iterable, with a concatenating subarray()). */
const list = (...parts: Uint8Array[]): Iterable<Uint8Array> & { subarray: () => Uint8Array } =>
  ({ [Symbol.iterator]: () => parts[Symbol.iterator](), subarray: () => Buffer.concat(parts) })

async function * pieces (bytes: Buffer, size: number, asLists: boolean): AsyncGenerator<Uint8Array | ReturnType<typeof list>> {
  for (let o = 0; o < bytes.length; o += size) {
    const p = bytes.subarray(o, o + size)
    yield asLists ? list(p.subarray(0, p.length >> 1), p.subarray(p.length >> 1)) : p
  }
}

describe('FrameReader', () => {
  const small = Buffer.from('hello')
  const big = Buffer.alloc(70_000, 7)
  const wire = Buffer.concat([...encodeFrame(1, small), ...encodeFrame(2, [Buffer.alloc(32, 9), big]), ...encodeFrame(3, Buffer.alloc(0))])

  for (const [size, asLists] of [[1, false], [13, true], [4096, false], [1 << 20, true]] as const) {
    it(`reads frames whatever the piece sizes (${size}${asLists ? ', as lists' : ''})`, async () => {
      const r = new FrameReader(pieces(wire, size, asLists), 1 << 20)
      const a = await r.next()
      expect(a?.kind).toBe(1)
      expect(a?.payload.equals(small)).toBe(true)
      const b = await r.next()
      expect(b?.kind).toBe(2)
      expect(b?.payload.byteLength).toBe(32 + big.length)
      expect(b?.payload.subarray(32).equals(big)).toBe(true)
      // a frame gathered from several pieces owns its memory (it may be moved to a worker)
      if (b?.owned === true) expect(b.payload.buffer.byteLength).toBe(1 + 32 + big.length)
      if (size < 70_000) expect(b?.owned).toBe(true)
      const c = await r.next()
      expect(c?.kind).toBe(3)
      expect(c?.payload.byteLength).toBe(0)
      expect(await r.next()).toBeUndefined()
    })
  }

  it('refuses frames over the limit and streams that end inside a frame', async () => {
    const long = Buffer.concat(encodeFrame(1, Buffer.alloc(2000)))
    await expect(new FrameReader(pieces(long, 100, false), 1000).next()).rejects.toThrow(/exceeds the limit/)
    const cut = new FrameReader(pieces(wire.subarray(0, 20), 7, false), 1 << 20)
    await cut.next()
    await expect(cut.next()).rejects.toThrow(/ended inside a frame/)
  })
})
