/**
 * The hash worker's program and its message protocol (see hasher.ts).
 *
 * `hashWorkerMain` runs inside the worker thread. It is started from its own
 * source text (`Function.prototype.toString`, an eval worker) rather than from
 * a file URL: under vitest the sources are TypeScript that a plain worker
 * thread cannot load on Node 20 (no type stripping, and no loader such as tsx
 * is installed), while from dist/ both would work. So the function must be
 * self-contained: it uses only its parameters and its own locals, never a
 * module-level name or import (types are erased and therefore fine).
 */
import type { MessagePort } from 'node:worker_threads'
import type { createHash as CreateHash } from 'node:crypto'

/** A request to the worker; `id` names a file's running whole-file hash. */
export type WorkerRequest =
  | { op: 'hash', id: number, bytes: Uint8Array }
  | { op: 'chunk', id: number, bytes: Uint8Array }
  | { op: 'check', id: number, bytes: Uint8Array, index: number, expect: string }
  | { op: 'digest', id: number }
  | { op: 'drop', id: number }

/** The worker's answer; one per request except `drop`, in request order. */
export interface WorkerReply {
  hex: string
  bytes?: Uint8Array
  fed?: boolean
  error?: string
}

/** The worker's body: answers WorkerRequests on `port`. Self-contained (see the file comment). */
export function hashWorkerMain (port: MessagePort, createHash: typeof CreateHash): void {
  // id -> the running whole-file hash and the index of the next chunk it takes (check only)
  const files = new Map<number, { hash: ReturnType<typeof CreateHash>, next: number }>()
  const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
  const reply = (m: WorkerReply): void => {
    port.postMessage(m, m.bytes !== undefined ? [m.bytes.buffer as ArrayBuffer] : [])
  }
  port.on('message', (m: WorkerRequest) => {
    try {
      if (m.op === 'drop') { files.delete(m.id); return }
      if (m.op === 'hash') { reply({ hex: sha256(m.bytes), bytes: m.bytes }); return }
      let file = files.get(m.id)
      if (file === undefined) files.set(m.id, file = { hash: createHash('sha256'), next: 0 })
      if (m.op === 'chunk') {
        file.hash.update(m.bytes)
        reply({ hex: sha256(m.bytes), bytes: m.bytes })
      } else if (m.op === 'check') {
        // the whole-file hash takes a chunk only if it is the next one and intact
        let hex = ''
        let fed = false
        if (m.index === file.next) {
          hex = sha256(m.bytes)
          if (hex === m.expect) { file.hash.update(m.bytes); file.next++; fed = true }
        }
        reply({ hex, fed, bytes: m.bytes })
      } else {
        files.delete(m.id)
        reply({ hex: file.hash.digest('hex') })
      }
    } catch (err) {
      reply({ hex: '', error: String((err as Error)?.message ?? err) })
    }
  })
}
