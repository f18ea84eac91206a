/**
 * verify: re-hash every chunk and every object, and recompute every
 * reference count. Read-only: it reads keys and chunks and writes nothing
 * (no access times either, so it does not reorder eviction). It decodes
 * directories itself instead of going through the reader, which would touch
 * them.
 *
 * Hashing happens on the hash worker (format/hasher.ts), never on the main
 * thread, and each chunk is hashed once: a file's chunks go through one
 * FileHasher, which returns each chunk's hash and feeds the file's hash in
 * the same pass. Chunks that no file names are hashed on their own at the
 * end. Files are checked a few at a time (FILES_AT_ONCE) so that the worker
 * and the chunk reads overlap; problems are reported in a fixed order
 * (chunks, chunk counts, manifests, objects, object counts) whatever the
 * concurrency.
 */
import type { OperationOptions, VerifyProblem, VerifyResult } from '../interface.js'
import type { ChunkStore } from './chunk-store.js'
import type { KvStore } from './kv.js'
import { K, PREFIX, bump, dec, keyName, num, segmentHashes, segmentManifest } from './keys.js'
import type { ManifestState, ObjectRecord } from './records.js'
import { FileHasher, hashOwned } from '../format/hasher.js'
import { decodeDirectory } from '../format/directory.js'
import { sha256hexAsync } from '../format/hash.js'
import { throwIfAborted } from '../errors.js'

/** What verify reads. */
export interface VerifyContext {
  kv: Pick<KvStore, 'get' | 'iterate'>
  chunks: Pick<ChunkStore, 'entries' | 'get' | 'ownsReads'>
}

/** Files whose chunks are read and hashed concurrently. */
const FILES_AT_ONCE = 16

/** One chunk's outcome: its size as read, or why it failed (problem message). */
type ChunkCheck = { ok: true, size: number } | { ok: false, message: string, size?: number }

const CORRUPT = 'chunk bytes do not match their hash'

class Verifier {
  /** Chunk hash -> size listed by the chunk store, in its listing order. */
  private readonly present = new Map<string, number>()
  /** Chunks already hashed (each is hashed once). */
  private readonly checked = new Map<string, ChunkCheck>()
  private bytesChecked = 0
  private chunksHashed = 0

  constructor (private readonly ctx: VerifyContext, private readonly options: OperationOptions) {}

  async run (): Promise<VerifyResult> {
    const { signal } = this.options
    for await (const { hash, size } of this.ctx.chunks.entries()) {
      throwIfAborted(signal)
      this.present.set(hash, size)
    }
    const countProblems = await this.chunkCounts()
    const objectProblems: VerifyProblem[] = []
    const { refs, expectedRefs, objectsChecked } = await this.objects(objectProblems)
    // chunks no file names (orphans awaiting gc, or counted by a manifest without an object)
    for (const hash of this.present.keys()) {
      if (this.checked.has(hash)) continue
      throwIfAborted(signal)
      await this.checkChunk(hash, undefined)
    }
    const chunkProblems: VerifyProblem[] = []
    for (const hash of this.present.keys()) {
      const c = this.checked.get(hash)
      if (c !== undefined && !c.ok) chunkProblems.push({ kind: 'chunk', hash, message: c.message })
    }
    for (const [h, n] of refs) {
      if ((expectedRefs.get(h) ?? 0) !== n) objectProblems.push({ kind: 'refcount', hash: h, message: `object refs is ${n}, directories hold ${expectedRefs.get(h) ?? 0}` })
      expectedRefs.delete(h)
    }
    for (const h of expectedRefs.keys()) objectProblems.push({ kind: 'object', hash: h, message: 'directory entry points to a missing object' })
    const problems = [...chunkProblems, ...countProblems, ...objectProblems]
    return { ok: problems.length === 0, chunks_checked: this.present.size, objects_checked: objectsChecked, bytes_checked: this.bytesChecked, problems }
  }

  /** Chunk reference counts against every manifest segment, and segments without a manifest record. */
  private async chunkCounts (): Promise<VerifyProblem[]> {
    const { kv } = this.ctx
    const problems: VerifyProblem[] = []
    const expected = new Map<string, number>()
    const manifests = new Set<string>()
    for await (const [k, v] of kv.iterate({ prefix: PREFIX.segment })) {
      manifests.add(segmentManifest(k))
      for (const h of segmentHashes(v)) bump(expected, h)
    }
    for await (const [k, v] of kv.iterate({ prefix: PREFIX.chunkRef })) {
      const h = keyName(PREFIX.chunkRef, k)
      const n = num(v)
      if (expected.get(h) !== n) problems.push({ kind: 'refcount', hash: h, message: `chunk refcount is ${n}, manifests hold ${expected.get(h) ?? 0}` })
      expected.delete(h)
    }
    for (const [h, n] of expected) problems.push({ kind: 'refcount', hash: h, message: `chunk refcount missing, manifests hold ${n}` })
    for (const mid of manifests) {
      if (await kv.get(K.manifest(mid)) === undefined) problems.push({ kind: 'manifest', hash: mid, message: 'manifest segments without a manifest record' })
    }
    return problems
  }

  /** Every object's content and, for directories, the references they hold. */
  private async objects (problems: VerifyProblem[]): Promise<{ refs: Map<string, number>, expectedRefs: Map<string, number>, objectsChecked: number }> {
    const refs = new Map<string, number>()
    const expectedRefs = new Map<string, number>()
    let objectsChecked = 0
    let batch: ObjectRecord[] = []
    const flush = async (): Promise<void> => {
      const found = await Promise.all(batch.map(async rec => await this.object(rec, expectedRefs)))
      for (const list of found) {
        problems.push(...list)
        objectsChecked++
        this.options.onProgress?.({ type: 'verify:objects', count: objectsChecked })
      }
      batch = []
    }
    for await (const [, v] of this.ctx.kv.iterate({ prefix: PREFIX.object })) {
      throwIfAborted(this.options.signal)
      const rec = dec<ObjectRecord>(v)
      refs.set(rec.hash, rec.refs)
      batch.push(rec)
      if (batch.length >= FILES_AT_ONCE) await flush()
    }
    await flush()
    return { refs, expectedRefs, objectsChecked }
  }

  private async object (rec: ObjectRecord, expectedRefs: Map<string, number>): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = []
    try {
      if (rec.is_directory) await this.directory(rec, expectedRefs, problems)
      else await this.file(rec, problems)
    } catch (err: any) {
      problems.push({ kind: 'object', hash: rec.hash, message: err?.message ?? String(err) })
    }
    return problems
  }

  private async directory (rec: ObjectRecord, expectedRefs: Map<string, number>, problems: VerifyProblem[]): Promise<void> {
    const dv = await this.ctx.kv.get(K.dir(rec.hash))
    if (dv === undefined) {
      problems.push({ kind: 'object', hash: rec.hash, message: `directory ${rec.hash} has no entries record` })
      return
    }
    for (const e of decodeDirectory(dv)) bump(expectedRefs, e.hash)
    if (await sha256hexAsync(dv) !== rec.hash) problems.push({ kind: 'object', hash: rec.hash, message: 'directory encoding does not match its hash' })
  }

  private async file (rec: ObjectRecord, problems: VerifyProblem[]): Promise<void> {
    const { kv } = this.ctx
    const hasher = new FileHasher()
    let size = 0
    let n = 0
    let intact = true
    try {
      if (rec.manifest !== undefined) {
        for await (const [, v] of kv.iterate({ prefix: K.segments(rec.manifest) })) {
          for (const ch of segmentHashes(v)) {
            n++
            if (!this.present.has(ch)) { problems.push({ kind: 'object', hash: rec.hash, message: `missing chunk ${ch}` }); intact = false; continue }
            const got = await this.checkChunk(ch, hasher)
            if (got === undefined) { intact = false; continue }
            size += got
          }
        }
      }
      const digest = await hasher.digest()
      if (n !== rec.chunk_count) problems.push({ kind: 'object', hash: rec.hash, message: `manifest has ${n} chunks, record says ${rec.chunk_count}` })
      else if (!intact || size !== rec.size || digest !== rec.hash) problems.push({ kind: 'object', hash: rec.hash, message: 'content does not match its hash' })
    } finally {
      hasher.dispose()
    }
    const ms = rec.manifest === undefined ? undefined : await kv.get(K.manifest(rec.manifest))
    if (ms === undefined || dec<ManifestState>(ms).state !== 'live') problems.push({ kind: 'manifest', hash: rec.hash, message: 'object has no live manifest' })
  }

  /**
   * Read chunk `h` and hash it: through `file` (which also feeds that file's
   * hash; the chunk's first check is recorded) or alone. Returns the bytes'
   * length, or undefined when the chunk cannot be read (then the file's hash
   * cannot be computed either).
   */
  private async checkChunk (h: string, file: FileHasher | undefined): Promise<number | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await this.ctx.chunks.get(h)
    } catch (err: any) {
      if (!this.checked.has(h)) this.checked.set(h, { ok: false, message: `chunk unreadable: ${err?.message ?? String(err)}` })
      return undefined
    }
    const size = bytes.byteLength
    // the hash worker takes the memory over: hand it memory of its own
    const owned = this.ctx.chunks.ownsReads === true ? bytes : new Uint8Array(bytes)
    const actual = file === undefined ? (await hashOwned(owned)).hash : (await file.chunk(Buffer.from(owned.buffer, owned.byteOffset, owned.byteLength))).hash
    if (!this.checked.has(h)) {
      const listed = this.present.get(h)
      this.checked.set(h, actual === h && size === listed ? { ok: true, size } : { ok: false, message: CORRUPT, size })
      this.bytesChecked += size
      this.chunksHashed++
      if (this.chunksHashed % 64 === 0) this.options.onProgress?.({ type: 'verify:chunks', count: this.chunksHashed, bytes: this.bytesChecked })
    }
    return size
  }
}

/**
 * Re-hash every chunk and every object, and recompute every reference
 * count. Reports problems; changes nothing.
 */
export async function verify (ctx: VerifyContext, options: OperationOptions = {}): Promise<VerifyResult> {
  return await new Verifier(ctx, options).run()
}
