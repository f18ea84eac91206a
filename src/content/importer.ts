/**
 * Import files and directory trees from the local file system into the repo.
 * A tree is walked and checked first (missing or special files, symlink loops,
 * bad names), so bad input fails before anything is written. Symbolic links
 * are followed; a link that leads back into its own ancestry is an error.
 */
import { createReadStream } from 'node:fs'
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises'
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

/**
 * Check that a regular file can be opened and read (a read, not only
 * access(2): a file such as /proc/self/mem opens but fails its first read).
 */
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

/** File system calls of a tree walk in flight at once: a folder of 100k files is checked in parallel, not one stat at a time. */
const PLAN_CALLS_AT_ONCE = 32

async function plan (path: string, name: string, ancestors: Set<string>, calls: Slots): Promise<Plan> {
  const st = await calls.run(async () => await statFollow(path))
  if (st.isFile()) {
    await calls.run(async () => { await probeReadable(path) })
    return { kind: 'file', path, name, size: st.size, mtime: st.mtime }
  }
  if (!st.isDirectory()) throw new UnsupportedFileTypeError(`not a regular file or directory: ${path}`, { path })
  const real = await calls.run(async () => await realpath(path)).catch(err => { throw fsError(err, path) })
  if (ancestors.has(real)) throw new SymlinkLoopError(`symbolic link loop: ${path} leads back to ${real}`, { path })
  let raw: Buffer[]
  try {
    raw = await calls.run(async () => await readdir(path, { encoding: 'buffer' }))
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
  for (const child of names) validateName(child)
  const next = new Set(ancestors).add(real)
  // the children are checked at once (bounded by `calls`); the first problem in name order is the error
  const settled = await Promise.allSettled(names.map(async child => await plan(join(path, child), child, next, calls)))
  const failure = settled.find(r => r.status === 'rejected')
  if (failure !== undefined) throw failure.reason
  const children = settled.map(r => (r as PromiseFulfilledResult<Plan>).value)
  return { kind: 'dir', path, name, mtime: st.mtime, children }
}

/**
 * Walk and check `path` before anything is written: the same checks (and
 * errors) whether the tree is then imported in-process or uploaded to a daemon.
 */
export async function planPath (path: string): Promise<Plan> {
  const abs = resolve(path)
  return await plan(abs, basename(abs), new Set(), new Slots(PLAN_CALLS_AT_ONCE))
}

export function totalBytes (p: Plan): number {
  return p.kind === 'file' ? p.size : p.children.reduce((s, c) => s + totalBytes(c), 0)
}

export function totalFiles (p: Plan): number {
  return p.kind === 'file' ? 1 : p.children.reduce((s, c) => s + totalFiles(c), 0)
}

/** Files of a tree read, hashed and written at a time (the rest of the tree waits its turn). */
const FILES_AT_ONCE = 8

/** Import a file or directory at `path`. Resolves once durable. */
export async function importPath (repo: Repo, path: string, options: OperationOptions & { added?: boolean } = {}): Promise<ImportResult> {
  const root = await planPath(path)
  const total = totalBytes(root)
  const guard = repo.guard()
  const ctx: ImportContext = { repo, guard, total, filesTotal: totalFiles(root), options, files: 0, directories: 0, done: 0, slots: new Slots(FILES_AT_ONCE) }
  try {
    // everything below the root rides with later group commits; the root's own commit makes it all durable
    const record = await importPlan(ctx, root, options.added ?? true, false)
    return { record, files: ctx.files, directories: ctx.directories }
  } finally {
    guard.release()
  }
}

interface ImportContext {
  repo: Repo
  guard: Guard
  total: number
  filesTotal: number
  options: OperationOptions
  files: number
  directories: number
  /** Bytes of all files read so far (for progress). */
  done: number
  slots: Slots
}

/**
 * A counting semaphore: at most `free` holders at once. (Not @libp2p/utils'
 * Queue: its per-job events and signals made `openhash add` of 10,000 small
 * files 10-15% slower, measured side by side.)
 */
class Slots {
  private readonly waiting: Array<() => void> = []
  constructor (private free: number) {}
  async run<T> (fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--
    else await new Promise<void>(resolve => this.waiting.push(resolve))
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next !== undefined) next()
      else this.free++
    }
  }
}

/** Files up to this size are read whole, in one buffer of their size (not through a stream's 1 MiB buffers). */
const READ_WHOLE_BYTES = 1024 * 1024

/** A planned file's bytes: a small one read whole, a larger one streamed. */
async function * readSource (p: Plan & { kind: 'file' }): AsyncGenerator<Buffer> {
  try {
    if (p.size <= READ_WHOLE_BYTES) {
      yield await readFile(p.path)
      return
    }
    for await (const piece of createReadStream(p.path, { highWaterMark: 1024 * 1024 })) yield piece as Buffer
  } catch (err) {
    throw fsError(err, p.path)
  }
}

async function importFilePlan (ctx: ImportContext, p: Plan & { kind: 'file' }, added: boolean, deferred: boolean): Promise<ObjectRecord> {
  return await ctx.slots.run(async () => {
    const source = readSource(p)
    let seen = 0
    const rec = await ctx.repo.importFile(source, { filename: p.name, mod_time: p.mtime.toISOString() }, {
      added,
      guard: ctx.guard,
      signal: ctx.options.signal,
      total: ctx.total,
      deferred,
      onProgress: evt => {
        ctx.done += (evt.bytes ?? 0) - seen
        seen = evt.bytes ?? 0
        ctx.options.onProgress?.({ ...evt, bytes: ctx.done, total: ctx.total, files: ctx.files, files_total: ctx.filesTotal })
      }
    })
    ctx.done += rec.size - seen
    ctx.files++
    ctx.options.onProgress?.({ type: 'add:file', bytes: ctx.done, total: ctx.total, files: ctx.files, files_total: ctx.filesTotal })
    return rec
  })
}

async function importPlan (ctx: ImportContext, p: Plan, added: boolean, deferred: boolean): Promise<ObjectRecord> {
  if (p.kind === 'file') return await importFilePlan(ctx, p, added, deferred)
  // children in a sliding window (their order kept for the entries); files also wait for a slot
  const records: Array<Promise<ObjectRecord>> = []
  const inFlight = new Set<Promise<ObjectRecord>>()
  let failed = false
  for (const child of p.children) {
    if (inFlight.size >= FILES_AT_ONCE) await Promise.race(inFlight).catch(() => { failed = true })
    if (failed) break
    const r = importPlan(ctx, child, false, true)
    inFlight.add(r)
    void r.finally(() => inFlight.delete(r)).catch(() => {})
    records.push(r)
  }
  // nothing may still run when this returns or throws (the caller then releases the guard)
  const settled = await Promise.allSettled(records)
  const failure = settled.find(r => r.status === 'rejected')
  if (failure !== undefined) throw failure.reason
  const done = settled.map(r => (r as PromiseFulfilledResult<ObjectRecord>).value)
  const entries: DirEntry[] = done.map((rec, i) => ({ name: p.children[i].name, type: rec.is_directory ? 'dir' : 'file', hash: rec.hash, size: rec.size }))
  ctx.directories++
  return await ctx.repo.commitDirectory(entries, { filename: p.name, mod_time: p.mtime.toISOString() }, { added, guard: ctx.guard, deferred })
}
