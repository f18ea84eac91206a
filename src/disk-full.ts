/**
 * Recognising a full disk. Node reports ENOSPC (EDQUOT past a user's disk
 * quota, EFBIG past the largest file) as `err.code`; LevelDB (classic-level)
 * reports `LEVEL_IO_ERROR` with the OS message in the text, sometimes as the
 * `cause` of `LEVEL_DATABASE_NOT_OPEN`. Every such error becomes one typed
 * error: INSUFFICIENT_STORAGE (HTTP 507) with a message that says the disk
 * is full, distinct from the storage.max_bytes quota's message.
 */
import { InsufficientStorageError, isOpenHashError } from './errors.js'
import type { OpenHashError } from './errors.js'

const CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG'])
const TEXT = /no space left on device|disk quota exceeded|file too large/i

/** Whether `err` (or an error it wraps) is a full disk, a disk quota or a file size limit. */
export function isDiskFull (err: unknown): boolean {
  for (let e: any = err, depth = 0; e != null && depth < 8; e = e.cause, depth++) {
    if (isOpenHashError(e) && e.details?.reason === 'disk_full') return true
    if (typeof e.code === 'string' && CODES.has(e.code)) return true
    if (typeof e.message === 'string' && TEXT.test(e.message) && (e.code === undefined || /^LEVEL_|^E[A-Z]+$/.test(e.code))) return true
  }
  return false
}

/** The typed disk-full error for `err` (already typed ones pass through). */
export function diskFullError (err: unknown, path?: string): OpenHashError {
  if (isOpenHashError(err) && err.details?.reason === 'disk_full') return err
  const code = osCode(err)
  return new InsufficientStorageError(
    `disk full: no space left on the file system${path === undefined ? '' : ` holding ${path}`} (${code}); nothing was stored. Free space: remove content (openhash rm / unpin) and run openhash gc, or free disk space outside openhash`,
    { reason: 'disk_full', errno: code, ...(path === undefined ? {} : { path }) },
    { cause: err })
}

/** `err` as the typed disk-full error when it is one, else unchanged. */
export function asDiskFull (err: unknown, path?: string): unknown {
  return isDiskFull(err) ? diskFullError(err, path) : err
}

function osCode (err: unknown): string {
  for (let e: any = err, depth = 0; e != null && depth < 8; e = e.cause, depth++) {
    if (typeof e.code === 'string' && CODES.has(e.code)) return e.code
    const m = typeof e.message === 'string' ? e.message.match(TEXT) : null
    if (m !== null) return /quota/i.test(m[0]) ? 'EDQUOT' : /large/i.test(m[0]) ? 'EFBIG' : 'ENOSPC'
  }
  return 'ENOSPC'
}
