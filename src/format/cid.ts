/**
 * Hash <-> CID mapping for the DHT. A content hash (64 lowercase hex, the
 * SHA-256 of a file's bytes or of a directory's canonical encoding) is
 * announced as CIDv1, codec raw (0x55), multihash sha2-256 (0x12) of those
 * 32 bytes; printed in base32 ("bafkrei…"). The DHT keys provider records by
 * the multihash only, so the codec is informational. See docs/protocols/.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'

const RAW = 0x55

export function hashToCid (hash: string): CID {
  return CID.createV1(RAW, Digest.create(sha256.code, Buffer.from(hash, 'hex')))
}

export function cidString (hash: string): string {
  return hashToCid(hash).toString()
}

/** The content hash a CID names, or undefined when it is not a sha2-256 CID. */
export function cidToHash (cid: CID): string | undefined {
  if (cid.multihash.code !== sha256.code || cid.multihash.digest.byteLength !== 32) return undefined
  return Buffer.from(cid.multihash.digest).toString('hex')
}
