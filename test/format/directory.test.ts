import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { decodeDirectory, encodeDirectory, hashDirectory } from '../../src/format/directory.js'
import type { DirEntry } from '../../src/format/directory.js'

const H = (c: string): string => c.repeat(64)

describe('canonical directory encoding', () => {
  const entries: DirEntry[] = [
    { name: 'b.txt', type: 'file', hash: H('b'), size: 2 },
    { name: 'a', type: 'dir', hash: H('a'), size: 10 },
    { name: 'ünï\ncode', type: 'file', hash: H('c'), size: 0 }
  ]

  it('is the documented byte format, sorted by UTF-8 name bytes', () => {
    const enc = encodeDirectory(entries).toString('utf8')
    expect(enc).toBe(
      'openhashdb-dir-v1\n' +
      `dir ${H('a')} 10 1:a\n` +
      `file ${H('b')} 2 5:b.txt\n` +
      `file ${H('c')} 0 10:ünï\ncode\n`
    )
  })

  it('hash is the SHA-256 of the encoding and independent of input order', () => {
    const { hash, encoding } = hashDirectory(entries)
    expect(hash).toBe(createHash('sha256').update(encoding).digest('hex'))
    expect(hashDirectory([...entries].reverse()).hash).toBe(hash)
  })

  it('the empty directory has a fixed hash', () => {
    expect(hashDirectory([]).hash).toBe(createHash('sha256').update('openhashdb-dir-v1\n').digest('hex'))
  })

  it('round-trips through decode', () => {
    const { encoding } = hashDirectory(entries)
    expect(decodeDirectory(encoding)).toEqual([...entries].sort((x, y) => Buffer.compare(Buffer.from(x.name), Buffer.from(y.name))))
  })

  it('rejects bad names and duplicates', () => {
    for (const name of ['', '.', '..', 'a/b', 'nul\0']) {
      expect(() => encodeDirectory([{ name, type: 'file', hash: H('a'), size: 1 }])).toThrow(/invalid entry name/)
    }
    expect(() => encodeDirectory([{ name: 'x', type: 'file', hash: H('a'), size: 1 }, { name: 'x', type: 'dir', hash: H('b'), size: 1 }])).toThrow(/duplicate/)
  })

  it('decode rejects non-canonical or damaged encodings', () => {
    const good = hashDirectory(entries).encoding
    const unsorted = Buffer.from(`openhashdb-dir-v1\nfile ${H('b')} 2 5:b.txt\ndir ${H('a')} 10 1:a\n`)
    const upper = Buffer.from(`openhashdb-dir-v1\nfile ${'B'.repeat(64)} 2 5:b.txt\n`)
    for (const bad of [good.subarray(0, good.length - 3), unsorted, upper, Buffer.from('nope\n'), Buffer.concat([good, Buffer.from('x')])]) {
      expect(() => decodeDirectory(bad)).toThrow(/invalid directory encoding/)
    }
  })
})
