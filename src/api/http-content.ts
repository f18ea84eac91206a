/**
 * HTTP semantics for content: ETag / If-None-Match, single byte ranges,
 * Content-Disposition (RFC 6266 with an RFC 5987 filename* for non-ASCII
 * names), and writing a streamed body straight to the Node response with
 * backpressure.
 */
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export const IMMUTABLE = 'public, max-age=31536000, immutable'

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'partial', start: number, end: number }
  | { kind: 'unsatisfiable' }

/**
 * A single `bytes=` range against `size`. Syntax we do not serve (several
 * ranges, other units, garbage) is ignored, as RFC 9110 allows: the whole
 * representation is sent.
 */
export function parseRange (header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null || (m[1] === '' && m[2] === '')) return { kind: 'none' }
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  let end = m[2] === '' ? size - 1 : Number(m[2])
  if (m[2] !== '' && end < start) return { kind: 'none' } // invalid: ignore the header
  if (start >= size) return { kind: 'unsatisfiable' }
  end = Math.min(end, size - 1)
  return { kind: 'partial', start, end }
}

/** Does If-None-Match name this ETag (or `*`)? Weak comparison, as RFC 9110 says for it. */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some(t => {
    const tag = t.trim()
    return tag === '*' || tag.replace(/^W\//, '') === bare
  })
}

/** `attachment` or `inline` with an ASCII fallback name and a UTF-8 filename*. */
export function contentDisposition (type: 'attachment' | 'inline', filename: string): string {
  if (filename === '') return type
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const header = `${type}; filename="${fallback}"`
  if (fallback === filename) return header
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return `${header}; filename*=UTF-8''${encoded}`
}

/**
 * Send status + headers and then the body. The first piece is pulled before
 * anything is written, so a failure to start reading still becomes a proper
 * error response (the caller's catch); a failure later can only cut the
 * connection, which the client sees as a short body.
 */
export async function sendBody (out: ServerResponse, status: number, headers: Record<string, string | number>, body: AsyncIterable<Uint8Array> | null): Promise<void> {
  if (body === null) {
    out.writeHead(status, headers)
    out.end()
    return
  }
  const it = body[Symbol.asyncIterator]()
  const first = await it.next()
  out.writeHead(status, headers)
  if (first.done === true) {
    out.end()
    return
  }
  const rest = (async function * () {
    yield first.value
    while (true) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  })()
  try {
    await pipeline(Readable.from(rest, { objectMode: false, highWaterMark: 4 * 1024 * 1024 }), out)
  } catch {
    // client went away, or reading failed mid-stream: the socket is destroyed
    out.destroy()
    await it.return?.()
  }
}
