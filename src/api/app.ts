/**
 * The REST API of ../shared/spec/openhashdb-rest-api.md as a Hono app over
 * an `OpenHashNode`. Routes parse and validate input, call the node, and
 * shape the reference's JSON; errors go through api/errors.ts. Content is
 * written straight to the Node response (http-content.ts) and uploads are
 * parsed as streams (multipart.ts), so no body is ever held in memory.
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { lookup as mimeLookup } from 'mime-types'
import { parseHash } from '../format/hash.js'
import { DIRECTORY_MIME } from '../format/mime.js'
import { tarDirectory, tarLength } from '../content/tar.js'
import type { TreeMeta, TreePart } from '../content/tree.js'
import {
  InvalidArgumentError, IsADirectoryError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError,
  RangeNotSatisfiableError, RouteNotFoundError, UnauthorizedError, UnavailableError
} from '../errors.js'
import type { ContentInfo, DirEntry, OpenHashNode } from '../interface.js'
import { DEFAULT_PRIORITY, parsePriority } from '../interface.js'
import { toErrorResponse } from './errors.js'
import { contentDisposition, etagMatches, IMMUTABLE, parseRange, sendBody } from './http-content.js'
import { renderListing } from './listing.js'
import type { Part } from './multipart.js'
import { parseMultipart } from './multipart.js'
import { mountDocs } from './docs.js'
import { prefetch } from '../content/prefetch.js'
import { cidString } from '../format/cid.js'
import type { AuthOptions } from './auth.js'
import { acceptFormToken, authMiddleware, requireUploadAuth } from './auth.js'
import type { AuditSink } from './audit.js'
import { auditMiddleware } from './audit.js'
import { mountAdmin } from './admin.js'
import { createMetrics } from './metrics.js'
import { requestInfo, trackRequests } from './request-info.js'
import { clientAddress, proxyList } from './client-address.js'
import type { RateLimitConfig } from './rate-limit.js'
import { rateLimitMiddleware } from './rate-limit.js'

export interface ApiOptions {
  /** Largest accepted upload in bytes (413 past it). */
  maxUploadBytes: number
  /** Aborted when the daemon shuts down: in-flight uploads roll back. */
  signal?: AbortSignal
  /** True once shutdown starts: /health answers 503. */
  isShuttingDown?: () => boolean
  /**
   * Tokens and policy (api/auth.ts). Without it no token is checked, but the
   * browser-safety rule (cross-origin changes need a token) still holds.
   */
  auth?: AuthOptions
  /** Where audit entries of mutating requests go. */
  audit?: AuditSink
  /** GET /metrics and the request metrics behind it (api.metrics); on unless false. */
  metrics?: boolean
  /** Per-token / per-IP request limits (api.rate_limit_*); none when undefined. */
  rateLimit?: RateLimitConfig
  /** api.trusted_proxies: addresses and CIDR blocks whose forwarding headers are believed. */
  trustedProxies?: readonly string[]
}

/**
 * `signal`: the request's own AbortSignal from the server (server.ts): it fires
 * when the client goes away, its body stops arriving, or the daemon shuts
 * down. Every long operation of a route gets it.
 */
type Env = { Bindings: HttpBindings & { signal?: AbortSignal } }

/** Upload bytes read ahead of the store, so the socket keeps flowing while chunks are hashed and written. */
const PREFETCH_BYTES = 16 * 1024 * 1024
/**
 * The read-ahead is copied into reusable 1 MiB buffers (see PrefetchOptions):
 * holding the socket's own small pieces made V8 run a major GC every few
 * dozen MiB. The store's chunker copies each piece before asking for the
 * next, as reuse requires.
 */
const PREFETCH = { reuse: 1024 * 1024 }
type C = Context<Env>

/** The request's signal (server.ts), else the server-wide one (an app run without the server). */
function signalOf (c: C, options: ApiOptions): AbortSignal | undefined {
  return c.env?.signal ?? options.signal
}

/**
 * Served content runs in a sandbox: an HTML page from /view may run its own
 * scripts, but in an opaque origin, never as the API's origin — it cannot
 * read the API's responses as same-origin, and its requests that change
 * something are cross-origin without a token, so they are refused
 * (api/auth.ts). See docs/security.md.
 */
export const CONTENT_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads'

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Content-Disposition, ETag, Accept-Ranges, Link, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'
}

/** Routes and their methods, for 405 answers with an Allow header. */
const ROUTES: Array<{ pattern: string, methods: string[] }> = [
  { pattern: '/health', methods: ['GET'] },
  { pattern: '/upload/file', methods: ['POST'] },
  { pattern: '/upload/folder', methods: ['POST'] },
  { pattern: '/download/:hash', methods: ['GET', 'HEAD'] },
  { pattern: '/view/:hash', methods: ['GET', 'HEAD'] },
  { pattern: '/view/:hash/*', methods: ['GET', 'HEAD'] },
  { pattern: '/info/:hash', methods: ['GET'] },
  { pattern: '/entries/:hash', methods: ['GET'] },
  { pattern: '/list', methods: ['GET'] },
  { pattern: '/pin/:hash', methods: ['POST'] },
  { pattern: '/unpin/:hash', methods: ['DELETE'] },
  { pattern: '/pins', methods: ['GET'] },
  { pattern: '/pins/status', methods: ['GET'] },
  { pattern: '/content/:hash', methods: ['DELETE'] },
  { pattern: '/gc', methods: ['POST'] },
  { pattern: '/verify', methods: ['POST'] },
  { pattern: '/stats', methods: ['GET'] },
  { pattern: '/network', methods: ['GET'] },
  { pattern: '/tokens', methods: ['GET', 'POST'] },
  { pattern: '/tokens/self', methods: ['GET'] },
  { pattern: '/tokens/:id', methods: ['GET'] },
  { pattern: '/tokens/:id/revoke', methods: ['POST'] },
  { pattern: '/tokens/:id/reactivate', methods: ['POST'] },
  { pattern: '/tokens/:id/renew', methods: ['POST'] },
  { pattern: '/audit', methods: ['GET'] },
  { pattern: '/openapi.json', methods: ['GET'] },
  { pattern: '/docs', methods: ['GET'] },
  { pattern: '/metrics', methods: ['GET'] }
]

function infoBody (i: ContentInfo): Record<string, unknown> {
  return { hash: i.hash, cid: i.cid, filename: i.filename, mime_type: i.mime_type, size: i.size, mod_time: i.mod_time, chunk_count: i.chunk_count, is_directory: i.is_directory, created_at: i.created_at, ref_count: i.ref_count }
}

function intParam (c: C, name: string, min: number, max: number): number | undefined {
  const raw = c.req.query(name)
  if (raw === undefined || raw === '') return undefined
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new InvalidArgumentError(`query parameter ${name} must be an integer from ${min} to ${max}, got "${raw}"`, { [name]: raw })
  }
  return Number(raw)
}

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

/** The reference's error JSON for any thrown value, with CORS and the headers some statuses need. */
export function errorResponse (err: unknown): Response {
  const { status, body } = toErrorResponse(err)
  const headers: Record<string, string> = { ...CORS_HEADERS, 'Content-Type': 'application/json' }
  if (err instanceof RangeNotSatisfiableError && typeof err.details?.size === 'number') headers['Content-Range'] = `bytes */${err.details.size}`
  if (err instanceof MethodNotAllowedError && Array.isArray(err.details?.allow)) headers.Allow = (err.details.allow as string[]).join(', ')
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="openhashdb"'
  if (status === 500 && process.env.OPENHASH_DEBUG !== undefined) console.error(err)
  return new Response(JSON.stringify(body), { status, headers })
}

export function createApp (node: OpenHashNode, options: ApiOptions): Hono<Env> {
  const app = new Hono<Env>()

  app.onError((err, c) => {
    // a response that already started cannot become an error page; cut it
    if (c.env?.outgoing?.headersSent === true) {
      c.env.outgoing.destroy()
      return RESPONSE_ALREADY_SENT
    }
    return errorResponse(err)
  })

  app.use('*', async (c, next) => {
    await next()
    if (c.res !== RESPONSE_ALREADY_SENT) for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v)
  })

  // ---- request pipeline (order matters) ----
  // 0. who the client is, behind any trusted proxy: read by every step below — api/client-address.ts
  const trusted = proxyList(options.trustedProxies)
  app.use('*', async (c, next) => {
    const incoming = c.env?.incoming
    if (incoming !== undefined) {
      const client = clientAddress(incoming, trusted)
      c.set('client' as never, client as never)
      if (c.env.outgoing !== undefined) requestInfo(incoming, c.env.outgoing).client = client
    }
    await next()
  })
  // 1. metrics (outermost: sees every request and its final status)       — api/metrics.ts
  const patterns = [...ROUTES.map(r => r.pattern), '/docs/init.js', '/docs/:asset'] // the route label's values
  app.use('*', trackRequests(patterns)) // route and principal for the request log and the metrics
  const metrics = options.metrics === false ? undefined : createMetrics(node, patterns)
  if (metrics !== undefined) app.use('*', metrics.middleware)
  // 2. browser safety and authentication: sets c.var.principal            — api/auth.ts
  //    (inside the audit, so that refused attempts are recorded too — 4. runs first)
  if (options.audit !== undefined) app.use('*', auditMiddleware(options.audit))
  app.use('*', authMiddleware(options.auth ?? {
    required: false,
    publicReads: true,
    loopbackOnly: false,
    authenticate: async () => { throw new UnauthorizedError('this API has no tokens') }
  }))
  // 3. rate limiting, keyed by the principal's token id or the client IP  — api/rate-limit.ts
  if (options.rateLimit !== undefined) app.use('*', rateLimitMiddleware(options.rateLimit, errorResponse, (cls) => metrics?.rateLimited.inc({ class: cls })))
  // 4. audit of mutating requests                                          — api/audit.ts (mounted before 2.)

  // CORS preflight for every route
  app.options('*', () => new Response(null, { status: 204, headers: { ...CORS_HEADERS, 'Access-Control-Max-Age': '86400' } }))

  app.get('/health', async (c) => {
    const h = await node.health()
    const healthy = h.status === 'healthy' && options.isShuttingDown?.() !== true
    return c.json({ ...h, status: healthy ? 'healthy' : 'unhealthy' }, healthy ? 200 : 503)
  })

  // ---- uploads ----

  const uploadGuard = (c: C): void => {
    if (options.isShuttingDown?.() === true) throw new UnavailableError('the daemon is shutting down')
    const length = Number(c.req.header('content-length') ?? NaN)
    // multipart framing adds a little; the exact cap is enforced while streaming
    if (Number.isFinite(length) && length > options.maxUploadBytes + 1024 * 1024) {
      throw new PayloadTooLargeError(`upload of ${length} bytes exceeds the maximum size of ${options.maxUploadBytes} bytes`, { max_bytes: options.maxUploadBytes, content_length: length })
    }
  }

  const partsOf = (c: C): AsyncGenerator<Part> => parseMultipart(c.env.incoming, { maxBytes: options.maxUploadBytes, signal: signalOf(c, options) })

  app.post('/upload/file', async (c) => {
    uploadGuard(c)
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
      const res = await node.addStream(prefetch(part.body, PREFETCH_BYTES, PREFETCH), { filename, mod_time: modTime('mod_time', fields.mod_time) }, { signal: signalOf(c, options) })
      return c.json({ hash: res.hash, cid: cidString(res.hash), size: res.size, filename: res.filename, message: 'File uploaded successfully', mime_type: res.mime_type, is_directory: false })
    }
    requireUploadAuth(c)
    throw new InvalidArgumentError('missing file: send the file as multipart/form-data field "file" (curl -F "file=@path")', { field: 'file' })
  })

  app.post('/upload/folder', async (c) => {
    uploadGuard(c)
    const meta: TreeMeta = { name: 'folder' }
    const parts = partsOf(c)
    async function * tree (): AsyncGenerator<TreePart> {
      let path: string | undefined
      let modTimeField: string | undefined
      let items = 0
      for await (const part of parts) {
        if (part.kind === 'field') {
          switch (part.name) {
            case 'access_token': await acceptFormToken(c, options.auth, part.value); break
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
    const res = await node.addTree(tree(), meta, { signal: signalOf(c, options) })
    return c.json({ hash: res.hash, cid: cidString(res.hash), size: res.size, filename: res.filename, message: 'Folder uploaded successfully', mime_type: res.mime_type, is_directory: true, files: res.files, directories: res.directories })
  })

  // ---- content ----

  async function sendFile (c: C, info: ContentInfo, disposition: 'attachment' | 'inline', name: string, mime: string): Promise<Response> {
    const out = c.env.outgoing
    const etag = `"${info.hash}"`
    const headers: Record<string, string | number> = {
      ...CORS_HEADERS,
      ETag: etag,
      'Cache-Control': IMMUTABLE,
      'Accept-Ranges': 'bytes',
      'Content-Type': mime,
      'Content-Disposition': contentDisposition(disposition, name),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': CONTENT_CSP
    }
    if (etagMatches(c.req.header('if-none-match'), etag)) {
      await sendBody(out, 304, { ...CORS_HEADERS, ETag: etag, 'Cache-Control': IMMUTABLE }, null)
      return RESPONSE_ALREADY_SENT
    }
    const head = c.req.method === 'HEAD'
    const range = parseRange(c.req.header('range'), info.size)
    if (range.kind === 'unsatisfiable') {
      throw new RangeNotSatisfiableError(`range ${c.req.header('range') ?? ''} is outside the content's ${info.size} bytes`, { size: info.size, range: c.req.header('range') })
    }
    if (range.kind === 'partial') {
      const length = range.end - range.start + 1
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`
      headers['Content-Length'] = length
      await sendBody(out, 206, headers, head ? null : node.read(info.hash, { offset: range.start, length, signal: signalOf(c, options) }))
    } else {
      headers['Content-Length'] = info.size
      await sendBody(out, 200, headers, head || info.size === 0 ? null : node.read(info.hash, { signal: signalOf(c, options) }))
    }
    return RESPONSE_ALREADY_SENT
  }

  async function sendTar (c: C, info: ContentInfo): Promise<Response> {
    const etag = `"${info.hash}"`
    const name = info.filename === '' ? info.hash : info.filename
    const headers: Record<string, string | number> = {
      ...CORS_HEADERS,
      ETag: etag,
      'Cache-Control': IMMUTABLE,
      'Accept-Ranges': 'none',
      'Content-Type': 'application/x-tar',
      'Content-Disposition': contentDisposition('attachment', `${name}.tar`),
      'Content-Length': await tarLength(node, info.hash, name, { signal: signalOf(c, options) })
    }
    if (etagMatches(c.req.header('if-none-match'), etag)) {
      await sendBody(c.env.outgoing, 304, { ...CORS_HEADERS, ETag: etag, 'Cache-Control': IMMUTABLE }, null)
      return RESPONSE_ALREADY_SENT
    }
    await sendBody(c.env.outgoing, 200, headers, c.req.method === 'HEAD' ? null : tarDirectory(node, info.hash, name, { signal: signalOf(c, options) }))
    return RESPONSE_ALREADY_SENT
  }

  app.on(['GET', 'HEAD'], '/download/:hash', async (c) => {
    const info = await node.info(parseHash(c.req.param('hash')), { signal: signalOf(c, options) })
    const format = c.req.query('format')
    if (format !== undefined && format !== 'raw' && format !== 'tar') throw new InvalidArgumentError(`format must be raw or tar, got "${format}"`)
    if (info.is_directory) {
      if (format === 'raw') throw new IsADirectoryError(`is a directory: ${info.hash}`, { hash: info.hash })
      return await sendTar(c, info)
    }
    return await sendFile(c, info, 'attachment', info.filename, info.mime_type)
  })

  /** Serve `entries` path inside directory `root` (names already decoded); `slash`: the URL ended in "/". */
  async function viewPath (c: C, root: ContentInfo, names: string[], slash: boolean): Promise<Response> {
    let current = root
    let entryName = root.filename
    for (const name of names) {
      if (!current.is_directory) throw new NotFoundError(`not found in directory ${root.hash}: ${names.join('/')}`, { hash: root.hash, path: names.join('/') })
      const entry: DirEntry | undefined = (await node.entries(current.hash, { signal: signalOf(c, options) })).find(e => e.name === name)
      if (entry === undefined) throw new NotFoundError(`not found in directory ${root.hash}: ${names.join('/')}`, { hash: root.hash, path: names.join('/') })
      current = await node.info(entry.hash, { signal: signalOf(c, options) })
      entryName = name
    }
    if (!current.is_directory) {
      if (slash && names.length > 0) throw new NotFoundError(`not a directory in ${root.hash}: ${names.join('/')}/`, { hash: root.hash, path: names.join('/') })
      const mime = names.length === 0 ? current.mime_type : (mimeLookup(entryName) || current.mime_type)
      return await sendFile(c, current, 'inline', entryName, mime)
    }
    if (!slash) {
      // relative links in a listing (and in an index.html) need the trailing slash
      const url = new URL(c.req.url)
      return c.redirect(url.pathname + '/' + url.search, 301)
    }
    const entries = await node.entries(current.hash, { signal: signalOf(c, options) })
    const index = entries.find(e => e.name === 'index.html' && e.type === 'file')
    if (index !== undefined) return await sendFile(c, await node.info(index.hash, { signal: signalOf(c, options) }), 'inline', 'index.html', 'text/html; charset=utf-8')
    const title = [root.filename, ...names].join('/') + '/'
    const etag = `W/"${current.hash}"`
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, { ETag: etag, 'Cache-Control': IMMUTABLE })
    const html = renderListing(title, root.hash, entries, names.length === 0)
    return c.body(html, 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(html)),
      ETag: etag,
      'Cache-Control': IMMUTABLE,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': CONTENT_CSP
    })
  }

  app.on(['GET', 'HEAD'], '/view/:hash', async (c) => {
    const info = await node.info(parseHash(c.req.param('hash')), { signal: signalOf(c, options) })
    return await viewPath(c, info, [], false)
  })

  app.on(['GET', 'HEAD'], '/view/:hash/*', async (c) => {
    const hash = parseHash(c.req.param('hash'))
    const rest = new URL(c.req.url).pathname.slice(`/view/${c.req.param('hash')}/`.length)
    let names: string[]
    try {
      names = rest.split('/').filter(s => s !== '').map(decodeURIComponent)
    } catch {
      throw new InvalidArgumentError(`malformed path: ${rest}`)
    }
    if (names.some(n => n === '.' || n === '..')) throw new InvalidArgumentError(`path may not contain "." or ".." segments: ${rest}`)
    const info = await node.info(hash, { signal: signalOf(c, options) })
    return await viewPath(c, info, names, rest === '' || rest.endsWith('/'))
  })

  // ---- metadata ----

  app.get('/info/:hash', async (c) => c.json(infoBody(await node.info(parseHash(c.req.param('hash')), { signal: signalOf(c, options) }))))

  app.get('/entries/:hash', async (c) => {
    const hash = parseHash(c.req.param('hash'))
    return c.json({ hash, entries: await node.entries(hash, { signal: signalOf(c, options) }) })
  })

  app.get('/list', async (c) => {
    const limit = intParam(c, 'limit', 1, 100_000)
    const offset = intParam(c, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0
    const afterRaw = c.req.query('after')
    const after = afterRaw === undefined || afterRaw === '' ? undefined : parseHash(afterRaw)
    const items = await node.list({ after, limit: limit === undefined ? undefined : limit + offset })
    const page = items.slice(offset)
    if (limit !== undefined && page.length === limit) {
      c.header('Link', `</list?after=${page[page.length - 1].hash}&limit=${limit}>; rel="next"`)
    }
    return c.json(page.map(infoBody))
  })

  // ---- pins and lifecycle ----

  app.post('/pin/:hash', async (c) => {
    const hash = parseHash(c.req.param('hash'))
    const raw = c.req.query('priority')
    // strict: digits only (no spaces, signs, exponents), then the range (interface.ts)
    const priority = raw === undefined || raw === '' ? DEFAULT_PRIORITY : parsePriority(raw)
    const res = await node.pin(hash, priority)
    return c.json({ hash: res.hash, priority: res.priority, state: res.state ?? 'pinned', message: res.state === 'fetching' ? 'Pin recorded; fetching the content from peers' : 'Content pinned successfully' })
  })

  app.delete('/unpin/:hash', async (c) => {
    const res = await node.unpin(parseHash(c.req.param('hash')))
    return c.json({ hash: res.hash, message: 'Content unpinned successfully', was_pinned: res.was_pinned })
  })

  app.get('/pins', async (c) => c.json(await node.pins()))

  app.get('/pins/status', async (c) => c.json(await node.pinStatus()))

  app.delete('/content/:hash', async (c) => {
    const res = await node.rm(parseHash(c.req.param('hash')))
    return c.json({ ...res, message: 'Local add released' })
  })

  app.post('/gc', async (c) => c.json(await node.gc({ signal: signalOf(c, options) })))

  app.post('/verify', async (c) => c.json(await node.verify({ signal: signalOf(c, options) })))

  // ---- system ----

  app.get('/stats', async (c) => c.json({ ...(await node.stats()), timestamp: new Date().toISOString() }))

  app.get('/network', async (c) => c.json(await node.network()))

  app.get('/metrics', async (c) => {
    if (metrics === undefined) throw new RouteNotFoundError('metrics are turned off (api.metrics is false)', { path: c.req.path })
    return c.body(await metrics.scrape(), 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' })
  })

  mountAdmin(app, node)
  mountDocs(app)

  // wrong method on a known route: 405 with Allow; anything else: 404
  for (const r of ROUTES) {
    // a GET route answers HEAD too (Hono runs its GET handler without the body)
    const allow = [...r.methods, ...(r.methods.includes('GET') && !r.methods.includes('HEAD') ? ['HEAD'] : []), 'OPTIONS']
    app.all(r.pattern, (c) => {
      throw new MethodNotAllowedError(`method ${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`, { method: c.req.method, allow })
    })
  }
  app.notFound((c) => errorResponse(new RouteNotFoundError(`no such endpoint: ${c.req.method} ${c.req.path}`, { path: c.req.path })))

  return app
}

export { DIRECTORY_MIME }
