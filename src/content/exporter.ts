/**
 * Write a stored file or directory tree to the local file system through the
 * `OpenHashNode` interface (so it works in-process and against a daemon).
 * Output goes to a temporary sibling first and is renamed into place at the
 * end, so an interrupted export never leaves a half-written target.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat, utimes } from 'node:fs/promises'
import { dirname, join, resolve, basename } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import type { OpenHashNode, OperationOptions } from '../interface.js'
import { validateName } from '../format/directory.js'
import { InvalidArgumentError } from '../errors.js'

export interface ExportResult { path: string, files: number, directories: number, bytes: number }

export async function exportTo (node: OpenHashNode, hash: string, target: string, options: OperationOptions & { force?: boolean } = {}): Promise<ExportResult> {
  const out = resolve(target)
  const exists = await stat(out).then(() => true, () => false)
  if (exists && options.force !== true) throw new InvalidArgumentError(`output path already exists: ${target} (use --force to replace it)`, { path: target })
  const info = await node.info(hash)
  const tmp = join(dirname(out), `.${basename(out)}.openhash-${randomBytes(4).toString('hex')}.partial`)
  const result: ExportResult = { path: out, files: 0, directories: 0, bytes: 0 }
  const total = info.size
  try {
    await write(node, hash, info.is_directory, info.mod_time, tmp, result, total, options)
    if (exists) await rm(out, { recursive: true, force: true })
    await rename(tmp, out)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {})
    throw err
  }
  return result
}

async function write (node: OpenHashNode, hash: string, isDir: boolean, modTime: string, path: string,
  result: ExportResult, total: number, options: OperationOptions): Promise<void> {
  if (isDir) {
    await mkdir(path)
    result.directories++
    for (const e of await node.entries(hash)) {
      validateName(e.name)
      const child = join(path, e.name)
      const info = await node.info(e.hash)
      await write(node, e.hash, e.type === 'dir', info.mod_time, child, result, total, options)
    }
  } else {
    const source = node.read(hash, { signal: options.signal })
    const counting = async function * () {
      for await (const piece of source) {
        result.bytes += piece.byteLength
        options.onProgress?.({ type: 'get:bytes', bytes: result.bytes, total })
        yield piece
      }
    }
    await pipeline(Readable.from(counting()), createWriteStream(path, { flags: 'wx' }), { signal: options.signal })
    result.files++
  }
  const t = new Date(modTime)
  if (!Number.isNaN(t.getTime())) await utimes(path, t, t).catch(() => {})
}
