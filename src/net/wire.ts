/**
 * Framing for the exchange protocol: every message is
 *
 *   u32 big-endian length L | u8 kind | L-1 bytes of payload
 *
 * L counts the kind byte. A frame longer than the reader's limit is a
 * protocol error (the stream is then dropped), so a peer can never make us
 * buffer more than one bounded frame.
 */
import type { Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'

export interface Frame { kind: number, payload: Buffer }

type Piece = Uint8Array | { subarray: () => Uint8Array }

/** Reads frames off a stream (or any async iterable of bytes). */
export class FrameReader {
  private readonly it: AsyncIterator<Piece>
  private pieces: Buffer[] = []
  private buffered = 0

  constructor (source: AsyncIterable<Piece>, private readonly maxFrame: number) {
    this.it = source[Symbol.asyncIterator]()
  }

  private async fill (n: number): Promise<boolean> {
    while (this.buffered < n) {
      const r = await this.it.next()
      if (r.done === true) return false
      const v = r.value
      const bytes = v instanceof Uint8Array ? v : v.subarray()
      if (bytes.byteLength === 0) continue
      this.pieces.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      this.buffered += bytes.byteLength
    }
    return true
  }

  private take (n: number): Buffer {
    const first = this.pieces[0]
    let out: Buffer
    if (first.byteLength >= n) {
      out = first.subarray(0, n)
      if (first.byteLength === n) this.pieces.shift()
      else this.pieces[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let off = 0
      while (off < n) {
        const p = this.pieces[0]
        const m = Math.min(p.byteLength, n - off)
        p.copy(out, off, 0, m)
        off += m
        if (m === p.byteLength) this.pieces.shift()
        else this.pieces[0] = p.subarray(m)
      }
    }
    this.buffered -= n
    return out
  }

  /** The next frame, or undefined when the stream ended cleanly between frames. */
  async next (): Promise<Frame | undefined> {
    if (!await this.fill(4)) {
      if (this.buffered > 0) throw new ProtocolError('stream ended inside a frame header')
      return undefined
    }
    const len = this.take(4).readUInt32BE(0)
    if (len < 1) throw new ProtocolError('empty frame')
    if (len > this.maxFrame) throw new ProtocolError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`)
    if (!await this.fill(len)) throw new ProtocolError('stream ended inside a frame')
    const body = this.take(len)
    return { kind: body[0], payload: body.subarray(1) }
  }
}

export function encodeFrame (kind: number, payload: Uint8Array | Uint8Array[]): Uint8Array[] {
  const pieces = Array.isArray(payload) ? payload : [payload]
  const head = Buffer.allocUnsafe(5)
  head.writeUInt32BE(pieces.reduce((n, p) => n + p.byteLength, 0) + 1, 0)
  head[4] = kind
  return [head, ...pieces.filter(p => p.byteLength > 0)]
}

/** Send one frame (its payload whole or in pieces), waiting for the stream to drain when its buffer is full. */
export async function sendFrame (stream: Stream, kind: number, payload: Uint8Array | Uint8Array[], signal?: AbortSignal): Promise<void> {
  for (const part of encodeFrame(kind, payload)) {
    if (!stream.send(part)) await stream.onDrain({ signal })
  }
}

export const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))

export function parseJson<T> (payload: Buffer, what: string): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T
  } catch {
    throw new ProtocolError(`malformed ${what} message`)
  }
}
