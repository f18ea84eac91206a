import { describe, it, expect } from 'vitest'
import { BufferPool, MIN_POOLED } from '../../src/net/buffer-pool.js'
import { FrameReader, encodeFrame } from '../../src/net/wire.js'

const SIZE = MIN_POOLED

describe('BufferPool', () => {
  it('reuses memory given back, by exact size, and never hands one buffer out twice', () => {
    const pool = new BufferPool(1 << 20)
    const a = pool.take(SIZE)
    expect(a.byteLength).toBe(SIZE)
    expect(a.buffer.byteLength).toBe(SIZE) // the sole user of its memory
    a.fill(1)
    pool.give(a.subarray(100, 200)) // a view gives back the whole buffer
    pool.give(a) // already idle: ignored
    expect(pool.idleSize).toBe(SIZE)
    const b = pool.take(SIZE)
    expect(b.buffer).toBe(a.buffer)
    expect(b[0]).toBe(1)
    const c = pool.take(SIZE) // none idle: fresh memory
    expect(c.buffer).not.toBe(a.buffer)
    expect(pool.take(SIZE * 2).buffer).not.toBe(a.buffer) // another size
    expect(pool.idleSize).toBe(0)
    // small memory is never taken: it may be one of Node's shared Buffer pool slabs
    pool.give(Buffer.allocUnsafe(100))
    pool.give(Buffer.allocUnsafeSlow(MIN_POOLED - 1))
    expect(pool.idleSize).toBe(0)
  })

  it('keeps at most maxIdleBytes, ignores detached memory, and clears', () => {
    const pool = new BufferPool(SIZE * 2 + 100)
    const bufs = [pool.take(SIZE), pool.take(SIZE), pool.take(SIZE)]
    for (const b of bufs) pool.give(b)
    expect(pool.idleSize).toBe(SIZE * 2) // the third would pass the bound
    const moved = pool.take(SIZE)
    structuredClone(moved.buffer, { transfer: [moved.buffer as ArrayBuffer] }) // detached, as after a move to a worker
    pool.give(moved)
    expect(pool.idleSize).toBe(SIZE)
    pool.clear()
    expect(pool.idleSize).toBe(0)
  })

  it('drops idle memory after idleMs without use', async () => {
    const pool = new BufferPool(1 << 20, 30)
    pool.give(pool.take(SIZE))
    expect(pool.idleSize).toBe(SIZE)
    await new Promise(resolve => setTimeout(resolve, 120))
    expect(pool.idleSize).toBe(0)
  })

  it('gives a FrameReader the memory of frames gathered from several pieces', async () => {
    const pool = new BufferPool(1 << 20)
    const chunk = Buffer.alloc(100_000, 5)
    const warm = pool.take(1 + 32 + chunk.length)
    pool.give(warm)
    const wire = Buffer.concat(encodeFrame(3, [Buffer.alloc(32, 9), chunk]))
    const pieces = async function * (): AsyncGenerator<Uint8Array> { for (let o = 0; o < wire.length; o += 65_536) yield wire.subarray(o, o + 65_536) }
    const r = new FrameReader(pieces(), 1 << 20, n => pool.take(n))
    const f = await r.next()
    expect(f?.owned).toBe(true)
    expect(f?.payload.buffer).toBe(warm.buffer)
    expect(f?.payload.subarray(32).equals(chunk)).toBe(true)
  })
})
