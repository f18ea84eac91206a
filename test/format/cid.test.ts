import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { createHash } from 'node:crypto'
import { cidString, cidToHash, hashToCid } from '../../src/format/cid.js'

describe('hash <-> CID', () => {
  it('is CIDv1, raw codec, sha2-256 multihash of the same 32 bytes, base32', () => {
    const hash = createHash('sha256').update('hello\n').digest('hex')
    const text = cidString(hash)
    expect(text).toMatch(/^bafkrei[a-z2-7]{52}$/)
    const cid = CID.parse(text)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(cid.multihash.code).toBe(0x12)
    expect(Buffer.from(cid.multihash.digest).toString('hex')).toBe(hash)
    expect(cidToHash(hashToCid(hash))).toBe(hash)
  })

  it('a CID of another hash function maps to no hash', () => {
    const cid = CID.parse('bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4') // blake3
    expect(cidToHash(cid)).toBeUndefined()
  })
})
