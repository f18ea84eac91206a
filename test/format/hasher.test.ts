import { describe, it, expect } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { FileVerifier, hashOwned } from '../../src/format/hasher.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
/** A copy in memory of its own, as the verifier moves it to the worker. */
const own = (b: Uint8Array): Buffer => { const o = Buffer.allocUnsafeSlow(b.byteLength); o.set(b); return o }

describe('FileVerifier', () => {
  const chunks = Array.from({ length: 6 }, (_, i) => randomBytes(1000 + i))
  const hashes = chunks.map(sha)
  const whole = sha(Buffer.concat(chunks))

  it('feeds intact chunks in order into the whole-file hash and hands their bytes back', async () => {
    const v = new FileVerifier()
    const results = await Promise.all(chunks.map(async (c, i) => await v.check(i, own(c), hashes[i])))
    expect(results.map(r => [r.fed, r.corrupt])).toEqual(chunks.map(() => [true, false]))
    results.forEach((r, i) => expect(r.bytes.equals(chunks[i])).toBe(true))
    expect(await v.digest()).toBe(whole)
  })

  it('leaves a corrupt chunk and those checked after it out of the file hash until the replacement comes', async () => {
    const v = new FileVerifier()
    const bad = own(chunks[2]); bad[10] ^= 1
    const first = await Promise.all([0, 1].map(async i => await v.check(i, own(chunks[i]), hashes[i])))
    expect(first.every(r => r.fed)).toBe(true)
    const [r2, r3] = await Promise.all([v.check(2, bad, hashes[2]), v.check(3, own(chunks[3]), hashes[3])])
    expect([r2.fed, r2.corrupt]).toEqual([false, true])
    expect([r3.fed, r3.corrupt]).toEqual([false, false]) // not next: checked again later
    for (let i = 2; i < chunks.length; i++) expect((await v.check(i, own(chunks[i]), hashes[i])).fed).toBe(true)
    expect(await v.digest()).toBe(whole)
    await expect(v.check(0, own(chunks[0]), hashes[0])).rejects.toThrow(/after the file/)
  })
})

describe('hashOwned', () => {
  it('hashes memory on the worker and hands the same bytes back, view and all', async () => {
    const data = randomBytes(300_000)
    const mem = own(Buffer.concat([Buffer.alloc(40), data]))
    const view = mem.subarray(40)
    const res = await Promise.all([hashOwned(view), hashOwned(own(data))])
    expect(res.map(r => r.hash)).toEqual([sha(data), sha(data)])
    expect(view.byteLength).toBe(0) // moved away...
    expect(res[0].bytes.byteOffset).toBe(40) // ...and back, at the same place
    expect(res[0].bytes.equals(data)).toBe(true)
  })
})
