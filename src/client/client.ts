/**
 * The typed HTTP client: an `OpenHashNode` backed by a running daemon, so
 * the CLI (and any app) works the same in-process or over the API. Uploads
 * and downloads stream; errors are rebuilt from the error JSON's
 * `error_code` (never from message text); every call takes an AbortSignal,
 * and an idle timeout fails a request that makes no progress.
 */
import { createReadStream } from 'node:fs'
import { relative, sep } from 'node:path'
import type { Plan } from '../content/importer.js'
import { fsError, planPath, totalBytes } from '../content/importer.js'
import { parseHash } from '../format/hash.js'
import type { TreeMeta, TreePart } from '../content/tree.js'
import {
  AbortedError, ApiUnreachableError, BadResponseError, errorFromCode, InvalidArgumentError, isOpenHashError, OpenHashError
} from '../errors.js'
import type {
  AddResult, AuditEntry, AuditQuery, ContentInfo, CreateTokenInput, DirEntry, GcResult, HealthInfo, IssuedToken, NetworkInfo, NodeStats, OpenHashNode,
  OperationOptions, PinResult, PinStatus, ReadOptions, RmResult, TokenInfo, UnpinResult, VerifyResult
} from '../interface.js'
import { DEFAULT_PRIORITY } from '../interface.js'
import type { FormPart } from './multipart.js'
import { encodeMultipart, multipartLength, newBoundary } from './multipart.js'

export interface ClientOptions {
  /** Base URL of the daemon, e.g. http://127.0.0.1:8080 */
  url: string
  /** Fail a request after this long without progress (no response, no bytes either way). Default 30 s. */
  timeoutMs?: number
  /** API token, sent as `Authorization: Bearer <token>` on every request. */
  token?: string
}

/** Status → code, for error bodies without `error_code` (e.g. a proxy's page). */
const CODE_BY_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 409: 'NOT_ADDED', 413: 'PAYLOAD_TOO_LARGE', 416: 'RANGE_NOT_SATISFIABLE', 503: 'UNAVAILABLE' }

interface RequestOptions {
  query?: Record<string, string | number | undefined>
  headers?: Record<string, string>
  body?: AsyncIterable<Uint8Array>
  /** A JSON request body (small). */
  json?: unknown
  signal?: AbortSignal
  onSent?: (bytes: number) => void
  /** Long server-side work (gc, verify) that sends nothing until done: no idle timeout. */
  noTimeout?: boolean
}

/** Aborts a request when neither side has made progress for `ms`. */
class IdleTimer {
  readonly controller = new AbortController()
  private timer: NodeJS.Timeout | undefined
  fired = false
  constructor (private readonly ms: number, signal?: AbortSignal) {
    if (signal !== undefined) {
      if (signal.aborted) this.controller.abort(signal.reason)
      else signal.addEventListener('abort', () => this.controller.abort(signal.reason), { once: true })
    }
    this.touch()
  }

  touch (): void {
    clearTimeout(this.timer)
    if (this.ms <= 0) return
    this.timer = setTimeout(() => { this.fired = true; this.controller.abort(new Error('idle timeout')) }, this.ms)
    this.timer.unref()
  }

  clear (): void { clearTimeout(this.timer) }
}

function toStream (source: AsyncIterable<Uint8Array>, onPull: (n: number) => void): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const r = await it.next()
        if (r.done === true) { controller.close(); return }
        onPull(r.value.byteLength)
        controller.enqueue(r.value)
      } catch (err) {
        controller.error(err)
      }
    },
    async cancel () { await it.return?.() }
  }, { highWaterMark: 2 })
}

export class OpenHashClient implements OpenHashNode {
  readonly url: string
  private readonly timeoutMs: number
  private readonly token?: string

  constructor (options: ClientOptions | string) {
    const opts: ClientOptions = typeof options === 'string' ? { url: options } : options
    this.url = opts.url.replace(/\/+$/, '')
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.token = opts.token
    try {
      const u = new URL(this.url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http')
    } catch {
      throw new OpenHashError('INVALID_ARGUMENT', `invalid API URL: "${opts.url}" (expected e.g. http://127.0.0.1:8080)`)
    }
  }

  private failure (err: unknown, timer: IdleTimer, signal?: AbortSignal): OpenHashError {
    if (isOpenHashError(err)) return err
    const cause = (err as any)?.cause
    if (isOpenHashError(cause)) return cause
    if (timer.fired) return new ApiUnreachableError(`API connection failed: no progress from ${this.url} for ${this.timeoutMs} ms`, { url: this.url, timeout_ms: this.timeoutMs })
    if (signal?.aborted === true) return new AbortedError('operation aborted', undefined, { cause: signal.reason })
    const why = cause?.message ?? (err as any)?.message ?? String(err)
    return new ApiUnreachableError(`API connection failed: failed to connect to API at ${this.url}: ${String(why)}`, { url: this.url, errno: cause?.code })
  }

  /** One request; resolves with a 2xx response (body unread) or throws the typed error. */
  private async request (method: string, path: string, options: RequestOptions = {}): Promise<{ res: Response, timer: IdleTimer }> {
    const url = new URL(this.url + path)
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
    const timer = new IdleTimer(options.noTimeout === true ? 0 : this.timeoutMs, options.signal)
    let sent = 0
    try {
      const headers: Record<string, string> = { ...options.headers }
      if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`
      const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: timer.controller.signal }
      if (options.json !== undefined) {
        headers['Content-Type'] = 'application/json'
        init.body = JSON.stringify(options.json)
      } else if (options.body !== undefined) {
        init.body = toStream(options.body, n => { sent += n; timer.touch(); options.onSent?.(sent) })
        init.duplex = 'half'
      }
      const res = await fetch(url, init)
      timer.touch()
      if (res.ok) return { res, timer }
      throw await this.errorOf(res)
    } catch (err) {
      timer.clear()
      throw this.failure(err, timer, options.signal)
    }
  }

  private async errorOf (res: Response): Promise<OpenHashError> {
    const text = await res.text().catch(() => '')
    let body: any
    try { body = JSON.parse(text) } catch {}
    if (body !== null && typeof body === 'object' && typeof body.message === 'string') {
      const code = typeof body.error_code === 'string' ? body.error_code : (CODE_BY_STATUS[res.status] ?? 'INTERNAL')
      return errorFromCode(code, body.message, body.details)
    }
    const code = CODE_BY_STATUS[res.status]
    if (code !== undefined) return errorFromCode(code, `request failed with status: ${res.status}`)
    return new BadResponseError(`request failed with status: ${res.status}`, { status: res.status })
  }

  private async json<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { res, timer } = await this.request(method, path, options)
    try {
      const text = await res.text()
      timer.clear()
      try {
        return JSON.parse(text) as T
      } catch (err: any) {
        throw new BadResponseError(`failed to parse response: ${String(err?.message ?? err)}`)
      }
    } catch (err) {
      throw this.failure(err, timer, options.signal)
    } finally {
      timer.clear()
    }
  }

  // ---- adding ----

  private async upload (path: string, parts: FormPart[] | AsyncIterable<FormPart>, options: OperationOptions & { total?: number }): Promise<any> {
    const boundary = newBoundary()
    const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` }
    const length = Array.isArray(parts) ? multipartLength(parts, boundary) : undefined
    if (length !== undefined) headers['Content-Length'] = String(length)
    let fileBytes = 0
    const counted = (async function * () {
      for await (const part of parts) {
        if (part.kind === 'file') {
          const src = part.source
          yield { ...part, source: async function * () { for await (const b of src()) { fileBytes += b.byteLength; options.onProgress?.({ type: 'add:bytes', bytes: fileBytes, total: options.total }); yield b } } }
        } else {
          yield part
        }
      }
    })()
    return await this.json('POST', path, { headers, body: encodeMultipart(counted, boundary), signal: options.signal })
  }

  async addStream (source: AsyncIterable<Uint8Array>, meta: { filename: string, mod_time?: string }, options: OperationOptions & { total?: number } = {}): Promise<AddResult> {
    const parts: FormPart[] = [{ kind: 'field', name: 'filename', value: meta.filename }]
    if (meta.mod_time !== undefined) parts.push({ kind: 'field', name: 'mod_time', value: meta.mod_time })
    parts.push({ kind: 'file', name: 'file', filename: meta.filename, size: options.total, source: () => source })
    const r = await this.upload('/upload/file', parts, options)
    return { hash: r.hash, size: r.size, filename: r.filename, is_directory: false, mime_type: r.mime_type }
  }

  async addTree (parts: AsyncIterable<TreePart>, meta: TreeMeta, options: OperationOptions = {}): Promise<AddResult> {
    const form = (async function * (): AsyncGenerator<FormPart> {
      yield { kind: 'field', name: 'name', value: meta.name }
      if (meta.mod_time !== undefined) yield { kind: 'field', name: 'root_mod_time', value: meta.mod_time }
      for await (const p of parts) {
        if (p.mod_time !== undefined) yield { kind: 'field', name: 'mod_time', value: p.mod_time }
        if (p.kind === 'dir') {
          yield { kind: 'field', name: 'directory', value: p.path }
        } else {
          yield { kind: 'field', name: 'path', value: p.path }
          yield { kind: 'file', name: 'file', filename: p.path, source: () => p.source }
        }
      }
    })()
    return this.treeResult(await this.upload('/upload/folder', form, options))
  }

  private treeResult (r: any): AddResult {
    return { hash: r.hash, size: r.size, filename: r.filename, is_directory: true, mime_type: r.mime_type, files: r.files, directories: r.directories }
  }

  /** Add a local file or directory: checked here exactly as in-process, then uploaded. */
  async addPath (path: string, options: OperationOptions = {}): Promise<AddResult> {
    const plan = await planPath(path)
    const total = totalBytes(plan)
    const fileSource = (p: Extract<Plan, { kind: 'file' }>) => async function * () {
      try {
        for await (const b of createReadStream(p.path, { highWaterMark: 1024 * 1024 })) yield b as Buffer
      } catch (err) {
        throw fsError(err, p.path)
      }
    }
    if (plan.kind === 'file') {
      return await this.addStream(fileSource(plan)(), { filename: plan.name, mod_time: plan.mtime.toISOString() }, { ...options, total: plan.size })
    }
    const parts: FormPart[] = [
      { kind: 'field', name: 'name', value: plan.name },
      { kind: 'field', name: 'root_mod_time', value: plan.mtime.toISOString() }
    ]
    const walk = (dir: Extract<Plan, { kind: 'dir' }>): void => {
      for (const child of dir.children) {
        const rel = relative(plan.path, child.path).split(sep).join('/')
        parts.push({ kind: 'field', name: 'mod_time', value: child.mtime.toISOString() })
        if (child.kind === 'dir') {
          parts.push({ kind: 'field', name: 'directory', value: rel })
          walk(child)
        } else {
          parts.push({ kind: 'field', name: 'path', value: rel })
          parts.push({ kind: 'file', name: 'file', filename: rel, size: child.size, source: fileSource(child) })
        }
      }
    }
    walk(plan)
    return this.treeResult(await this.upload('/upload/folder', parts, { ...options, total }))
  }

  // ---- reading ----

  async info (hash: string): Promise<ContentInfo> {
    return await this.json('GET', `/info/${parseHash(hash)}`)
  }

  async entries (hash: string): Promise<DirEntry[]> {
    return (await this.json<{ entries: DirEntry[] }>('GET', `/entries/${parseHash(hash)}`)).entries
  }

  /**
   * File bytes (a byte range with offset/length). A directory is an
   * IS_A_DIRECTORY error, as in-process. A download cut off mid-way is
   * resumed from the byte it reached: a passing network fault heals, and a
   * daemon-side failure (a damaged chunk) then surfaces as its typed error,
   * since the resumed request fails before its first byte.
   */
  read (hash: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    const h = parseHash(hash)
    const client = this
    return (async function * () {
      let pos = Math.max(0, options.offset ?? 0)
      const end = options.length === undefined ? undefined : pos + options.length // exclusive
      if (end !== undefined && end <= pos) return
      let fruitless = 0
      while (true) {
        const headers: Record<string, string> = {}
        if (pos > 0 || end !== undefined) headers.Range = `bytes=${pos}-${end === undefined ? '' : end - 1}`
        let got
        try {
          got = await client.request('GET', `/download/${h}`, { query: { format: 'raw' }, headers, signal: options.signal })
        } catch (err) {
          // a range past the end is empty, as a local read of it is
          if (isOpenHashError(err) && err.code === 'RANGE_NOT_SATISFIABLE') return
          throw err
        }
        const { res, timer } = got
        const start = pos
        try {
          if (res.body !== null) {
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
              timer.touch()
              pos += piece.byteLength
              yield piece
            }
          }
          return
        } catch (err) {
          const failure = client.failure(err, timer, options.signal)
          if (failure.code !== 'API_UNREACHABLE' || timer.fired) throw failure
          fruitless = pos > start ? 0 : fruitless + 1
          if (fruitless >= 2) throw failure
        } finally {
          timer.clear()
        }
      }
    })()
  }

  async list (options: { after?: string, limit?: number } = {}): Promise<ContentInfo[]> {
    return await this.json('GET', '/list', { query: { after: options.after, limit: options.limit } })
  }

  // ---- pins and lifecycle ----

  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinResult> {
    const r = await this.json<PinResult>('POST', `/pin/${parseHash(hash)}`, { query: { priority } })
    return { hash: r.hash, priority: r.priority, ...(r.state !== undefined ? { state: r.state } : {}) }
  }

  async unpin (hash: string): Promise<UnpinResult> {
    const r = await this.json<UnpinResult>('DELETE', `/unpin/${parseHash(hash)}`)
    return { hash: r.hash, was_pinned: r.was_pinned }
  }

  async pins (): Promise<Record<string, number>> {
    return await this.json('GET', '/pins')
  }

  async pinStatus (): Promise<Record<string, PinStatus>> {
    return await this.json('GET', '/pins/status')
  }

  async rm (hash: string): Promise<RmResult> {
    const r = await this.json<RmResult>('DELETE', `/content/${parseHash(hash)}`)
    return { hash: r.hash, ref_count: r.ref_count, pinned: r.pinned }
  }

  async gc (options: OperationOptions = {}): Promise<GcResult> {
    return await this.json('POST', '/gc', { signal: options.signal, noTimeout: true })
  }

  async verify (options: OperationOptions = {}): Promise<VerifyResult> {
    return await this.json('POST', '/verify', { signal: options.signal, noTimeout: true })
  }

  // ---- system ----

  async stats (): Promise<NodeStats> {
    const { timestamp: _t, ...stats } = await this.json<NodeStats & { timestamp: string }>('GET', '/stats')
    return stats
  }

  async network (): Promise<NetworkInfo> {
    return await this.json('GET', '/network')
  }

  async health (): Promise<HealthInfo> {
    return await this.json('GET', '/health')
  }

  // ---- tokens and audit (admin) ----

  async createToken (input: CreateTokenInput): Promise<IssuedToken> {
    const { token, message: _m, ...info } = await this.json<TokenInfo & { token: string, message: string }>('POST', '/tokens', { json: input })
    return { token, info }
  }

  async listTokens (): Promise<TokenInfo[]> {
    return (await this.json<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens
  }

  private static tokenPath (id: string, action = ''): string {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError(`invalid token id: "${id}" (16 hex characters, as \`openhash token list\` shows)`)
    return `/tokens/${id}${action}`
  }

  async getToken (id: string): Promise<TokenInfo> {
    return await this.json('GET', OpenHashClient.tokenPath(id))
  }

  async revokeToken (id: string): Promise<TokenInfo> {
    const { message: _m, ...info } = await this.json<TokenInfo & { message: string }>('POST', OpenHashClient.tokenPath(id, '/revoke'))
    return info
  }

  async reactivateToken (id: string): Promise<TokenInfo> {
    const { message: _m, ...info } = await this.json<TokenInfo & { message: string }>('POST', OpenHashClient.tokenPath(id, '/reactivate'))
    return info
  }

  async renewToken (id: string, options: { expires_in_s?: number } = {}): Promise<IssuedToken> {
    const { token, message: _m, ...info } = await this.json<TokenInfo & { token: string, message: string }>('POST', OpenHashClient.tokenPath(id, '/renew'), { json: options })
    return { token, info }
  }

  async audit (query: AuditQuery = {}): Promise<AuditEntry[]> {
    return (await this.json<{ entries: AuditEntry[] }>('GET', '/audit', { query: { limit: query.limit, before: query.before, token_id: query.token_id, action: query.action } })).entries
  }

  async close (): Promise<void> {}
}
