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
import { fsError, planPath, totalBytes, totalFiles } from '../content/importer.js'
import { parseHash } from '../format/hash.js'
import type { TreeMeta, TreePart } from '../content/tree.js'
import {
  InvalidArgumentError, isOpenHashError, OpenHashError
} from '../errors.js'
import type {
  AddResult, AuditEntry, AuditQuery, ConnectResult, ContentInfo, NameSearchOptions, NameSearchPage, CreateTokenInput, DirEntry, GcResult, HealthInfo, IssuedToken, NetworkInfo, NodeStats, OpenHashNode,
  OperationOptions, PinResult, PinStatus, ReadOptions, RmResult, TokenInfo, UnpinResult, VerifyResult
} from '../interface.js'
import { DEFAULT_PRIORITY } from '../interface.js'
import type { FormPart } from './multipart.js'
import { HttpTransport } from './http.js'

export interface ClientOptions {
  /** Base URL of the daemon, e.g. http://127.0.0.1:8080 */
  url: string
  /** Fail a request after this long without progress (no response, no bytes either way). Default 30 s. */
  timeoutMs?: number
  /** API token, sent as `Authorization: Bearer <token>` on every request. */
  token?: string
}

export class OpenHashClient implements OpenHashNode {
  readonly url: string
  private readonly http: HttpTransport

  constructor (options: ClientOptions | string) {
    const opts: ClientOptions = typeof options === 'string' ? { url: options } : options
    this.url = opts.url.replace(/\/+$/, '')
    this.http = new HttpTransport(this.url, opts.timeoutMs ?? 30_000, opts.token)
    try {
      const u = new URL(this.url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http')
    } catch {
      throw new OpenHashError('INVALID_ARGUMENT', `invalid API URL: "${opts.url}" (expected e.g. http://127.0.0.1:8080)`)
    }
  }

  async addStream (source: AsyncIterable<Uint8Array>, meta: { filename: string, mod_time?: string }, options: OperationOptions & { total?: number } = {}): Promise<AddResult> {
    const parts: FormPart[] = [{ kind: 'field', name: 'filename', value: meta.filename }]
    if (meta.mod_time !== undefined) parts.push({ kind: 'field', name: 'mod_time', value: meta.mod_time })
    parts.push({ kind: 'file', name: 'file', filename: meta.filename, size: options.total, source: () => source })
    const r = await this.http.upload('/upload/file', parts, options)
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
    return this.treeResult(await this.http.upload('/upload/folder', form, options))
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
    return this.treeResult(await this.http.upload('/upload/folder', parts, { ...options, total, filesTotal: totalFiles(plan) }))
  }

  // ---- reading ----

  async info (hash: string): Promise<ContentInfo> {
    return await this.http.json('GET', `/info/${parseHash(hash)}`)
  }

  async entries (hash: string): Promise<DirEntry[]> {
    return (await this.http.json<{ entries: DirEntry[] }>('GET', `/entries/${parseHash(hash)}`)).entries
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
          got = await client.http.request('GET', `/download/${h}`, { query: { format: 'raw' }, headers, signal: options.signal })
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
          const failure = client.http.failure(err, timer, options.signal)
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
    return await this.http.json('GET', '/list', { query: { after: options.after, limit: options.limit } })
  }

  /** `scan` is the daemon's to choose over HTTP (GET /list?q=): it is not sent. */
  async searchNames (name: string, options: NameSearchOptions = {}): Promise<NameSearchPage> {
    const { body, next } = await this.http.jsonPage<ContentInfo[]>('GET', '/list', { query: { q: name, after: options.after, limit: options.limit }, signal: options.signal })
    const after = next === undefined ? undefined : new URL(next, this.url).searchParams.get('after') ?? undefined
    return after === undefined ? { items: body } : { items: body, next: after }
  }

  // ---- pins and lifecycle ----

  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinResult> {
    const r = await this.http.json<PinResult>('POST', `/pin/${parseHash(hash)}`, { query: { priority } })
    return { hash: r.hash, priority: r.priority, ...(r.state !== undefined ? { state: r.state } : {}) }
  }

  async unpin (hash: string): Promise<UnpinResult> {
    const r = await this.http.json<UnpinResult>('DELETE', `/unpin/${parseHash(hash)}`)
    return { hash: r.hash, was_pinned: r.was_pinned }
  }

  async pins (): Promise<Record<string, number>> {
    return await this.http.json('GET', '/pins')
  }

  async pinStatus (): Promise<Record<string, PinStatus>> {
    return await this.http.json('GET', '/pins/status')
  }

  async rm (hash: string): Promise<RmResult> {
    const r = await this.http.json<RmResult>('DELETE', `/content/${parseHash(hash)}`)
    return { hash: r.hash, ref_count: r.ref_count, pinned: r.pinned }
  }

  async gc (options: OperationOptions = {}): Promise<GcResult> {
    return await this.http.json('POST', '/gc', { signal: options.signal, noTimeout: true })
  }

  async verify (options: OperationOptions = {}): Promise<VerifyResult> {
    return await this.http.json('POST', '/verify', { signal: options.signal, noTimeout: true })
  }

  // ---- system ----

  async stats (): Promise<NodeStats> {
    const { timestamp: _t, ...stats } = await this.http.json<NodeStats & { timestamp: string }>('GET', '/stats')
    return stats
  }

  async network (): Promise<NetworkInfo> {
    return await this.http.json('GET', '/network')
  }

  async connect (multiaddr: string, options: { signal?: AbortSignal } = {}): Promise<ConnectResult> {
    const { message: _m, ...r } = await this.http.json<ConnectResult & { message: string }>('POST', '/network/connect', { json: { multiaddr }, signal: options.signal })
    return r
  }

  async health (): Promise<HealthInfo> {
    return await this.http.json('GET', '/health')
  }

  // ---- tokens and audit (admin) ----

  async createToken (input: CreateTokenInput): Promise<IssuedToken> {
    const { token, message: _m, ...info } = await this.http.json<TokenInfo & { token: string, message: string }>('POST', '/tokens', { json: input })
    return { token, info }
  }

  async listTokens (): Promise<TokenInfo[]> {
    return (await this.http.json<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens
  }

  private static tokenPath (id: string, action = ''): string {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError(`invalid token id: "${id}" (16 hex characters, as \`openhash token list\` shows)`)
    return `/tokens/${id}${action}`
  }

  async getToken (id: string): Promise<TokenInfo> {
    return await this.http.json('GET', OpenHashClient.tokenPath(id))
  }

  async revokeToken (id: string): Promise<TokenInfo> {
    const { message: _m, ...info } = await this.http.json<TokenInfo & { message: string }>('POST', OpenHashClient.tokenPath(id, '/revoke'))
    return info
  }

  async reactivateToken (id: string): Promise<TokenInfo> {
    const { message: _m, ...info } = await this.http.json<TokenInfo & { message: string }>('POST', OpenHashClient.tokenPath(id, '/reactivate'))
    return info
  }

  async renewToken (id: string, options: { expires_in_s?: number } = {}): Promise<IssuedToken> {
    const { token, message: _m, ...info } = await this.http.json<TokenInfo & { token: string, message: string }>('POST', OpenHashClient.tokenPath(id, '/renew'), { json: options })
    return { token, info }
  }

  async audit (query: AuditQuery = {}): Promise<AuditEntry[]> {
    return (await this.http.json<{ entries: AuditEntry[] }>('GET', '/audit', { query: { limit: query.limit, before: query.before, token_id: query.token_id, action: query.action } })).entries
  }

  async close (): Promise<void> {}
}
