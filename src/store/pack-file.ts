/**
 * The pack files of the pack chunk store (chunks-pack.ts): the record
 * format, the file names, and PackWriter, which appends records to the
 * active pack.
 *
 * Record: [magic "OHC1" (4)][sha256 (32)][length u32 BE (4)][bytes].
 *
 * Write checks: an append whose write is short (libuv reports a full disk
 * mid-write as a short count, without an error) or fails is rolled back: the
 * pack is truncated to its last good end and the append throws (a full disk
 * as INSUFFICIENT_STORAGE, see disk-full.ts). With a space reserve
 * (space-reserve.ts), a full disk releases it and later appends keep its
 * size free.
 */
import { open, readdir, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { asDiskFull, isDiskFull } from '../disk-full.js'
import type { SpaceReserve } from './space-reserve.js'
import type { Location } from './pack-index.js'

const MAGIC = Buffer.from('OHC1')
/** Bytes of a record before its chunk bytes. */
export const HEADER = 40

export const packName = (id: number): string => `${String(id).padStart(8, '0')}.pack`

/** The ids of the pack files in `dir`, oldest first. */
export async function packIds (dir: string): Promise<number[]> {
  return (await readdir(dir))
    .filter(n => /^\d{8}\.pack$/.test(n))
    .map(n => Number.parseInt(n, 10))
    .sort((a, b) => a - b)
}

/** Whether `buf` (header and bytes, as read from `loc`) is the record of `hash`. */
export function isRecord (buf: Buffer, hash: string, loc: Location): boolean {
  return buf.subarray(0, 4).equals(MAGIC) && buf.subarray(4, 36).toString('hex') === hash && buf.readUInt32BE(36) === loc.length
}

interface PackWriterInit {
  maxPackBytes: number
  syncAheadBytes: number
  space?: SpaceReserve
}

/**
 * Appends records to the active pack and starts a new pack when it is full.
 * Not locked: the caller serialises appends and rotations (its writeLock).
 */
export class PackWriter {
  private active?: { id: number, fh: FileHandle, size: number, dirty: boolean }
  /** Handles of packs rotated away from (already synced); closed by closeRetired(). */
  private retired: FileHandle[] = []
  /** Bytes appended since the last background sync started, and whether one runs. */
  private unsyncedBytes = 0
  private syncingAhead = false

  constructor (private readonly dir: string, private readonly init: PackWriterInit) {}

  /** The active pack's id (undefined before open). */
  get id (): number | undefined { return this.active?.id }
  /** The active pack's size in bytes. */
  get size (): number { return this.active?.size ?? 0 }

  /** A failed write: a full disk releases the space reserve and becomes the typed disk-full error. */
  failed (err: unknown): unknown {
    if (isDiskFull(err)) this.init.space?.noteFull()
    return asDiskFull(err, this.dir)
  }

  /** Continue the last pack (`size` bytes) when it has room, else start the next one. */
  async open (last: number | undefined, size: number): Promise<void> {
    if (last !== undefined && size < this.init.maxPackBytes) {
      this.active = { id: last, fh: await open(join(this.dir, packName(last)), 'r+'), size, dirty: false }
      return
    }
    await this.rotate((last ?? 0) + 1)
  }

  async close (): Promise<void> {
    await this.closeRetired()
    await this.active?.fh.close()
    this.active = undefined
  }

  /** Close the handles of packs rotated away from (no sync may still be using them). */
  async closeRetired (): Promise<void> {
    for (const fh of this.retired.splice(0)) await fh.close().catch(() => {})
  }

  /** Start pack `id` (syncing the one before if dirty). */
  async rotate (id: number): Promise<void> {
    const old = this.active
    if (old !== undefined) {
      if (old.dirty) await old.fh.datasync()
      old.dirty = false
    }
    const path = join(this.dir, packName(id))
    const fh = await open(path, 'wx+')
    try {
      // make the new file's directory entry durable
      const dirFh = await open(this.dir, 'r')
      try { await dirFh.sync() } finally { await dirFh.close() }
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(path).catch(() => {})
      throw err
    }
    if (old !== undefined) this.retired.push(old.fh) // a running flush may still sync it
    this.active = { id, fh, size: 0, dirty: false }
  }

  /**
   * Append one record. `keepRoom`: with the space reserve released, refuse
   * unless the reserve's size stays free (compaction's copies skip it: they
   * free more than they take).
   */
  async append (hash: string, bytes: Uint8Array, keepRoom = true): Promise<Location> {
    if (this.active === undefined) throw new Error('pack store is not open')
    const recordBytes = HEADER + bytes.byteLength
    try {
      if (keepRoom) await this.init.space?.checkRoom(recordBytes)
      if (this.active.size >= this.init.maxPackBytes) await this.rotate(this.active.id + 1)
    } catch (err) {
      throw this.failed(err)
    }
    const w = this.active
    const header = Buffer.alloc(HEADER)
    MAGIC.copy(header, 0)
    header.write(hash, 4, 'hex')
    header.writeUInt32BE(bytes.byteLength, 36)
    const loc = { pack: w.id, offset: w.size, length: bytes.byteLength }
    w.dirty = true
    try {
      const { bytesWritten } = await w.fh.writev([header, bytes], loc.offset)
      if (bytesWritten !== recordBytes) {
        // libuv's answer to a disk that filled mid-write: a short count and no error
        throw Object.assign(new Error(`short write to ${packName(w.id)}: ${bytesWritten} of ${recordBytes} bytes (no space left on device)`), { code: 'ENOSPC' })
      }
    } catch (err) {
      // roll back: the next record goes where this one started; the cut bytes are cut off
      await w.fh.truncate(loc.offset).catch(() => {}) // if even that fails, the next append overwrites them
      throw this.failed(err)
    }
    w.size += recordBytes
    this.unsyncedBytes += recordBytes
    if (this.init.syncAheadBytes > 0 && this.unsyncedBytes >= this.init.syncAheadBytes && !this.syncingAhead) this.syncAhead(w.fh)
    return loc
  }

  /**
   * Write back what was appended so far, in the background (appends go on).
   * Only a head start for the next flush, which syncs again and reports
   * errors: a failure here is ignored. FileHandle.close() waits for it.
   */
  private syncAhead (fh: FileHandle): void {
    this.syncingAhead = true
    this.unsyncedBytes = 0
    fh.datasync().catch(() => {}).finally(() => { this.syncingAhead = false })
  }

  /** The active pack's handle if it holds unsynced appends (marked clean: the caller syncs it). */
  takeDirty (): FileHandle | undefined {
    const w = this.active
    if (w === undefined || !w.dirty) return undefined
    w.dirty = false
    return w.fh
  }

  /** The active pack must be synced again (a sync of it failed). */
  markDirty (): void {
    if (this.active !== undefined) this.active.dirty = true
  }

  /** fdatasync the active pack if it holds unsynced appends. */
  async sync (): Promise<void> {
    const w = this.active
    if (w?.dirty === true) {
      await w.fh.datasync()
      w.dirty = false
    }
  }
}
