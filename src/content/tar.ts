/**
 * Stream a stored directory tree as a POSIX tar archive (ustar headers, with
 * pax extended headers where ustar cannot say it), through the node interface
 * so it works in-process and against a daemon.
 *
 * The output is deterministic: the same tree always gives the same bytes.
 *  - members in depth-first order, entries in the order `node.entries` returns
 *    (the canonical sorted order), each directory before its contents;
 *  - every member is under `rootName/`; directories end with '/';
 *  - mode 0644 (files) / 0755 (directories), uid/gid 0, empty uname/gname;
 *  - mtime = the object's `mod_time` in whole seconds (floor); an invalid or
 *    negative time becomes 0, one past the 11-digit octal field is clamped;
 *  - no pax `mtime`/`atime`/`ctime` records, and pax headers have fixed names.
 *
 * File bytes are never buffered: headers are yielded, then the chunks exactly
 * as `node.read` yields them, then zero padding to the 512-byte block.
 */
import type { OpenHashNode } from '../interface.js'
import { validateName } from '../format/directory.js'
import { CorruptDataError, throwIfAborted } from '../errors.js'

export type TarSource = Pick<OpenHashNode, 'info' | 'entries' | 'read'>

const BLOCK = 512
const ZEROS = new Uint8Array(BLOCK) // copied from, never yielded (a consumer may keep or reuse what it gets)
/** Largest value an 11-digit octal field holds (8 GiB - 1). */
const MAX_OCTAL = 0o77777777777
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/** One archive member, as found by walking entries (no file bytes, no info). */
interface Member { path: string, type: 'file' | 'dir', hash: string, size: number }

/** Stream a POSIX (pax/ustar) tar archive of directory `hash`, rooted at folder `rootName` (all members are under `rootName/`). */
export async function * tarDirectory (node: TarSource, hash: string, rootName: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  const { signal } = options
  validateName(rootName)
  for await (const m of walk(node, hash, `${rootName}/`, signal)) {
    throwIfAborted(signal)
    const info = await node.info(m.hash)
    yield memberHeaders(m, mtimeSeconds(info.mod_time))
    if (m.type === 'dir') continue
    let count = 0
    for await (const chunk of node.read(m.hash, { signal })) {
      throwIfAborted(signal)
      count += chunk.byteLength
      // check before yielding, so an over-long file never reaches the archive
      if (count > m.size) throw sizeMismatch(m, count)
      if (chunk.byteLength > 0) yield chunk
    }
    if (count !== m.size) throw sizeMismatch(m, count)
    const pad = padding(m.size)
    if (pad > 0) yield new Uint8Array(pad)
  }
  throwIfAborted(signal)
  yield new Uint8Array(2 * BLOCK) // two zero blocks end the archive
}

/** Exact byte length tarDirectory will produce (walks the tree metadata only, reads no file bytes). */
export async function tarLength (node: TarSource, hash: string, rootName: string, options: { signal?: AbortSignal } = {}): Promise<number> {
  validateName(rootName)
  let total = 2 * BLOCK
  for await (const m of walk(node, hash, `${rootName}/`, options.signal)) {
    // the header's length does not depend on mtime, so build it with 0
    total += memberHeaders(m, 0).byteLength + m.size + padding(m.size)
  }
  return total
}

/** Depth-first members of directory `hash` at archive path `path` (ending in '/'), itself first. */
async function * walk (node: TarSource, hash: string, path: string, signal?: AbortSignal): AsyncGenerator<Member> {
  throwIfAborted(signal)
  const entries = await node.entries(hash)
  yield { path, type: 'dir', hash, size: 0 }
  for (const e of entries) {
    // names from a remote node are untrusted: no '/', '..' or NUL may reach the archive
    validateName(e.name)
    if (e.type === 'dir') {
      yield * walk(node, e.hash, `${path}${e.name}/`, signal)
    } else if (e.type === 'file') {
      if (!Number.isSafeInteger(e.size) || e.size < 0) throw new CorruptDataError(`invalid size for ${path}${e.name}`, { hash: e.hash, size: e.size })
      yield { path: path + e.name, type: 'file', hash: e.hash, size: e.size }
    } else {
      throw new CorruptDataError(`unknown entry type for ${path}${e.name}`, { hash: e.hash, type: e.type })
    }
  }
}

function sizeMismatch (m: Member, got: number): Error {
  return new CorruptDataError(`file ${m.path} (${m.hash}) streamed ${got}+ bytes, expected ${m.size}`, { hash: m.hash, expected: m.size, got })
}

function padding (size: number): number {
  return (BLOCK - size % BLOCK) % BLOCK
}

function mtimeSeconds (iso: string): number {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms) || ms < 0) return 0
  return Math.min(Math.floor(ms / 1000), MAX_OCTAL)
}

/**
 * The header block(s) for one member: a pax extended header (+ its padded
 * records) when the path or size does not fit ustar, then the ustar header.
 */
function memberHeaders (m: Member, mtime: number): Buffer {
  const mode = m.type === 'dir' ? 0o755 : 0o644
  const typeflag = m.type === 'dir' ? '5' : '0'
  const split = ustarSplit(m.path)
  const records: Buffer[] = []
  if (split === undefined) records.push(paxRecord('path', m.path))
  if (m.size > MAX_OCTAL) records.push(paxRecord('size', String(m.size)))
  const ustar = ustarHeader({ ...(split ?? { name: placeholder(m.path), prefix: '' }), mode, size: m.size, mtime, typeflag })
  if (records.length === 0) return ustar
  const data = Buffer.concat(records)
  const pax = ustarHeader({
    // a fixed, ASCII name (readers that know pax never create it)
    name: `PaxHeaders/${placeholder(m.path.replace(/\/$/, ''))}`.slice(0, 100),
    prefix: '',
    mode: 0o644,
    size: data.byteLength,
    mtime,
    typeflag: 'x'
  })
  return Buffer.concat([pax, data, ZEROS.subarray(0, padding(data.byteLength)), ustar])
}

/** Split a printable-ASCII path into ustar prefix (≤ 155) + name (≤ 100, non-empty), or undefined if it cannot be. */
function ustarSplit (path: string): { name: string, prefix: string } | undefined {
  if (!PRINTABLE_ASCII.test(path)) return undefined
  if (path.length <= 100) return { name: path, prefix: '' }
  // the leftmost '/' whose remainder fits gives the shortest prefix
  for (let i = path.indexOf('/'); i >= 0 && i <= 155; i = path.indexOf('/', i + 1)) {
    const name = path.slice(i + 1)
    if (name.length <= 100) return name === '' ? undefined : { name, prefix: path.slice(0, i) }
  }
  return undefined
}

/** An ASCII stand-in for a path that goes in a pax record: non-printables become '_', truncated to 100 bytes (keeping a directory's '/'). */
function placeholder (path: string): string {
  const dir = path.endsWith('/')
  const ascii = (dir ? path.slice(0, -1) : path).replace(/[^\x20-\x7e]/g, '_')
  return dir ? `${ascii.slice(0, 99)}/` : ascii.slice(0, 100)
}

/** "<len> key=value\n", where <len> is the record's own byte length, its digits included. */
function paxRecord (key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`, 'utf8')
  let len = body.byteLength
  for (;;) {
    const next = body.byteLength + String(len).length
    if (next === len) break
    len = next
  }
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body])
}

interface HeaderFields { name: string, prefix: string, mode: number, size: number, mtime: number, typeflag: string }

/** One 512-byte ustar header; all strings are printable ASCII by construction. */
function ustarHeader (f: HeaderFields): Buffer {
  const b = Buffer.alloc(BLOCK)
  b.write(f.name, 0, 100, 'latin1')
  octal(b, 100, 8, f.mode)
  octal(b, 108, 8, 0) // uid
  octal(b, 116, 8, 0) // gid
  if (f.size <= MAX_OCTAL) {
    octal(b, 124, 12, f.size)
  } else {
    // ≥ 8 GiB: the pax 'size' record is authoritative; we also put the size in
    // the field in base-256 (GNU/star extension: high bit set, big-endian), so
    // readers without pax support still skip the right number of bytes.
    b[124] = 0x80
    let v = f.size
    for (let i = 135; i > 124; i--) { b[i] = v % 256; v = Math.floor(v / 256) }
  }
  octal(b, 136, 12, f.mtime)
  b.write(f.typeflag, 156, 1, 'latin1')
  // linkname (157..257) stays empty
  b.write('ustar\u000000', 257, 8, 'latin1') // magic "ustar\0" + version "00"
  // uname, gname (265..329) empty; devmajor/devminor (329..345) unused
  b.write(f.prefix, 345, 155, 'latin1')
  // checksum: sum of all bytes with the checksum field taken as 8 spaces
  b.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of b) sum += byte
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1')
  return b
}

/** Zero-padded octal with a trailing NUL, filling a `len`-byte field. */
function octal (b: Buffer, off: number, len: number, value: number): void {
  b.write(`${value.toString(8).padStart(len - 1, '0')}\u0000`, off, len, 'latin1')
}
