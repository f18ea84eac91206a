/**
 * Every key of the metadata store (<data-dir>/meta), for every owner, in one
 * place; see docs/storage.md. The on-disk keys are a format: never rename a
 * prefix (existing stores must open unchanged). Also the value codecs the
 * repo's records use, and the 32-byte segment encoding of chunk lists.
 */

/** Key prefixes, by owner. */
export const PREFIX = {
  // the repo (store/repo.ts and its parts)
  /** o/<hash>: ObjectRecord (JSON). */
  object: 'o/',
  /** d/<hash>: a directory's canonical encoding (format/directory.ts). */
  dir: 'd/',
  /** m/<mid>/<seq, 8 hex digits>: a manifest segment, the raw 32-byte hashes of up to SEGMENT_CHUNKS chunks. */
  segment: 'm/',
  /** ms/<mid>: ManifestState (JSON). */
  manifest: 'ms/',
  /** c/<chunk>: how many segments name the chunk (decimal). */
  chunkRef: 'c/',
  /** p/<hash>: PinRecord (JSON). */
  pin: 'p/',
  /** pw/<hash>: a wanted pin, PinRecord (JSON). */
  want: 'pw/',
  /** h/<hash>/<owner>: HoldRecord (JSON). */
  hold: 'h/',
  /** at/<hash>: last access, ms since the epoch (decimal). */
  access: 'at/',
  /** meta/version (store/open.ts), meta/counters (the repo). */
  meta: 'meta/',
  // the pack chunk store (store/chunks-pack.ts)
  /** pk/<chunk>: the chunk's location in a pack (and pk!stats, PACK_STATS, sorts outside it). */
  packIndex: 'pk/',
  // other owners, each given its own prefixed view of the store (kv.ts `prefixed`, built in open.ts)
  /** tk/<id>: API tokens (auth/tokens.ts). */
  token: 'tk/',
  /** au/<id>: audit log entries (auth/audit.ts). */
  audit: 'au/',
  /** rr/<hash>: peers holding a pin's replicas on our request (net/replicator.ts). */
  replicaRequest: 'rr/',
  /** ra/<hash>: fetch attempts of a replica held for a peer (net/replica-holder.ts). */
  replicaAttempts: 'ra/'
} as const

/** The pack chunk store's counters (store/chunks-pack.ts). */
export const PACK_STATS = 'pk!stats'

/** Length of a hash in hex. */
const HEX = 64

/** The repo's keys. */
export const K = {
  object: (h: string) => PREFIX.object + h,
  dir: (h: string) => PREFIX.dir + h,
  segment: (mid: string, seq: number) => `${PREFIX.segment}${mid}/${seq.toString(16).padStart(8, '0')}`,
  segments: (mid: string) => `${PREFIX.segment}${mid}/`,
  manifest: (mid: string) => PREFIX.manifest + mid,
  chunkRef: (h: string) => PREFIX.chunkRef + h,
  pin: (h: string) => PREFIX.pin + h,
  want: (h: string) => PREFIX.want + h,
  hold: (h: string, owner: string) => `${PREFIX.hold}${h}/${owner}`,
  holds: (h: string) => `${PREFIX.hold}${h}/`,
  access: (h: string) => PREFIX.access + h,
  version: `${PREFIX.meta}version`,
  counters: `${PREFIX.meta}counters`
}

/** The name after `prefix` in `key` (a hash, manifest id, ...): `keyName('o/', 'o/ab') === 'ab'`. */
export function keyName (prefix: string, key: string): string {
  return key.slice(prefix.length)
}

/** The content hash of a hold key h/<hash>/<owner>. */
export function holdHash (key: string): string {
  return key.slice(PREFIX.hold.length, PREFIX.hold.length + HEX)
}

/** The manifest id of a segment key m/<mid>/<seq>. */
export function segmentManifest (key: string): string {
  const rest = key.slice(PREFIX.segment.length)
  return rest.slice(0, rest.indexOf('/'))
}

// ---------------------------------------------------------------- value codecs

export const enc = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v))
export const dec = <T>(v: Uint8Array): T => JSON.parse(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'))
/** A decimal counter value; 0 when absent. */
export const num = (v: Uint8Array | undefined): number => v === undefined ? 0 : Number(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'))
/** A decimal counter value to store. */
export const numValue = (n: number): Uint8Array => Buffer.from(String(n))

// ---------------------------------------------------------------- segments

/** The hex hashes of a segment value (32 raw bytes each), from the `skip`-th on. */
export function * segmentHashes (v: Uint8Array, skip = 0): Generator<string> {
  const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  for (let off = skip * 32; off < buf.length; off += 32) yield buf.toString('hex', off, off + 32)
}

/** A segment value for hex hashes. */
export function segmentValue (hashes: readonly string[]): Uint8Array {
  return Buffer.from(hashes.join(''), 'hex')
}

/** Add `n` to `key`'s count in `counts`. */
export function bump (counts: Map<string, number>, key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n)
}

/** How many times each item occurs. */
export function countBy (items: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const h of items) bump(counts, h)
  return counts
}
