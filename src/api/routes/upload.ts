/**
 * Uploads: POST /upload/file and /upload/folder, parsed as multipart streams
 * (api/multipart.ts) and read ahead of the store (api/prefetch), so no body
 * is ever held in memory. The token may come as the `access_token` form
 * field, before the first file part (middleware/auth.ts).
 */
import { cidString } from '../../format/cid.js'
import { prefetch } from '../../content/prefetch.js'
import type { TreeMeta, TreePart } from '../../content/tree.js'
import { InvalidArgumentError, PayloadTooLargeError, UnavailableError } from '../../errors.js'
import { acceptFormToken, requireUploadAuth } from '../middleware/auth.js'
import type { Part } from '../multipart.js'
import { parseMultipart } from '../multipart.js'
import type { C } from '../route.js'
import { Routes, signalOf } from '../route.js'

/** Upload bytes read ahead of the store, so the socket keeps flowing while chunks are hashed and written. */
const PREFETCH_BYTES = 16 * 1024 * 1024
/**
 * The read-ahead is copied into reusable 1 MiB buffers (see PrefetchOptions):
 * holding the socket's own small pieces made V8 run a major GC every few
 * dozen MiB. The store's chunker copies each piece before asking for the
 * next, as reuse requires.
 */
const PREFETCH = { reuse: 1024 * 1024 }

const DATE_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/

/** A modification time from a form field: an RFC 3339 / ISO 8601 date(-time), kept as sent. */
function modTime (field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (!DATE_RE.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`${field} must be an RFC 3339 date-time such as 2025-07-28T11:24:31Z, got "${value.slice(0, 100)}"`, { field })
  }
  return value
}

/** Last path segment of an uploaded file's name (browsers and curl may send paths). */
function baseName (name: string): string {
  const parts = name.split(/[/\\]/).filter(s => s !== '')
  return parts.length === 0 ? '' : parts[parts.length - 1]
}

/** Refuse an upload early: the daemon is shutting down, or the declared length is already too large. */
function uploadGuard (c: C): void {
  const options = c.var.deps.options
  if (options.isShuttingDown?.() === true) throw new UnavailableError('the daemon is shutting down')
  const length = Number(c.req.header('content-length') ?? NaN)
  // multipart framing adds a little; the exact cap is enforced while streaming
  if (Number.isFinite(length) && length > options.maxUploadBytes + 1024 * 1024) {
    throw new PayloadTooLargeError(`upload of ${length} bytes exceeds the maximum size of ${options.maxUploadBytes} bytes`, { max_bytes: options.maxUploadBytes, content_length: length })
  }
}

function partsOf (c: C): AsyncGenerator<Part> {
  return parseMultipart(c.env.incoming, { maxBytes: c.var.deps.options.maxUploadBytes, signal: signalOf(c) })
}

/** The folder upload's parts as tree parts; form fields set `meta` and the next part's path and time. */
async function * treeParts (c: C, parts: AsyncGenerator<Part>, meta: TreeMeta): AsyncGenerator<TreePart> {
  let path: string | undefined
  let modTimeField: string | undefined
  let items = 0
  for await (const part of parts) {
    if (part.kind === 'field') {
      switch (part.name) {
        case 'access_token': await acceptFormToken(c, c.var.deps.options.auth, part.value); break
        case 'name': meta.name = part.value; break
        case 'root_mod_time': meta.mod_time = modTime('root_mod_time', part.value); break
        case 'path': path = part.value; break
        case 'mod_time': modTimeField = modTime('mod_time', part.value); break
        case 'directory':
          items++
          yield { kind: 'dir', path: part.value, mod_time: modTimeField }
          modTimeField = undefined
          break
      }
      continue
    }
    requireUploadAuth(c)
    const rel = path ?? part.filename
    if (rel === '') throw new InvalidArgumentError(`file part "${part.name}" has no relative path: give it a filename such as "docs/a.txt" or a preceding "path" field`)
    items++
    yield { kind: 'file', path: rel, source: prefetch(part.body, PREFETCH_BYTES, PREFETCH), mod_time: modTimeField }
    path = undefined
    modTimeField = undefined
  }
  requireUploadAuth(c)
  // nothing at all is not a folder: most likely a client that sent the wrong form
  if (items === 0) throw new InvalidArgumentError('empty folder upload: send the files as multipart/form-data file parts (curl -F "file=@dir/a.txt;filename=dir/a.txt"), or "directory" fields for empty directories')
}

export const upload = new Routes()

upload.route({ method: 'POST', path: '/upload/file', scope: 'write', rate: 'upload', audit: { action: 'upload.file', target: { response: 'hash' } }, formToken: true }, async (c) => {
  uploadGuard(c)
  const { node, options } = c.var.deps
  const fields: Record<string, string> = {}
  for await (const part of partsOf(c)) {
    if (part.kind === 'field') {
      if (part.name === 'access_token') await acceptFormToken(c, options.auth, part.value)
      else fields[part.name] = part.value
      continue
    }
    requireUploadAuth(c)
    if (part.name !== 'file') continue // other file fields are drained and ignored
    const filename = fields.filename ?? (baseName(part.filename) || 'upload')
    const res = await node.addStream(prefetch(part.body, PREFETCH_BYTES, PREFETCH), { filename, mod_time: modTime('mod_time', fields.mod_time) }, { signal: signalOf(c) })
    return c.json({ hash: res.hash, cid: cidString(res.hash), size: res.size, filename: res.filename, message: 'File uploaded successfully', mime_type: res.mime_type, is_directory: false })
  }
  requireUploadAuth(c)
  throw new InvalidArgumentError('missing file: send the file as multipart/form-data field "file" (curl -F "file=@path")', { field: 'file' })
})

upload.route({ method: 'POST', path: '/upload/folder', scope: 'write', rate: 'upload', audit: { action: 'upload.folder', target: { response: 'hash' } }, formToken: true }, async (c) => {
  uploadGuard(c)
  const meta: TreeMeta = { name: 'folder' }
  const res = await c.var.deps.node.addTree(treeParts(c, partsOf(c), meta), meta, { signal: signalOf(c) })
  return c.json({ hash: res.hash, cid: cidString(res.hash), size: res.size, filename: res.filename, message: 'Folder uploaded successfully', mime_type: res.mime_type, is_directory: true, files: res.files, directories: res.directories })
})
