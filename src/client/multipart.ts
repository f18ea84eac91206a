/**
 * A streaming multipart/form-data encoder: parts go out as they are read,
 * file bytes are never buffered whole. With every file's size known the
 * exact body length is known too (sent as Content-Length).
 */
import { randomBytes } from 'node:crypto'

export type FormPart =
  | { kind: 'field', name: string, value: string }
  | { kind: 'file', name: string, filename: string, contentType?: string, size?: number, source: () => AsyncIterable<Uint8Array> }

const CRLF = '\r\n'

export function newBoundary (): string {
  return `----openhash-${randomBytes(12).toString('hex')}`
}

/** As browsers do (WHATWG HTML): quote, and percent-escape `"`, CR and LF in names. */
function quote (s: string): string {
  return '"' + s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A') + '"'
}

function partHead (boundary: string, part: FormPart): Buffer {
  let head = `--${boundary}${CRLF}Content-Disposition: form-data; name=${quote(part.name)}`
  if (part.kind === 'file') head += `; filename=${quote(part.filename)}${CRLF}Content-Type: ${part.contentType ?? 'application/octet-stream'}`
  return Buffer.from(head + CRLF + CRLF, 'utf8')
}

const tail = (boundary: string): Buffer => Buffer.from(`--${boundary}--${CRLF}`)

export async function * encodeMultipart (parts: Iterable<FormPart> | AsyncIterable<FormPart>, boundary: string): AsyncGenerator<Uint8Array> {
  for await (const part of parts) {
    yield partHead(boundary, part)
    if (part.kind === 'field') yield Buffer.from(part.value, 'utf8')
    else yield * part.source()
    yield Buffer.from(CRLF)
  }
  yield tail(boundary)
}

/** Exact encoded length, or undefined when some file's size is unknown. */
export function multipartLength (parts: FormPart[], boundary: string): number | undefined {
  let n = tail(boundary).length
  for (const part of parts) {
    n += partHead(boundary, part).length + 2
    if (part.kind === 'field') n += Buffer.byteLength(part.value, 'utf8')
    else if (part.size === undefined) return undefined
    else n += part.size
  }
  return n
}
