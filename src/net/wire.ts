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
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.js'

export interface Frame {
  kind: number
  payload: Buffer
  /**
   * The payload's ArrayBuffer holds this frame alone (it was gathered from
   * several pieces into fresh memory), so it may be moved to a worker.
   */
  owned: boolean
}

/** A piece of a stream: bytes, or a list of byte arrays (iterated, never concatenated). */
type Piece = Uint8Array | (Iterable<Uint8Array> & { subarray: () => Uint8Array })

/** Reads frames off a stream (or any async iterable of bytes). */
export class FrameReader {
  private readonly it: AsyncIterator<Piece>
  /** Unread bytes: pieces[head..], the first of them starting at `offset`. */
  private pieces: Uint8Array[] = []
  private head = 0
  private offset = 0
  private buffered = 0

  /**
   * `alloc` provides the memory for frames gathered from several pieces (it
   * must return a buffer of exactly `n` bytes, the sole user of its
   * ArrayBuffer), e.g. a BufferPool's take; by default fresh memory.
   */
  constructor (source: AsyncIterable<Piece>, private readonly maxFrame: number, private readonly alloc: (n: number) => Buffer = n => Buffer.allocUnsafeSlow(n)) {
    this.it = source[Symbol.asyncIterator]()
  }

  private push (bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return
    this.pieces.push(bytes)
    this.buffered += bytes.byteLength
  }

  private async fill (n: number): Promise<boolean> {
    while (this.buffered < n) {
      const r = await this.it.next()
      if (r.done === true) return false
      const v = r.value
      if (v instanceof Uint8Array) this.push(v)
      else for (const part of v) this.push(part)
    }
    return true
  }

  /** The next `n` buffered bytes: a view when they lie in one piece, else a copy into fresh memory. */
  private take (n: number): { bytes: Buffer, owned: boolean } {
    const first = this.pieces[this.head]
    const avail = first.byteLength - this.offset
    let bytes: Buffer
    let owned = false
    if (avail >= n) {
      bytes = Buffer.from(first.buffer, first.byteOffset + this.offset, n)
      this.offset += n
      if (avail === n) this.advance()
    } else {
      bytes = this.alloc(n) // never from Buffer's shared pool: this memory is the frame's alone
      owned = true
      let off = 0
      while (off < n) {
        const p = this.pieces[this.head]
        const m = Math.min(p.byteLength - this.offset, n - off)
        bytes.set(p.subarray(this.offset, this.offset + m), off)
        off += m
        this.offset += m
        if (this.offset === p.byteLength) this.advance()
      }
    }
    this.buffered -= n
    return { bytes, owned }
  }

  private advance (): void {
    this.head++
    this.offset = 0
    if (this.head === this.pieces.length) {
      this.pieces = []
      this.head = 0
    } else if (this.head >= 64) {
      this.pieces = this.pieces.slice(this.head)
      this.head = 0
    }
  }

  /** The next frame, or undefined when the stream ended cleanly between frames. */
  async next (): Promise<Frame | undefined> {
    if (!await this.fill(4)) {
      if (this.buffered > 0) throw new ProtocolError('stream ended inside a frame header')
      return undefined
    }
    const len = this.take(4).bytes.readUInt32BE(0)
    if (len < 1) throw new ProtocolError('empty frame')
    if (len > this.maxFrame) throw new ProtocolError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`)
    if (!await this.fill(len)) throw new ProtocolError('stream ended inside a frame')
    const { bytes, owned } = this.take(len)
    return { kind: bytes[0], payload: bytes.subarray(1), owned }
  }
}

/** Payload pieces up to this size travel in the frame's header buffer (one send, one muxer frame, instead of several). */
const INLINE_BYTES = 4096

export function encodeFrame (kind: number, payload: Uint8Array | Uint8Array[]): Uint8Array[] {
  const pieces = Array.isArray(payload) ? payload : [payload]
  let inline = 0
  let inlineBytes = 0
  while (inline < pieces.length && inlineBytes + pieces[inline].byteLength <= INLINE_BYTES) inlineBytes += pieces[inline++].byteLength
  const head = Buffer.allocUnsafe(5 + inlineBytes)
  head.writeUInt32BE(pieces.reduce((n, p) => n + p.byteLength, 0) + 1, 0)
  head[4] = kind
  let off = 5
  for (let i = 0; i < inline; i++) { head.set(pieces[i], off); off += pieces[i].byteLength }
  return [head, ...pieces.slice(inline).filter(p => p.byteLength > 0)]
}

/**
 * Send one frame (its payload whole or in pieces), waiting for the stream to
 * drain when its buffer is full. The pieces go in one send (a list, not
 * concatenated): one muxer frame per message, so a chunk and its header cost
 * the receiver one decrypt, one window update and one socket write, not two.
 */
export async function sendFrame (stream: Stream, kind: number, payload: Uint8Array | Uint8Array[], signal?: AbortSignal): Promise<void> {
  const parts = encodeFrame(kind, payload)
  if (!stream.send(parts.length === 1 ? parts[0] : new Uint8ArrayList(...parts))) await stream.onDrain({ signal })
}

export const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))

export function parseJson<T> (payload: Buffer, what: string): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T
  } catch {
    throw new ProtocolError(`malformed ${what} message`)
  }
}
