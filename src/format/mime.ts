/**
 * MIME type from the file name's extension; when the extension says nothing,
 * sniff the first bytes for common formats, then fall back to text/plain for
 * UTF-8 text and application/octet-stream for the rest.
 */
import { lookup } from 'mime-types'

export const DIRECTORY_MIME = 'application/x-directory'
export const SNIFF_BYTES = 512

const SIGNATURES: Array<[number[], number, string]> = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0, 'image/png'],
  [[0xff, 0xd8, 0xff], 0, 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 0, 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 0, 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 0, 'application/zip'],
  [[0x1f, 0x8b], 0, 'application/gzip'],
  [[0x42, 0x5a, 0x68], 0, 'application/x-bzip2'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 0, 'application/x-xz'],
  [[0x28, 0xb5, 0x2f, 0xfd], 0, 'application/zstd'],
  [[0x7f, 0x45, 0x4c, 0x46], 0, 'application/x-elf'],
  [[0x49, 0x44, 0x33], 0, 'audio/mpeg'],
  [[0x4f, 0x67, 0x67, 0x53], 0, 'application/ogg'],
  [[0x66, 0x4c, 0x61, 0x43], 0, 'audio/flac'],
  [[0x1a, 0x45, 0xdf, 0xa3], 0, 'video/webm'],
  [[0x00, 0x61, 0x73, 0x6d], 0, 'application/wasm']
]

function startsWith (buf: Uint8Array, sig: number[], at: number): boolean {
  if (buf.length < at + sig.length) return false
  return sig.every((b, i) => buf[at + i] === b)
}

export function sniffMime (head: Uint8Array): string {
  for (const [sig, at, type] of SIGNATURES) if (startsWith(head, sig, at)) return type
  const ascii = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 16)).toString('latin1')
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'image/webp'
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WAVE') return 'audio/wav'
  if (ascii.slice(4, 8) === 'ftyp') return 'video/mp4'
  if (head.byteLength === 0) return 'application/octet-stream'
  if (head.includes(0)) return 'application/octet-stream'
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8').trimStart().toLowerCase()
  if (text.startsWith('<!doctype html') || text.startsWith('<html')) return 'text/html'
  if (text.startsWith('<?xml')) return 'application/xml'
  if (text.startsWith('<svg')) return 'image/svg+xml'
  if ((text.startsWith('{') || text.startsWith('[')) && looksLikeJson(text)) return 'application/json'
  return isUtf8Prefix(head) ? 'text/plain' : 'application/octet-stream'
}

function looksLikeJson (text: string): boolean {
  return /^[[{]\s*("|\]|\}|\[|\{|-?\d|true|false|null)/.test(text)
}

/** Valid UTF-8, tolerating a multi-byte sequence cut at the end of the sample. */
function isUtf8Prefix (head: Uint8Array): boolean {
  for (let cut = 0; cut < 4 && cut <= head.byteLength; cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.byteLength - cut))
      return true
    } catch {}
  }
  return false
}

export function detectMime (filename: string, head: Uint8Array): string {
  const byName = filename === '' ? false : lookup(filename)
  if (byName !== false) return byName
  return sniffMime(head)
}
