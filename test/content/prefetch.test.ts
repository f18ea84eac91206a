import { describe, it, expect } from 'vitest'
import { prefetch } from '../../src/content/prefetch.js'

async function * pieces (n: number, size: number, log?: number[]): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n; i++) {
    log?.push(i)
    yield new Uint8Array(size).fill(i & 0xff)
  }
}

describe('prefetch', () => {
  it('passes every piece through in order', async () => {
    const out: number[] = []
    for await (const p of prefetch(pieces(50, 1000), 4096)) out.push(p[0], p.byteLength)
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => [i, 1000]).flat())
  })

  it('reads ahead of a slow consumer but never more than maxBytes plus one piece', async () => {
    const pulled: number[] = []
    const it = prefetch(pieces(100, 1000, pulled), 5000)[Symbol.asyncIterator]()
    await it.next()
    await new Promise(resolve => setTimeout(resolve, 50))
    // consumer holds piece 0; the producer filled the queue up to the cap
    expect(pulled.length).toBeGreaterThan(2)
    expect(pulled.length).toBeLessThanOrEqual(7)
    await it.return(undefined)
  })

  it('with reuse, passes the bytes on in full buffers of that size (the last one short), recycling them', async () => {
    const got: Buffer[] = []
    const buffers = new Set<ArrayBufferLike>()
    for await (const p of prefetch(pieces(50, 1000), 4096, { reuse: 3000 })) {
      buffers.add(p.buffer)
      got.push(Buffer.from(p)) // a copy: the buffer is reused once the next piece is asked for
    }
    expect(got.map(b => b.length)).toEqual([...Array(16).fill(3000), 2000])
    expect(Buffer.concat(got)).toEqual(Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i & 0xff))))
    // bounded by the read-ahead (4096 bytes = 2 buffers) plus the ones being filled and read
    expect(buffers.size).toBeLessThanOrEqual(5)
  })

  it('rethrows a source error after the pieces before it', async () => {
    async function * failing (): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([1])
      throw new Error('socket reset')
    }
    const seen: number[] = []
    await expect((async () => { for await (const p of prefetch(failing(), 1024)) seen.push(p[0]) })()).rejects.toThrow('socket reset')
    expect(seen).toEqual([1])
  })

  it('an early stop closes the source and does not wait on a stalled read', async () => {
    async function * stalled (): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([7])
      await new Promise(() => {}) // a socket that never delivers again
    }
    const seen: number[] = []
    for await (const p of prefetch(stalled(), 1024)) { seen.push(p[0]); break }
    // reaching here at all is the point: the break was not held up by the stalled read
    expect(seen).toEqual([7])
  })
})
