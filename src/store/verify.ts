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
  kv: Pick<KvStore, 'get' | 'getMany' | 'iterate'>
  chunks: Pick<ChunkStore, 'entries' | 'get' | 'ownsReads'>
}

/** Files whose chunks are read and hashed concurrently. */
const FILES_AT_ONCE = 16
/** Object records whose manifest keys are read with one getMany. */
const BATCH = 256

/** What a batch read ahead for a file: its manifest state and, with one segment, that segment. */
interface Prefetched { state?: Uint8Array, seg?: Uint8Array }

const CORRUPT = 'chunk bytes do not match their hash'

class Verifier {
  /**
   * Chunk hash -> what is known of it, in the chunk store's listing order:
   * the listed size (>= 0) until hashed, then -(size + 1) once hashed and intact.
   * (One map, no record per chunk: at a million chunks it is most of what
   * verify holds.) Damaged chunks are in `damaged` too.
   */
  private readonly present = new Map<string, number>()
  /** Chunks found damaged or unreadable: hash -> the problem. */
  private readonly damaged = new Map<string, string>()
  /** Manifests of more than one segment (from the segment walk; few: files over SEGMENT_CHUNKS chunks). */
  private readonly multiSegment = new Set<string>()
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
    for (const [hash, state] of this.present) {
      if (state < 0 || this.damaged.has(hash)) continue
      throwIfAborted(signal)
      await this.checkChunk(hash, undefined)
    }
    const chunkProblems: VerifyProblem[] = []
    for (const hash of this.present.keys()) {
      const message = this.damaged.get(hash)
      if (message !== undefined) chunkProblems.push({ kind: 'chunk', hash, message })
    }
    for (const [h, n] of refs) {
      if ((expectedRefs.get(h) ?? 0) !== n) objectProblems.push({ kind: 'refcount', hash: h, message: `object refs is ${n}, directories hold ${expectedRefs.get(h) ?? 0}` })
      expectedRefs.delete(h)
    }
    // held by directories but not in refs: an object with refs 0, or none at all
    const held = [...expectedRefs.keys()]
    for (let i = 0; i < held.length; i += BATCH) {
      const some = held.slice(i, i + BATCH)
      const recs = await this.ctx.kv.getMany(some.map(h => K.object(h)))
      some.forEach((h, j) => {
        objectProblems.push(recs[j] === undefined
          ? { kind: 'object', hash: h, message: 'directory entry points to a missing object' }
          : { kind: 'refcount', hash: h, message: `object refs is 0, directories hold ${expectedRefs.get(h)!}` })
      })
    }
    const problems = [...chunkProblems, ...countProblems, ...objectProblems]
    return { ok: problems.length === 0, chunks_checked: this.present.size, objects_checked: objectsChecked, bytes_checked: this.bytesChecked, problems }
  }

  /**
   * Chunk reference counts against every manifest segment, and segments
   * without a manifest record (segments come sorted by manifest, so each
   * manifest is seen once and looked up BATCH at a time).
   */
  private async chunkCounts (): Promise<VerifyProblem[]> {
    const { kv } = this.ctx
    const problems: VerifyProblem[] = []
    const orphanSegments: VerifyProblem[] = []
    const expected = new Map<string, number>()
    let mids: string[] = []
    const lookUp = async (): Promise<void> => {
      const states = await kv.getMany(mids.map(mid => K.manifest(mid)))
      mids.forEach((mid, j) => { if (states[j] === undefined) orphanSegments.push({ kind: 'manifest', hash: mid, message: 'manifest segments without a manifest record' }) })
      mids = []
    }
    let last: string | undefined
    for await (const [k, v] of kv.iterate({ prefix: PREFIX.segment })) {
      const mid = segmentManifest(k)
      if (mid === last) this.multiSegment.add(mid)
      else {
        last = mid
        mids.push(mid)
        if (mids.length >= BATCH) await lookUp()
      }
      for (const h of segmentHashes(v)) bump(expected, h)
    }
    await lookUp()
    for await (const [k, v] of kv.iterate({ prefix: PREFIX.chunkRef })) {
      const h = keyName(PREFIX.chunkRef, k)
      const n = num(v)
      if (expected.get(h) !== n) problems.push({ kind: 'refcount', hash: h, message: `chunk refcount is ${n}, manifests hold ${expected.get(h) ?? 0}` })
      expected.delete(h)
    }
    for (const [h, n] of expected) problems.push({ kind: 'refcount', hash: h, message: `chunk refcount missing, manifests hold ${n}` })
    return [...problems, ...orphanSegments]
  }

  /**
   * Every object's content and, for directories, the references they hold.
   * Records come in key order, BATCH at a time: their manifest states and
   * (for one-segment files) their segment are read with one getMany each,
   * then FILES_AT_ONCE objects are checked at a time.
   */
  private async objects (problems: VerifyProblem[]): Promise<{ refs: Map<string, number>, expectedRefs: Map<string, number>, objectsChecked: number }> {
    const refs = new Map<string, number>()
    const expectedRefs = new Map<string, number>()
    let objectsChecked = 0
    let batch: ObjectRecord[] = []
    const flush = async (): Promise<void> => {
      const files = batch.filter(rec => !rec.is_directory && rec.manifest !== undefined)
      const states = await this.ctx.kv.getMany(files.map(rec => K.manifest(rec.manifest!)))
      const single = files.filter(rec => !this.multiSegment.has(rec.manifest!))
      const segs = await this.ctx.kv.getMany(single.map(rec => K.segment(rec.manifest!, 0)))
      const known = new Map<ObjectRecord, Prefetched>(files.map((rec, i) => [rec, { state: states[i] }]))
      single.forEach((rec, i) => { known.get(rec)!.seg = segs[i] })
      for (let i = 0; i < batch.length; i += FILES_AT_ONCE) {
        const found = await Promise.all(batch.slice(i, i + FILES_AT_ONCE).map(async rec => await this.object(rec, known.get(rec), expectedRefs)))
        for (const list of found) {
          problems.push(...list)
          objectsChecked++
          this.options.onProgress?.({ type: 'verify:objects', count: objectsChecked })
        }
      }
      batch = []
    }
    for await (const [, v] of this.ctx.kv.iterate({ prefix: PREFIX.object })) {
      throwIfAborted(this.options.signal)
      const rec = dec<ObjectRecord>(v)
      if (rec.refs > 0) refs.set(rec.hash, rec.refs) // objects no directory holds need no entry (see run)
      batch.push(rec)
      if (batch.length >= BATCH) await flush()
    }
    await flush()
    return { refs, expectedRefs, objectsChecked }
  }

  private async object (rec: ObjectRecord, known: Prefetched | undefined, expectedRefs: Map<string, number>): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = []
    try {
      if (rec.is_directory) await this.directory(rec, expectedRefs, problems)
      else await this.file(rec, known, problems)
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

  /** The chunk hashes of a file's manifest, segment by segment (the prefetched one when it has a single segment). */
  private async * chunksOf (rec: ObjectRecord, known: Prefetched | undefined): AsyncGenerator<string[]> {
    if (rec.manifest === undefined) return
    if (known?.seg !== undefined) {
      yield [...segmentHashes(known.seg)]
      return
    }
    for await (const [, v] of this.ctx.kv.iterate({ prefix: K.segments(rec.manifest) })) yield [...segmentHashes(v)]
  }

  private async file (rec: ObjectRecord, known: Prefetched | undefined, problems: VerifyProblem[]): Promise<void> {
    const single = rec.chunk_count === 1 ? await this.onlyChunk(rec, known) : undefined
    if (single === undefined) await this.hashFile(rec, known, problems)
    else if (!this.present.has(single)) problems.push({ kind: 'object', hash: rec.hash, message: `missing chunk ${single}` })
    else {
      // a file of one chunk: its hash is the chunk's, so the chunk's one hashing checks both
      const size = await this.checkChunk(single, undefined)
      if (size === undefined || this.damaged.has(single) || size !== rec.size || single !== rec.hash) problems.push({ kind: 'object', hash: rec.hash, message: 'content does not match its hash' })
    }
    // every file with a manifest had its state read ahead with its batch (objects())
    const ms = known?.state
    if (ms === undefined || dec<ManifestState>(ms).state !== 'live') problems.push({ kind: 'manifest', hash: rec.hash, message: 'object has no live manifest' })
  }

  /** The one chunk of a file whose manifest lists exactly one; undefined otherwise (then hashFile reports the mismatch). */
  private async onlyChunk (rec: ObjectRecord, known: Prefetched | undefined): Promise<string | undefined> {
    let only: string | undefined
    let n = 0
    for await (const list of this.chunksOf(rec, known)) {
      n += list.length
      if (n > 1) return undefined
      only = list[0] ?? only
    }
    return n === 1 ? only : undefined
  }

  /** A file of several chunks (or none): each chunk hashed through one FileHasher, which also gives the file's hash. */
  private async hashFile (rec: ObjectRecord, known: Prefetched | undefined, problems: VerifyProblem[]): Promise<void> {
    const hasher = new FileHasher()
    let size = 0
    let n = 0
    let intact = true
    try {
      for await (const list of this.chunksOf(rec, known)) {
        for (const ch of list) {
          n++
          if (!this.present.has(ch)) { problems.push({ kind: 'object', hash: rec.hash, message: `missing chunk ${ch}` }); intact = false; continue }
          const got = await this.checkChunk(ch, hasher)
          if (got === undefined) { intact = false; continue }
          size += got
        }
      }
      const digest = await hasher.digest()
      if (n !== rec.chunk_count) problems.push({ kind: 'object', hash: rec.hash, message: `manifest has ${n} chunks, record says ${rec.chunk_count}` })
      else if (!intact || size !== rec.size || digest !== rec.hash) problems.push({ kind: 'object', hash: rec.hash, message: 'content does not match its hash' })
    } finally {
      hasher.dispose()
    }
  }

  /**
   * Read chunk `h` and hash it: through `file` (which also feeds that file's
   * hash; the chunk's first check is recorded) or alone (skipped when it was
   * hashed already). Returns the bytes' length, or undefined when the chunk
   * cannot be read (then the file's hash cannot be computed either).
   */
  private async checkChunk (h: string, file: FileHasher | undefined): Promise<number | undefined> {
    const state = this.present.get(h)
    if (file === undefined && state !== undefined && state < 0) return -state - 1
    const first = state !== undefined && state >= 0 && !this.damaged.has(h)
    let bytes: Uint8Array
    try {
      bytes = await this.ctx.chunks.get(h)
    } catch (err: any) {
      if (first) this.damaged.set(h, `chunk unreadable: ${err?.message ?? String(err)}`)
      return undefined
    }
    const size = bytes.byteLength
    // the hash worker takes the memory over: hand it memory of its own
    const owned = this.ctx.chunks.ownsReads === true ? bytes : new Uint8Array(bytes)
    const actual = file === undefined ? (await hashOwned(owned)).hash : (await file.chunk(Buffer.from(owned.buffer, owned.byteOffset, owned.byteLength))).hash
    if (first && this.present.get(h) === state) {
      if (actual === h && size === state) this.present.set(h, -size - 1)
      else this.damaged.set(h, CORRUPT)
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
