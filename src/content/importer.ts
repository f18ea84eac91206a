/**
 * Import files and directory trees from the local file system into the repo.
 * A tree is walked and checked first (missing or special files, symlink loops,
 * bad names), so bad input fails before anything is written. Symbolic links
 * are followed; a link that leads back into its own ancestry is an error.
 */
import { createReadStream } from 'node:fs'
import { open, readdir, realpath, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { Guard, ObjectRecord, Repo } from '../store/repo.js'
import type { OperationOptions } from '../interface.js'
import type { DirEntry } from '../format/directory.js'
import { validateName } from '../format/directory.js'
import {
  InvalidArgumentError, OpenHashError, SourceNotFoundError, SourceUnreadableError,
  SymlinkLoopError, UnsupportedFileTypeError
} from '../errors.js'

export type Plan =
  | { kind: 'file', path: string, name: string, size: number, mtime: Date }
  | { kind: 'dir', path: string, name: string, mtime: Date, children: Plan[] }

export interface ImportResult {
  record: ObjectRecord
  files: number
  directories: number
}

export function fsError (err: any, path: string): OpenHashError {
  if (err instanceof OpenHashError) return err
  switch (err?.code) {
    case 'ENOENT': return new SourceNotFoundError(`no such file or directory: ${path}`, { path })
    case 'ELOOP': return new SymlinkLoopError(`symbolic link loop: ${path}`, { path })
    case 'EACCES':
    case 'EPERM': return new SourceUnreadableError(`permission denied: ${path}`, { path })
    case 'ENAMETOOLONG': return new InvalidArgumentError(`path too long: ${path}`, { path })
    default: return new SourceUnreadableError(`cannot read ${path}: ${err?.message ?? String(err)}`, { path, errno: err?.code })
  }
}

async function statFollow (path: string): Promise<Stats> {
  try {
    return await stat(path)
  } catch (err) {
    throw fsError(err, path)
  }
}

/** Check that a regular file can be opened and read. */
async function probeReadable (path: string): Promise<void> {
  let fh
  try {
    fh = await open(path, 'r')
    await fh.read(Buffer.alloc(1), 0, 1, 0)
  } catch (err) {
    throw fsError(err, path)
  } finally {
    await fh?.close()
  }
}

async function plan (path: string, name: string, ancestors: Set<string>): Promise<Plan> {
  const st = await statFollow(path)
  if (st.isFile()) {
    await probeReadable(path)
    return { kind: 'file', path, name, size: st.size, mtime: st.mtime }
  }
  if (!st.isDirectory()) throw new UnsupportedFileTypeError(`not a regular file or directory: ${path}`, { path })
  const real = await realpath(path).catch(err => { throw fsError(err, path) })
  if (ancestors.has(real)) throw new SymlinkLoopError(`symbolic link loop: ${path} leads back to ${real}`, { path })
  let raw: Buffer[]
  try {
    raw = await readdir(path, { encoding: 'buffer' })
  } catch (err) {
    throw fsError(err, path)
  }
  const names = raw.map(b => {
    const name = b.toString('utf8')
    if (!Buffer.from(name, 'utf8').equals(b)) {
      throw new InvalidArgumentError(`file name is not valid UTF-8: ${JSON.stringify(join(path, name))}`, { path: join(path, name) })
    }
    return name
  }).sort()
  const next = new Set(ancestors).add(real)
  const children: Plan[] = []
  for (const child of names) {
    validateName(child)
    children.push(await plan(join(path, child), child, next))
  }
  return { kind: 'dir', path, name, mtime: st.mtime, children }
}

/**
 * Walk and check `path` before anything is written: the same checks (and
 * errors) whether the tree is then imported in-process or uploaded to a daemon.
 */
export async function planPath (path: string): Promise<Plan> {
  const abs = resolve(path)
  return await plan(abs, basename(abs), new Set())
}

export function totalBytes (p: Plan): number {
  return p.kind === 'file' ? p.size : p.children.reduce((s, c) => s + totalBytes(c), 0)
}

/** Import a file or directory at `path`. Resolves once durable. */
export async function importPath (repo: Repo, path: string, options: OperationOptions & { added?: boolean } = {}): Promise<ImportResult> {
  const root = await planPath(path)
  const total = totalBytes(root)
  const guard = repo.guard()
  const counts = { files: 0, directories: 0, done: 0 }
  try {
    const record = await importPlan(repo, root, guard, options.added ?? true, total, counts, options)
    return { record, files: counts.files, directories: counts.directories }
  } finally {
    guard.release()
  }
}

async function importPlan (repo: Repo, p: Plan, guard: Guard, added: boolean, total: number,
  counts: { files: number, directories: number, done: number }, options: OperationOptions): Promise<ObjectRecord> {
  if (p.kind === 'file') {
    const base = counts.done
    let stream
    try {
      stream = createReadStream(p.path, { highWaterMark: 1024 * 1024 })
    } catch (err) {
      throw fsError(err, p.path)
    }
    const source = (async function * () {
      try {
        for await (const piece of stream) yield piece as Buffer
      } catch (err) {
        throw fsError(err, p.path)
      }
    })()
    const rec = await repo.importFile(source, { filename: p.name, mod_time: p.mtime.toISOString() }, {
      added,
      guard,
      signal: options.signal,
      total,
      onProgress: evt => options.onProgress?.({ ...evt, bytes: base + (evt.bytes ?? 0), total })
    })
    counts.files++
    counts.done += rec.size
    return rec
  }
  const entries: DirEntry[] = []
  for (const child of p.children) {
    const rec = await importPlan(repo, child, guard, false, total, counts, options)
    entries.push({ name: child.name, type: rec.is_directory ? 'dir' : 'file', hash: rec.hash, size: rec.size })
  }
  counts.directories++
  return await repo.commitDirectory(entries, { filename: p.name, mod_time: p.mtime.toISOString() }, { added, guard })
}
