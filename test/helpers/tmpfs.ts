/**
 * A small tmpfs for full-disk tests: mounted when the tests run as root (CI
 * does), otherwise undefined with the reason, which the caller prints and
 * skips on (the only allowed skip).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, open, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Tmpfs { path: string, unmount(): Promise<void> }

export async function mountTmpfs (sizeMiB: number): Promise<Tmpfs | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'full-disk tests need root to mount a tmpfs; skipped' }
  const path = await mkdtemp(join(tmpdir(), 'openhash-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}M`, 'tmpfs', path], { stdio: 'pipe' })
  } catch (err: any) {
    await rm(path, { recursive: true, force: true })
    return { skip: `cannot mount a tmpfs (${String(err?.stderr ?? err?.message ?? err).trim()}); skipped` }
  }
  return {
    path,
    async unmount () {
      try { execFileSync('umount', ['-l', path], { stdio: 'pipe' }) } catch {}
      await rm(path, { recursive: true, force: true })
    }
  }
}

/** Free bytes on the file system holding `path`. */
export async function freeBytes (path: string): Promise<number> {
  const s = await statfs(path)
  return Number(s.bavail) * Number(s.bsize)
}

/** Write a file of zeros at `path` that leaves about `leave` bytes free (in 4 KiB pages). */
export async function fillDisk (path: string, leave: number): Promise<void> {
  const fh = await open(path, 'a')
  try {
    const piece = Buffer.alloc(1024 * 1024)
    for (;;) {
      const free = await freeBytes(path)
      if (free <= leave) break
      const n = Math.min(piece.length, free - leave)
      const { bytesWritten } = await fh.write(piece, 0, n)
      if (bytesWritten < n) break
    }
  } finally {
    await fh.close()
  }
}
