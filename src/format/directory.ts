/**
 * Canonical directory encoding. A directory's hash is the SHA-256 of:
 *
 *   "openhashdb-dir-v1\n"
 *   then for each entry, sorted by the UTF-8 bytes of its name:
 *   "<type> <hash> <size> <name-byte-length>:<name>\n"
 *
 * type is "file" or "dir"; hash is 64 lowercase hex; size is decimal bytes (a
 * directory's size is the total of its files); name is UTF-8, never empty,
 * ".", "..", nor containing "/" or NUL. The length prefix makes any name
 * (newlines included) unambiguous. See docs/storage.md.
 */
import { InvalidArgumentError, CorruptDataError } from '../errors.js'
import { isHash, sha256hex } from './hash.js'

export const DIR_HEADER = 'openhashdb-dir-v1\n'

export type EntryType = 'file' | 'dir'

export interface DirEntry {
  name: string
  type: EntryType
  hash: string
  size: number
}

export function validateName (name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidArgumentError(`invalid entry name: ${JSON.stringify(name)}`, { name })
  }
}

export function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export function encodeDirectory (entries: DirEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => compareNames(a.name, b.name))
  const parts: Buffer[] = [Buffer.from(DIR_HEADER)]
  let prev: string | undefined
  for (const e of sorted) {
    validateName(e.name)
    if (prev === e.name) throw new InvalidArgumentError(`duplicate entry name: ${JSON.stringify(e.name)}`, { name: e.name })
    prev = e.name
    if (!isHash(e.hash)) throw new InvalidArgumentError(`invalid entry hash for ${e.name}`)
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw new InvalidArgumentError(`invalid entry size for ${e.name}`)
    const name = Buffer.from(e.name, 'utf8')
    parts.push(Buffer.from(`${e.type} ${e.hash.toLowerCase()} ${e.size} ${name.byteLength}:`), name, Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

export function hashDirectory (entries: DirEntry[]): { hash: string, encoding: Buffer } {
  const encoding = encodeDirectory(entries)
  return { hash: sha256hex(encoding), encoding }
}

/** Parse (and fully validate) an encoding; throws CorruptDataError on anything non-canonical. */
export function decodeDirectory (encoding: Uint8Array): DirEntry[] {
  const buf = Buffer.from(encoding.buffer, encoding.byteOffset, encoding.byteLength)
  const bad = (why: string): never => { throw new CorruptDataError(`invalid directory encoding: ${why}`) }
  if (!buf.subarray(0, DIR_HEADER.length).equals(Buffer.from(DIR_HEADER))) bad('missing header')
  const entries: DirEntry[] = []
  let off = DIR_HEADER.length
  while (off < buf.length) {
    const colon = buf.indexOf(0x3a, off)
    if (colon < 0) bad('truncated entry')
    const head = buf.subarray(off, colon).toString('latin1')
    const m = /^(file|dir) ([0-9a-f]{64}) (0|[1-9]\d*) (0|[1-9]\d*)$/.exec(head)
    if (m === null) bad('malformed entry header')
    const nameLen = Number(m![4])
    const nameStart = colon + 1
    const nameEnd = nameStart + nameLen
    if (nameEnd >= buf.length) bad('truncated name')
    if (buf[nameEnd] !== 0x0a) bad('missing newline')
    const name = buf.subarray(nameStart, nameEnd).toString('utf8')
    entries.push({ type: m![1] as EntryType, hash: m![2], size: Number(m![3]), name })
    off = nameEnd + 1
  }
  // canonical form: re-encoding must give the same bytes
  if (!encodeDirectory(entries).equals(buf)) bad('not canonical (order, duplicates or name encoding)')
  return entries
}
