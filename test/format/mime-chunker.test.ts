import { describe, it, expect } from 'vitest'
import { detectMime, sniffMime } from '../../src/format/mime.js'
import { ChunkPool, chunker } from '../../src/format/chunker.js'
import { FileHasher } from '../../src/format/hasher.js'
import { parseHash, sha256hex } from '../../src/format/hash.js'
import { collect } from '../helpers/tmp.js'

describe('mime detection', () => {
  it('uses the extension first', () => {
    expect(detectMime('doc.pdf', Buffer.from('hello'))).toBe('application/pdf')
    expect(detectMime('a.txt', Buffer.from([0x89, 0x50]))).toBe('text/plain')
  })
  it('sniffs common formats when the extension says nothing', () => {
    expect(sniffMime(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe('image/png')
    expect(sniffMime(Buffer.from('%PDF-1.7\n'))).toBe('application/pdf')
    expect(sniffMime(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg')
    expect(sniffMime(Buffer.from('<!DOCTYPE html><html>'))).toBe('text/html')
    expect(sniffMime(Buffer.from('{"a": 1}'))).toBe('application/json')
    expect(sniffMime(Buffer.from('plain words, ünïcode'))).toBe('text/plain')
    expect(sniffMime(Buffer.from([1, 2, 0, 3]))).toBe('application/octet-stream')
    expect(detectMime('noext', Buffer.from('GIF89a'))).toBe('image/gif')
  })
})

describe('chunker', () => {
  it('yields fixed-size chunks whatever the input piece sizes, last one short', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff))
    for (const pieceSize of [1, 7, 100, 256, 999, 1000, 4096]) {
      const source = (async function * () { for (let o = 0; o < data.length; o += pieceSize) yield data.subarray(o, o + pieceSize) })()
      const chunks: Buffer[] = []
      for await (const c of chunker(source, 256)) chunks.push(Buffer.from(c))
      expect(chunks.map(c => c.length)).toEqual([256, 256, 256, 232])
      expect(Buffer.concat(chunks)).toEqual(data)
    }
  })
  it('yields nothing for empty input', async () => {
    expect((await collect(chunker((async function * () {})(), 256))).length).toBe(0)
  })
  it('with a pool, copies every chunk into pool buffers and reuses the ones given back', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff))
    const pool = new ChunkPool(256, 2)
    const seen = new Set<ArrayBufferLike>()
    const chunks: Buffer[] = []
    const source = (async function * () { yield data.subarray(0, 512); yield data.subarray(512) })()
    for await (const c of chunker(source, 256, pool)) {
      expect(c.buffer).not.toBe(data.buffer) // never a view of the source, even for aligned whole chunks
      seen.add(c.buffer)
      chunks.push(Buffer.from(c))
      pool.give(c)
    }
    expect(chunks.map(c => c.length)).toEqual([256, 256, 256, 232])
    expect(Buffer.concat(chunks)).toEqual(data)
    expect(seen.size).toBe(1)
  })
  it('with a pool and chunks over 64 KiB, a small file stays in a small buffer and a larger one still chunks exactly', async () => {
    const CS = 256 * 1024
    const small = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff))
    const smallChunks: Uint8Array[] = []
    for await (const c of chunker((async function * () { yield small })(), CS, new ChunkPool(CS, 2))) smallChunks.push(c)
    expect(smallChunks.map(c => c.byteLength)).toEqual([4096])
    expect(smallChunks[0].buffer.byteLength).toBeLessThan(CS) // not a whole chunk buffer for 4 KiB
    expect(Buffer.from(smallChunks[0])).toEqual(small)
    // the first chunk starts small and moves into a pool buffer as it grows past 64 KiB
    const data = Buffer.from(Array.from({ length: 2 * CS + 12345 }, (_, i) => (i * 31 + (i >> 9)) & 0xff))
    for (const pieceSize of [1000, 65536, 70000, CS, 3 * CS]) {
      const source = (async function * () { for (let o = 0; o < data.length; o += pieceSize) yield data.subarray(o, o + pieceSize) })()
      const chunks: Buffer[] = []
      for await (const c of chunker(source, CS, new ChunkPool(CS, 2))) chunks.push(Buffer.from(c))
      expect(chunks.map(c => c.length)).toEqual([CS, CS, 12345])
      expect(Buffer.concat(chunks)).toEqual(data)
    }
  })
})

describe('FileHasher (worker thread)', () => {
  it('hashes chunks and the whole file like sha256hex, handing each chunk\'s memory back', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff))
    const hasher = new FileHasher()
    const pool = new ChunkPool(1024, 4)
    for (let off = 0; off < data.length; off += 1024) {
      const chunk = pool.take().subarray(0, Math.min(1024, data.length - off))
      data.copy(chunk, 0, off, off + chunk.length)
      const { hash, bytes } = await hasher.chunk(chunk)
      expect(hash).toBe(sha256hex(data.subarray(off, off + 1024)))
      expect(bytes).toEqual(data.subarray(off, off + 1024))
      pool.give(bytes)
    }
    expect(await hasher.digest()).toBe(sha256hex(data))
    expect(await new FileHasher().digest()).toBe(sha256hex(Buffer.alloc(0)))
  })
  it('keeps concurrent files apart', async () => {
    const [x, y] = [new FileHasher(), new FileHasher()]
    const own = (s: string): Buffer => Buffer.from(new ArrayBuffer(s.length)).fill(s)
    await Promise.all([x.chunk(own('aa')), y.chunk(own('bbb')), x.chunk(own('c'))])
    expect(await y.digest()).toBe(sha256hex(Buffer.from('bbb')))
    expect(await x.digest()).toBe(sha256hex(Buffer.from('aac')))
  })
  it('with the chunk size: a short only chunk is hashed on this thread (its memory stays usable), longer files on the worker', async () => {
    const small = new FileHasher(1024)
    const own = Buffer.from(new ArrayBuffer(700)).fill(7)
    const { hash, bytes } = await small.chunk(own)
    expect(hash).toBe(sha256hex(Buffer.alloc(700, 7)))
    expect(own.buffer.byteLength).toBe(700) // not moved to the worker (a moved buffer is detached: length 0)
    expect(bytes).toBe(own)
    expect(await small.digest()).toBe(hash)
    expect((await new FileHasher(1024).chunk(Buffer.alloc(0))).hash).toBe(sha256hex(Buffer.alloc(0)))
    // a full first chunk may have more after it: the worker hashes, the file hash covers both
    const two = new FileHasher(1024)
    const a = Buffer.from(new ArrayBuffer(1024)).fill(1)
    const b = Buffer.from(new ArrayBuffer(10)).fill(2)
    expect((await two.chunk(a)).hash).toBe(sha256hex(Buffer.alloc(1024, 1)))
    expect(a.buffer.byteLength).toBe(0) // moved
    expect((await two.chunk(b)).hash).toBe(sha256hex(Buffer.alloc(10, 2)))
    expect(await two.digest()).toBe(sha256hex(Buffer.concat([Buffer.alloc(1024, 1), Buffer.alloc(10, 2)])))
  })
})

describe('hash parsing', () => {
  it('accepts 64 hex characters in any case and returns lowercase', () => {
    expect(parseHash('AB'.repeat(32))).toBe('ab'.repeat(32))
  })
  it('rejects anything else with INVALID_HASH', () => {
    for (const bad of ['', 'abc', 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), ' '.repeat(64), undefined]) {
      expect(() => parseHash(bad)).toThrow(expect.objectContaining({ code: 'INVALID_HASH' }))
    }
  })
})
