/**
 * The client's HTTP transport: one request with the token, an idle timeout
 * (no progress either way for `timeoutMs` fails it) and the caller's
 * AbortSignal; a non-2xx answer becomes the typed error rebuilt from the
 * error JSON's `error_code`; streamed bodies and multipart uploads.
 */
import {
  AbortedError, ApiUnreachableError, BadResponseError, errorFromCode, isOpenHashError, OpenHashError
} from '../errors.js'
import type { OperationOptions } from '../interface.js'
import type { FormPart } from './multipart.js'
import { encodeMultipart, multipartLength, newBoundary } from './multipart.js'

/** Status → code, for error bodies without `error_code` (e.g. a proxy's page). */
const CODE_BY_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 409: 'NOT_ADDED', 413: 'PAYLOAD_TOO_LARGE', 416: 'RANGE_NOT_SATISFIABLE', 503: 'UNAVAILABLE' }

export interface RequestOptions {
  query?: Record<string, string | number | undefined>
  headers?: Record<string, string>
  body?: AsyncIterable<Uint8Array>
  /** A JSON request body (small). */
  json?: unknown
  signal?: AbortSignal
  onSent?: (bytes: number) => void
  /** Sees a successful response before its body is read (its headers). */
  onResponse?: (res: Response) => void
  /** Long server-side work (gc, verify) that sends nothing until done: no idle timeout. */
  noTimeout?: boolean
}

/** Aborts a request when neither side has made progress for `ms`. */
export class IdleTimer {
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

export class HttpTransport {
  constructor (readonly url: string, private readonly timeoutMs: number, private readonly token?: string) {}

  /** The typed error for a failed request: ours, the daemon's, an abort, or an unreachable API. */
  failure (err: unknown, timer: IdleTimer, signal?: AbortSignal): OpenHashError {
    if (isOpenHashError(err)) return err
    const cause = (err as any)?.cause
    if (isOpenHashError(cause)) return cause
    if (timer.fired) return new ApiUnreachableError(`API connection failed: no progress from ${this.url} for ${this.timeoutMs} ms`, { url: this.url, timeout_ms: this.timeoutMs })
    if (signal?.aborted === true) return new AbortedError('operation aborted', undefined, { cause: signal.reason })
    const why = cause?.message ?? (err as any)?.message ?? String(err)
    return new ApiUnreachableError(`API connection failed: failed to connect to API at ${this.url}: ${String(why)}`, { url: this.url, errno: cause?.code })
  }

  /** One request; resolves with a 2xx response (body unread) or throws the typed error. */
  async request (method: string, path: string, options: RequestOptions = {}): Promise<{ res: Response, timer: IdleTimer }> {
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
      if (res.ok) { options.onResponse?.(res); return { res, timer } }
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

  async json<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
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

  /** A JSON answer and the target of its `Link: rel="next"` header, if any (paged lists). */
  async jsonPage<T> (method: string, path: string, options: RequestOptions = {}): Promise<{ body: T, next?: string }> {
    let link: string | null = null
    const body = await this.json<T>(method, path, { ...options, onResponse: (res) => { link = res.headers.get('link') } })
    const next = link === null ? undefined : /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1]
    return { body, next }
  }

  /**
   * A multipart upload (streamed; Content-Length when the parts' sizes are known); the answer's JSON.
   * Progress counts file bytes sent and, with `filesTotal` (a folder), files sent.
   */
  async upload (path: string, parts: FormPart[] | AsyncIterable<FormPart>, options: OperationOptions & { total?: number, filesTotal?: number }): Promise<any> {
    const boundary = newBoundary()
    const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` }
    const length = Array.isArray(parts) ? multipartLength(parts, boundary) : undefined
    if (length !== undefined) headers['Content-Length'] = String(length)
    let fileBytes = 0
    let files = 0
    const { onProgress, total, filesTotal } = options
    const counts = (): object => filesTotal === undefined ? {} : { files, files_total: filesTotal }
    const counted = (async function * () {
      for await (const part of parts) {
        if (part.kind !== 'file' || onProgress === undefined) {
          yield part
          continue
        }
        const src = part.source
        yield {
          ...part,
          source: async function * () {
            for await (const b of src()) {
              fileBytes += b.byteLength
              onProgress({ type: 'add:bytes', bytes: fileBytes, total, ...counts() })
              yield b
            }
            files++
            if (filesTotal !== undefined) onProgress({ type: 'add:file', bytes: fileBytes, total, ...counts() })
          }
        }
      }
    })()
    return await this.json('POST', path, { headers, body: encodeMultipart(counted, boundary), signal: options.signal })
  }
}
