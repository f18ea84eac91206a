/**
 * Import a directory tree that arrives as a stream of parts (an HTTP folder
 * upload): files with relative paths such as `docs/a/b.txt`, and directories
 * (needed for empty ones). Files are imported as they come; the directory
 * objects are committed bottom-up once the stream ends. Nothing is a GC root
 * until the root directory is committed, so an upload that fails or is
 * abandoned half-way leaves only unreferenced objects for the next gc.
 */
import type { Guard, ObjectRecord, Repo } from '../store/repo.js'
import type { OperationOptions } from '../interface.js'
import type { DirEntry } from '../format/directory.js'
import { validateName } from '../format/directory.js'
import { InvalidArgumentError, throwIfAborted } from '../errors.js'

export type TreePart =
  | { kind: 'file', path: string, source: AsyncIterable<Uint8Array>, mod_time?: string }
  | { kind: 'dir', path: string, mod_time?: string }

export interface TreeMeta { name: string, mod_time?: string }

export interface TreeResult { record: ObjectRecord, files: number, directories: number }

interface DirNode { kind: 'dir', children: Map<string, DirNode | FileNode>, mod_time?: string }
interface FileNode { kind: 'file', record: ObjectRecord }

/**
 * Split a relative upload path into validated names. Empty segments and "."
 * are dropped (so "./a//b" is "a/b"); ".." and names with NUL are refused.
 */
export function splitRelativePath (path: string): string[] {
  const names = path.split('/').filter(s => s !== '' && s !== '.')
  if (names.length === 0) throw new InvalidArgumentError(`invalid relative path: ${JSON.stringify(path)}`, { path })
  for (const name of names) {
    if (name === '..') throw new InvalidArgumentError(`relative path may not contain "..": ${JSON.stringify(path)}`, { path })
    validateName(name)
  }
  return names
}

function emptyDir (modTime?: string): DirNode {
  return { kind: 'dir', children: new Map(), mod_time: modTime }
}

/** The directory node for `names`, creating missing ones; a file in the way is an error. */
function ensureDir (root: DirNode, names: string[], path: string): DirNode {
  let dir = root
  for (const name of names) {
    let next = dir.children.get(name)
    if (next === undefined) {
      next = emptyDir()
      dir.children.set(name, next)
    }
    if (next.kind !== 'dir') throw new InvalidArgumentError(`path conflict: ${JSON.stringify(path)} needs ${JSON.stringify(name)} to be a directory, but it is a file`, { path })
    dir = next
  }
  return dir
}

export async function importTree (repo: Repo, parts: AsyncIterable<TreePart>, meta: TreeMeta, options: OperationOptions & { added?: boolean } = {}): Promise<TreeResult> {
  const guard = repo.guard()
  try {
    const root = emptyDir()
    let files = 0
    let bytes = 0
    for await (const part of parts) {
      throwIfAborted(options.signal)
      const names = splitRelativePath(part.path)
      if (part.kind === 'dir') {
        const dir = ensureDir(root, names, part.path)
        if (part.mod_time !== undefined) dir.mod_time = part.mod_time
        continue
      }
      const parent = ensureDir(root, names.slice(0, -1), part.path)
      const name = names[names.length - 1]
      if (parent.children.has(name)) throw new InvalidArgumentError(`duplicate path in upload: ${JSON.stringify(part.path)}`, { path: part.path })
      const base = bytes
      const record = await repo.importFile(part.source, { filename: name, mod_time: part.mod_time }, {
        added: false,
        guard,
        signal: options.signal,
        deferred: true, // durable with the folder's own commit below
        onProgress: evt => options.onProgress?.({ ...evt, bytes: base + (evt.bytes ?? 0) })
      })
      parent.children.set(name, { kind: 'file', record })
      files++
      bytes += record.size
    }
    // meta may be filled in while the parts stream (an HTTP form's fields)
    validateName(meta.name)
    root.mod_time = meta.mod_time
    const counts = { directories: 0 }
    const record = await commit(repo, root, meta.name, guard, options.added ?? true, counts)
    return { record, files, directories: counts.directories }
  } finally {
    guard.release()
  }
}

async function commit (repo: Repo, dir: DirNode, name: string, guard: Guard, added: boolean, counts: { directories: number }, deferred = false): Promise<ObjectRecord> {
  const entries: DirEntry[] = []
  for (const [childName, child] of dir.children) {
    const rec = child.kind === 'file' ? child.record : await commit(repo, child, childName, guard, false, counts, true)
    entries.push({ name: childName, type: rec.is_directory ? 'dir' : 'file', hash: rec.hash, size: rec.size })
  }
  counts.directories++
  return await repo.commitDirectory(entries, { filename: name, mod_time: dir.mod_time }, { added, guard, deferred })
}
