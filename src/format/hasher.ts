/**
 * SHA-256 of a file's chunks and of the whole file, computed on a worker
 * thread so the main thread only moves bytes (sockets, parsing, writes).
 *
 * Each `chunk(bytes)` returns that chunk's hash and also feeds the running
 * whole-file hash; `digest()` ends the file. One worker serves every file in
 * the process (requests are answered in the order they are sent). A chunk's
 * memory is moved to the worker and back (an ArrayBuffer transfer, no copy):
 * the caller hands over `bytes` and continues with the view `chunk()`
 * returns. (SharedArrayBuffer memory would avoid the hand-over, but V8
 * copies into shared memory with a relaxed-atomic loop that runs ~5x slower
 * than memcpy when source and target are not word-aligned, as busboy's
 * pieces are: it cost more main-thread time than the hashing saved.)
 *
 * Why not WebCrypto's digest on the thread pool: it copies every chunk on the
 * main thread first, and it cannot keep a running whole-file hash, which
 * then costs the main thread a full pass over the data as well.
 */
import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { hashWorkerMain, type WorkerReply, type WorkerRequest } from './hash-worker.js'

/** The worker's program: hashWorkerMain's own source, called with the worker's port and createHash. */
const WORKER_SOURCE = `(${hashWorkerMain.toString()})(require('node:worker_threads').parentPort, require('node:crypto').createHash)`

type Reply = Omit<WorkerReply, 'error'>
interface Pending { resolve: (reply: Reply) => void, reject: (err: unknown) => void }

let worker: Worker | undefined
/** Replies owed by the worker, oldest first. */
let pending: Pending[] = []

function fail (w: Worker, err: unknown): void {
  if (worker !== w) return
  worker = undefined
  const owed = pending
  pending = []
  for (const p of owed) p.reject(err)
  void w.terminate().catch(() => {})
}

function getWorker (): Worker {
  if (worker !== undefined) return worker
  const w = new Worker(WORKER_SOURCE, { eval: true, name: 'openhash-hasher' })
  w.unref() // referenced only while replies are owed (see request)
  w.on('message', (m: WorkerReply) => {
    const p = pending.shift()
    if (pending.length === 0) w.unref()
    if (p === undefined) return
    if (m.error !== undefined) p.reject(new Error(`hash worker: ${m.error}`))
    else p.resolve(m)
  })
  w.on('error', err => fail(w, err))
  w.on('exit', code => fail(w, new Error(`hash worker exited (code ${code})`)))
  worker = w
  return w
}

function request (message: Exclude<WorkerRequest, { op: 'drop' }>): Promise<Reply> {
  const w = getWorker()
  return new Promise<Reply>((resolve, reject) => {
    pending.push({ resolve, reject })
    if (pending.length === 1) w.ref() // keep the process alive until the answer arrives
    w.postMessage(message, 'bytes' in message ? [message.bytes.buffer as ArrayBuffer] : [])
  })
}

let nextId = 0

/** The largest chunk FileHasher hashes on the calling thread (a file of one chunk of at most this many bytes). */
export const INLINE_HASH_BYTES = 64 * 1024

/**
 * One chunk's SHA-256 (lowercase hex) on the hash worker, with no copy: for
 * memory the caller owns outright (it is moved to the worker and comes back
 * as the returned `bytes`, same offset and length). WebCrypto would copy it
 * first, on the main thread, into fresh memory (page faults included).
 */
export async function hashOwned (bytes: Uint8Array): Promise<{ hash: string, bytes: Buffer }> {
  const reply = await request({ op: 'hash', id: 0, bytes })
  const back = reply.bytes!
  return { hash: reply.hex, bytes: Buffer.from(back.buffer, back.byteOffset, back.byteLength) }
}

/** What Repo.importFile asks of a file's hashing: each chunk's hash in stream order, then the whole file's. */
export interface ChunkHasher {
  /** The chunk's SHA-256 (lowercase hex) and its bytes (possibly a new view of the same memory); continue with those. */
  chunk: (bytes: Buffer) => Promise<{ hash: string, bytes: Buffer }>
  /** The whole file's SHA-256 over every chunk passed so far, in order. */
  digest: () => Promise<string>
  /** Forget an unfinished file (after a failure). */
  dispose: () => void
}

/** One file's whole-file hash on the worker: its id there, digest and dispose. */
abstract class WorkerFile {
  protected readonly id = ++nextId
  protected done = false

  /** The whole file's SHA-256 (lowercase hex) over every chunk taken so far, in order. */
  async digest (): Promise<string> {
    this.done = true
    return (await request({ op: 'digest', id: this.id })).hex
  }

  /** Forget an unfinished file (after a failure); no-op once digested. */
  dispose (): void {
    if (this.done) return
    this.done = true
    const drop: WorkerRequest = { op: 'drop', id: this.id }
    worker?.postMessage(drop)
  }
}

export class FileHasher extends WorkerFile implements ChunkHasher {
  private chunks = 0
  /** The hash of a file of one small chunk, hashed here (its whole-file hash is the same). */
  private inline: string | undefined

  /**
   * With `chunkSize` (the chunker's), a first chunk shorter than that is the
   * file's only one: up to INLINE_HASH_BYTES it is hashed on this thread,
   * once, for both hashes (a worker round trip costs more than hashing a few
   * KiB: it is most of a small file's add).
   */
  constructor (private readonly chunkSize?: number) { super() }

  /**
   * The chunk's SHA-256 (lowercase hex); its bytes also go into the whole-file
   * hash. `bytes` must be the only user of its whole ArrayBuffer (e.g. from
   * ChunkPool): the buffer is detached here and comes back as the returned
   * `bytes` (same memory, same offset and length). If the worker fails, the
   * memory is lost with it.
   */
  async chunk (bytes: Buffer): Promise<{ hash: string, bytes: Buffer }> {
    if (this.chunks++ === 0 && this.chunkSize !== undefined && bytes.byteLength < this.chunkSize && bytes.byteLength <= INLINE_HASH_BYTES) {
      this.inline = createHash('sha256').update(bytes).digest('hex')
      return { hash: this.inline, bytes }
    }
    if (this.inline !== undefined) throw new Error('a chunk after the short last one')
    const reply = await request({ op: 'chunk', id: this.id, bytes })
    const back = reply.bytes!
    return { hash: reply.hex, bytes: Buffer.from(back.buffer, back.byteOffset, back.byteLength) }
  }

  override async digest (): Promise<string> {
    if (this.inline === undefined) return await super.digest()
    this.done = true
    return this.inline
  }

  override dispose (): void {
    if (this.inline !== undefined) this.done = true // the worker never saw this file
    super.dispose()
  }
}

/** The outcome of FileVerifier.check. */
export interface CheckResult {
  /** The chunk is intact and the next in order: it is now part of the whole-file hash. */
  fed: boolean
  /** The chunk was the next in order but does not hash to what was expected. */
  corrupt: boolean
  /** The chunk's memory, handed back (same bytes, same offset and length). */
  bytes: Buffer
}

/**
 * Checks chunks received from peers against their known SHA-256 and, in the
 * same pass on the hash worker, feeds the whole-file hash: every byte is read
 * once for its chunk hash and once for the file hash, never on the main
 * thread. Chunks must be checked in index order; the whole-file hash takes a
 * chunk only if it is the next one (index) and intact, so a corrupt chunk (or
 * one sent after a corrupt one, which comes back neither fed nor corrupt) is
 * simply checked again, once its replacement is fed.
 */
export class FileVerifier extends WorkerFile {
  /**
   * Check chunk `index` against `expect` (lowercase hex). `bytes` must be the
   * only user of its whole ArrayBuffer: the buffer is moved to the worker and
   * comes back as the result's `bytes`.
   */
  async check (index: number, bytes: Uint8Array, expect: string): Promise<CheckResult> {
    if (this.done) throw new Error('chunk check after the file was digested or dropped')
    const reply = await request({ op: 'check', id: this.id, bytes, index, expect })
    const back = reply.bytes!
    const fed = reply.fed === true
    return { fed, corrupt: !fed && reply.hex !== '', bytes: Buffer.from(back.buffer, back.byteOffset, back.byteLength) }
  }
}
