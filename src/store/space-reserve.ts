/**
 * The space reserve: a file of `bytes` zeros at <data dir>/reserve that
 * holds back room LevelDB needs to open, recover and write deletes on a full
 * disk.
 *
 * - At open, a reserve on a disk with less than `bytes` free is deleted
 *   first (so LevelDB can open and replay its log); a missing one is created
 *   when there is room for it twice over.
 * - When a write meets a full disk (`noteFull`), the reserve is deleted:
 *   `rm`, `unpin` and `gc` can write their small batches.
 * - While it is released, every chunk write first checks the free space
 *   (`checkRoom`): a write that would leave less than `bytes` free fails with
 *   the disk-full error before it starts, so uploads never eat the room the
 *   metadata needs. Once there is room for the reserve twice over again
 *   (after gc, or space freed outside openhash), it is recreated.
 */
import { open, rename, statfs, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { diskFullError } from '../disk-full.js'

const PIECE = 1024 * 1024

export class SpaceReserve {
  readonly path: string
  /** Whether the reserve file is absent (released, or never made). */
  released = true
  private restoring?: Promise<void>

  constructor (private readonly dir: string, readonly bytes: number, private readonly log: (line: string) => void = () => {}) {
    this.path = join(dir, 'reserve')
  }

  /** Free bytes on the file system holding the data directory. */
  async free (): Promise<number> {
    const s = await statfs(this.dir)
    return Number(s.bavail) * Number(s.bsize)
  }

  async open (): Promise<void> {
    if (this.bytes === 0) { await unlink(this.path).catch(() => {}); return }
    const exists = await open(this.path, 'r').then(async fh => { await fh.close(); return true }, () => false)
    this.released = !exists
    if (exists && await this.free() < this.bytes) await this.release('the disk is almost full at start')
    else if (!exists) await this.restore()
  }

  /** A write met a full disk: give the reserve's room to the metadata. */
  noteFull (): void {
    if (this.bytes === 0 || this.released) return
    this.release('a write met a full disk').catch((err) => this.log(`space reserve: could not delete ${this.path}: ${String(err?.message ?? err)}`))
  }

  private async release (why: string): Promise<void> {
    this.released = true
    await unlink(this.path).catch((err) => { if (err?.code !== 'ENOENT') throw err })
    this.log(`space reserve: released ${this.bytes} bytes (${why}); chunk writes now keep that much free`)
  }

  /**
   * Before writing `bytes` of chunk data: with the reserve released, fail
   * with the disk-full error unless the write leaves the reserve's size free.
   */
  async checkRoom (bytes: number): Promise<void> {
    if (this.bytes === 0 || !this.released) return
    const free = await this.free()
    if (free >= 2 * this.bytes + bytes) { await this.restore(); return }
    if (free < this.bytes + bytes) {
      throw diskFullError(Object.assign(new Error('no space left on device (space reserve)'), { code: 'ENOSPC' }), this.dir)
    }
  }

  /** Recreate the reserve when there is room for it twice over. Never throws. */
  async restore (): Promise<void> {
    if (this.bytes === 0 || !this.released) return
    this.restoring ??= this.create().finally(() => { this.restoring = undefined })
    await this.restoring
  }

  private async create (): Promise<void> {
    const tmp = this.path + '.tmp'
    try {
      if (await this.free() < 2 * this.bytes) return
      const fh = await open(tmp, 'w')
      try {
        const zeros = Buffer.alloc(Math.min(PIECE, this.bytes))
        for (let pos = 0; pos < this.bytes;) {
          const n = Math.min(zeros.length, this.bytes - pos)
          const { bytesWritten } = await fh.write(zeros, 0, n, pos)
          if (bytesWritten !== n) throw Object.assign(new Error('short write'), { code: 'ENOSPC' })
          pos += n
        }
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.path)
      this.released = false
    } catch (err: any) {
      await unlink(tmp).catch(() => {})
      this.log(`space reserve: could not create ${this.path}: ${String(err?.message ?? err)}`)
    }
  }
}
