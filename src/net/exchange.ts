/**
 * The exchange protocol, /openhash/exchange/1.0.0 (spec: docs/protocols/exchange.md).
 *
 * One stream carries many pipelined requests; the server answers them in
 * order. Requests: OBJECT (metadata, and a directory's canonical encoding),
 * CHUNKS (a page of a file's chunk list), BLOCK (one chunk's bytes). A node
 * serves only what it holds, and a client accepts only answers to what it
 * asked, checked by the caller (fetcher.ts) before anything is stored.
 */
import type { Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'
import { isHash } from '../format/hash.js'
import { encodeDirectory } from '../format/directory.js'
import type { Repo } from '../store/repo.js'
import type { Frame } from './wire.js'
import { MIN_POOLED } from './buffer-pool.js'
import type { BufferPool } from './buffer-pool.js'
import { FrameReader, json, parseJson, sendFrame } from './wire.js'
import { Permits } from './permits.js'

export const EXCHANGE_PROTOCOL = '/openhash/exchange/1.0.0'

export const REQ_OBJECT = 0x01
export const REQ_CHUNKS = 0x02
export const REQ_BLOCK = 0x03
export const RES_OBJECT = 0x81
export const RES_CHUNKS = 0x82
export const RES_BLOCK = 0x83
export const RES_NOT_FOUND = 0x84
export const RES_ERROR = 0xff

/** Largest request frame a server reads. */
export const MAX_REQUEST_FRAME = 4096
/** Largest chunk (storage.chunk_size is at most 4 MiB) plus its hash and the kind byte. */
export const MAX_BLOCK_FRAME = 4 * 1024 * 1024 + 33
/** Largest OBJECT answer (a directory encoding of ~100k entries). */
export const MAX_OBJECT_FRAME = 16 * 1024 * 1024
export const MAX_RESPONSE_FRAME = Math.max(MAX_BLOCK_FRAME, MAX_OBJECT_FRAME)
/** Chunk hashes per CHUNKS page. */
export const MAX_CHUNKS_PAGE = 4096
/** Requests a server works on ahead of the one it is sending. */
const SERVER_READ_AHEAD = 4
/**
 * BLOCK answers read and not yet sent, across every inbound stream of this
 * process (a chunk is at most 4 MiB): peers that ask and never read cannot
 * make a server hold more than this many chunks.
 */
export const MAX_SERVING_BLOCKS = 64
/** A client that takes no answer bytes for this long is dropped (its stream aborted, its permits given back). */
export const SERVE_STALL_MS = 30_000
const serving = new Permits(MAX_SERVING_BLOCKS)
/** BLOCK answers this process holds now (read, not yet sent). */
export function servingBlocks (): number { return serving.inUse }

/** What OBJECT answers: the metadata a fetch needs to check and rebuild the object. */
export interface ObjectMessage {
  hash: string
  filename: string
  mime_type: string
  size: number
  mod_time: string
  is_directory: boolean
  chunk_count: number
  /** Files: the chunk size of the sender's chunk list (all chunks but the last have this size). */
  chunk_size?: number
  /** Directories: the canonical encoding, base64. */
  encoding?: string
}

/** An answer: its kind and its payload, in one or more pieces (sent back to back, never concatenated). */
type Answer = [number, Uint8Array[], boolean?]

async function answer (repo: Repo, f: Frame): Promise<Answer> {
  switch (f.kind) {
    case REQ_OBJECT: {
      const { hash } = parseJson<{ hash?: unknown }>(f.payload, 'OBJECT')
      if (typeof hash !== 'string' || !isHash(hash)) throw new ProtocolError('OBJECT: bad hash')
      const rec = await repo.getObject(hash)
      if (rec === undefined) return [RES_NOT_FOUND, [json({ hash })]]
      repo.touch(hash) // a peer fetching it is a use: cached content others want is evicted last
      const msg: ObjectMessage = {
        hash,
        filename: rec.filename,
        mime_type: rec.mime_type,
        size: rec.size,
        mod_time: rec.mod_time,
        is_directory: rec.is_directory,
        chunk_count: rec.chunk_count
      }
      if (rec.is_directory) msg.encoding = encodeDirectory(await repo.entries(hash)).toString('base64')
      else msg.chunk_size = rec.chunk_size ?? repo.chunkSize
      return [RES_OBJECT, [json(msg)]]
    }
    case REQ_CHUNKS: {
      const { hash, from, count } = parseJson<{ hash?: unknown, from?: unknown, count?: unknown }>(f.payload, 'CHUNKS')
      if (typeof hash !== 'string' || !isHash(hash)) throw new ProtocolError('CHUNKS: bad hash')
      if (!Number.isSafeInteger(from) || (from as number) < 0) throw new ProtocolError('CHUNKS: bad from')
      if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > MAX_CHUNKS_PAGE) throw new ProtocolError('CHUNKS: bad count')
      const rec = await repo.getObject(hash)
      if (rec === undefined || rec.is_directory) return [RES_NOT_FOUND, [json({ hash })]]
      const out: Buffer[] = []
      for await (const h of repo.manifestChunks(rec, from as number)) {
        out.push(Buffer.from(h, 'hex'))
        if (out.length >= (count as number)) break
      }
      return [RES_CHUNKS, [Buffer.concat(out)]]
    }
    case REQ_BLOCK: {
      if (f.payload.byteLength !== 32) throw new ProtocolError('BLOCK: bad hash')
      const h = f.payload.toString('hex')
      // the permit is given back once the answer is sent (or the stream fails)
      await serving.take()
      try {
        // not re-hashed here: the receiver checks every chunk against its hash before it
        // uses it (and drops a sender of a bad one), so a second pass on the sending side
        // would only double the hashing per byte moved (~0.35 CPU-s per 256 MiB)
        const bytes = await repo.readChunk(h, { verify: false })
        return [RES_BLOCK, [f.payload, bytes], true]
      } catch {
        serving.give()
        return [RES_NOT_FOUND, [json({ hash: h })]] // missing or unreadable here
      }
    }
    default:
      throw new ProtocolError(`unknown request kind ${f.kind}`)
  }
}

/**
 * Serve one inbound stream until the client closes it. Up to
 * SERVER_READ_AHEAD requests are worked on while earlier answers are sent,
 * answers leave in request order. A protocol violation aborts the stream.
 */
export async function serveExchange (repo: Repo, stream: Stream): Promise<void> {
  const reader = new FrameReader(stream, MAX_REQUEST_FRAME)
  const queue: Array<Promise<Answer>> = []
  let wakeWriter: (() => void) | undefined
  let wakeReader: (() => void) | undefined
  let readDone = false
  let failed: unknown

  const writer = (async () => {
    for (;;) {
      if (queue.length === 0) {
        if (readDone || failed !== undefined) return
        await new Promise<void>(resolve => { wakeWriter = resolve })
        wakeWriter = undefined
        continue
      }
      const [kind, pieces, permit] = await queue[0]
      queue.shift()
      wakeReader?.()
      try {
        await sendFrame(stream, kind, pieces, AbortSignal.timeout(SERVE_STALL_MS))
      } finally {
        if (permit === true) serving.give()
      }
    }
  })()
  writer.catch((err) => {
    failed ??= err
    wakeReader?.()
    // a reader waiting for the next request must not keep the queued answers (and their permits) forever
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  })

  try {
    for (;;) {
      while (queue.length >= SERVER_READ_AHEAD && failed === undefined) {
        await new Promise<void>(resolve => { wakeReader = resolve })
        wakeReader = undefined
      }
      if (failed !== undefined) throw failed
      const f = await reader.next()
      if (f === undefined) break
      const pending = answer(repo, f)
      pending.catch(() => {})
      queue.push(pending)
      wakeWriter?.()
    }
    readDone = true
    wakeWriter?.()
    await writer
    await stream.close()
  } catch (err: any) {
    failed ??= err
    readDone = true
    wakeWriter?.()
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    await writer.catch(() => {})
    // answers read but never sent give their permits back
    for (const pending of queue.splice(0)) void pending.then(([, , permit]) => { if (permit === true) serving.give() }, () => {})
  }
}

interface Waiter { resolve: (f: Frame) => void, reject: (err: unknown) => void }

/**
 * The client end of one exchange stream: pipelined requests, answers matched
 * in order. If no answer arrives for `timeoutMs` while requests are
 * outstanding, the stream is aborted and every request fails.
 */
export class ExchangeSession {
  private readonly waiters: Waiter[] = []
  private readonly reader: FrameReader
  private timer: NodeJS.Timeout | undefined
  private failure: unknown
  readonly done: Promise<void>

  /** `pool`, when given, provides the memory of large answers (chunks); the caller gives it back once done. */
  constructor (private readonly stream: Stream, readonly peer: string, private readonly timeoutMs: number, pool?: BufferPool) {
    this.reader = new FrameReader(stream, MAX_RESPONSE_FRAME, pool === undefined ? undefined : n => n >= MIN_POOLED ? pool.take(n) : Buffer.allocUnsafeSlow(n))
    this.done = this.readLoop()
  }

  get closed (): boolean { return this.failure !== undefined }
  get inflight (): number { return this.waiters.length }

  private arm (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.waiters.length > 0 && this.failure === undefined) {
      this.timer = setTimeout(() => { this.fail(new ProtocolError(`peer ${this.peer} sent nothing for ${this.timeoutMs} ms`)) }, this.timeoutMs)
      this.timer.unref?.()
    }
  }

  private fail (err: unknown): void {
    if (this.failure !== undefined) return
    this.failure = err
    clearTimeout(this.timer)
    for (const w of this.waiters.splice(0)) w.reject(err)
    this.stream.abort(err instanceof Error ? err : new Error(String(err)))
  }

  private async readLoop (): Promise<void> {
    try {
      for (;;) {
        const f = await this.reader.next()
        if (f === undefined) {
          this.fail(new ProtocolError(`peer ${this.peer} closed the exchange stream`))
          return
        }
        const w = this.waiters.shift()
        if (w === undefined) {
          this.fail(new ProtocolError(`peer ${this.peer} sent an answer nobody asked for`))
          return
        }
        this.arm()
        if (f.kind === RES_ERROR) w.reject(new ProtocolError(`peer ${this.peer}: ${f.payload.toString('utf8').slice(0, 200)}`))
        else w.resolve(f)
      }
    } catch (err) {
      this.fail(err)
    }
  }

  async request (kind: number, payload: Uint8Array): Promise<Frame> {
    if (this.failure !== undefined) throw this.failure
    const answer = new Promise<Frame>((resolve, reject) => { this.waiters.push({ resolve, reject }) })
    if (this.waiters.length === 1) this.arm()
    try {
      await sendFrame(this.stream, kind, payload)
    } catch (err) {
      this.fail(err)
    }
    return await answer
  }

  async object (hash: string): Promise<ObjectMessage | undefined> {
    const f = await this.request(REQ_OBJECT, json({ hash }))
    if (f.kind === RES_NOT_FOUND) return undefined
    if (f.kind !== RES_OBJECT) throw new ProtocolError(`peer ${this.peer}: OBJECT answered with kind ${f.kind}`)
    return parseJson<ObjectMessage>(f.payload, 'OBJECT answer')
  }

  /** A page of chunk hashes; fewer than asked means the list ended. */
  async chunks (hash: string, from: number, count: number): Promise<string[] | undefined> {
    const f = await this.request(REQ_CHUNKS, json({ hash, from, count }))
    if (f.kind === RES_NOT_FOUND) return undefined
    if (f.kind !== RES_CHUNKS || f.payload.byteLength % 32 !== 0 || f.payload.byteLength / 32 > count) {
      throw new ProtocolError(`peer ${this.peer}: bad CHUNKS answer`)
    }
    const out: string[] = []
    for (let off = 0; off < f.payload.byteLength; off += 32) out.push(f.payload.toString('hex', off, off + 32))
    return out
  }

  /**
   * A chunk's bytes (unverified: the caller checks them), or undefined when
   * the peer lacks it. The bytes are the only user of their ArrayBuffer, so
   * they may be moved to a worker thread; with a pool, that memory may be
   * given back to it once the caller is done with the chunk.
   */
  async block (hash: string): Promise<Buffer | undefined> {
    const f = await this.request(REQ_BLOCK, Buffer.from(hash, 'hex'))
    if (f.kind === RES_NOT_FOUND) return undefined
    if (f.kind !== RES_BLOCK || f.payload.byteLength < 32 || f.payload.toString('hex', 0, 32) !== hash) {
      throw new ProtocolError(`peer ${this.peer}: BLOCK answer for a chunk not asked for`)
    }
    const bytes = f.payload.subarray(32)
    if (f.owned) return bytes
    // a small frame that came in one piece: a view of memory shared with other frames
    const own = Buffer.allocUnsafeSlow(bytes.byteLength)
    own.set(bytes)
    return own
  }

  async close (): Promise<void> {
    clearTimeout(this.timer)
    if (this.failure !== undefined) return
    this.failure = new ProtocolError('session closed')
    for (const w of this.waiters.splice(0)) w.reject(this.failure)
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }
}
