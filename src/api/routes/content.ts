/**
 * Content: GET/HEAD /download/:hash (a file, or a directory as a tar) and
 * /view/:hash[/path] (served inline in a sandbox, directories as listings or
 * their index.html). Bodies are written straight to the Node response
 * (api/http-content.ts), with ETag, ranges and conditional requests.
 */
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { lookup as mimeLookup } from 'mime-types'
import { parseHash } from '../../format/hash.js'
import { tarDirectory, tarLength } from '../../content/tar.js'
import { InvalidArgumentError, IsADirectoryError, NotFoundError, RangeNotSatisfiableError } from '../../errors.js'
import type { ContentInfo, DirEntry } from '../../interface.js'
import { contentDisposition, etagMatches, IMMUTABLE, parseRange, sendBody } from '../http-content.js'
import { renderListing } from '../listing.js'
import { CORS_HEADERS } from '../middleware/cors.js'
import type { C } from '../route.js'
import { Routes, signalOf } from '../route.js'

/**
 * Served content runs in a sandbox: an HTML page from /view may run its own
 * scripts, but in an opaque origin, never as the API's origin — it cannot
 * read the API's responses as same-origin, and its requests that change
 * something are cross-origin without a token, so they are refused
 * (middleware/auth.ts). See docs/security.md.
 */
export const CONTENT_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads'

async function notModified (c: C, etag: string): Promise<Response> {
  await sendBody(c.env.outgoing, 304, { ...CORS_HEADERS, ETag: etag, 'Cache-Control': IMMUTABLE }, null)
  return RESPONSE_ALREADY_SENT
}

async function sendFile (c: C, info: ContentInfo, disposition: 'attachment' | 'inline', name: string, mime: string): Promise<Response> {
  const node = c.var.deps.node
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
    'Content-Security-Policy': CONTENT_CSP,
    // a download ticket in the URL (?ticket=) never leaves with a link the content follows
    'Referrer-Policy': 'no-referrer'
  }
  if (etagMatches(c.req.header('if-none-match'), etag)) return await notModified(c, etag)
  const head = c.req.method === 'HEAD'
  const range = parseRange(c.req.header('range'), info.size)
  if (range.kind === 'unsatisfiable') {
    throw new RangeNotSatisfiableError(`range ${c.req.header('range') ?? ''} is outside the content's ${info.size} bytes`, { size: info.size, range: c.req.header('range') })
  }
  if (range.kind === 'partial') {
    const length = range.end - range.start + 1
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`
    headers['Content-Length'] = length
    await sendBody(out, 206, headers, head ? null : node.read(info.hash, { offset: range.start, length, signal: signalOf(c) }))
  } else {
    headers['Content-Length'] = info.size
    await sendBody(out, 200, headers, head || info.size === 0 ? null : node.read(info.hash, { signal: signalOf(c) }))
  }
  return RESPONSE_ALREADY_SENT
}

async function sendTar (c: C, info: ContentInfo): Promise<Response> {
  const node = c.var.deps.node
  const etag = `"${info.hash}"`
  const name = info.filename === '' ? info.hash : info.filename
  const headers: Record<string, string | number> = {
    ...CORS_HEADERS,
    ETag: etag,
    'Cache-Control': IMMUTABLE,
    'Accept-Ranges': 'none',
    'Content-Type': 'application/x-tar',
    'Content-Disposition': contentDisposition('attachment', `${name}.tar`),
    'Content-Length': await tarLength(node, info.hash, name, { signal: signalOf(c) })
  }
  if (etagMatches(c.req.header('if-none-match'), etag)) return await notModified(c, etag)
  await sendBody(c.env.outgoing, 200, headers, c.req.method === 'HEAD' ? null : tarDirectory(node, info.hash, name, { signal: signalOf(c) }))
  return RESPONSE_ALREADY_SENT
}

/** A directory without index.html: an HTML listing. */
async function sendListing (c: C, root: ContentInfo, names: string[], current: ContentInfo, entries: DirEntry[]): Promise<Response> {
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
    'Content-Security-Policy': CONTENT_CSP,
    // a download ticket in the URL (?ticket=) never leaves with a link the content follows
    'Referrer-Policy': 'no-referrer'
  })
}

/** Serve `entries` path inside directory `root` (names already decoded); `slash`: the URL ended in "/". */
async function viewPath (c: C, root: ContentInfo, names: string[], slash: boolean): Promise<Response> {
  const node = c.var.deps.node
  let current = root
  let entryName = root.filename
  for (const name of names) {
    if (!current.is_directory) throw new NotFoundError(`not found in directory ${root.hash}: ${names.join('/')}`, { hash: root.hash, path: names.join('/') })
    const entry = (await node.entries(current.hash, { signal: signalOf(c) })).find(e => e.name === name)
    if (entry === undefined) throw new NotFoundError(`not found in directory ${root.hash}: ${names.join('/')}`, { hash: root.hash, path: names.join('/') })
    current = await node.info(entry.hash, { signal: signalOf(c) })
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
  const entries = await node.entries(current.hash, { signal: signalOf(c) })
  const index = entries.find(e => e.name === 'index.html' && e.type === 'file')
  if (index !== undefined) return await sendFile(c, await node.info(index.hash, { signal: signalOf(c) }), 'inline', 'index.html', 'text/html; charset=utf-8')
  return await sendListing(c, root, names, current, entries)
}

export const content = new Routes()

content.route({ method: 'GET', path: '/download/:hash', scope: 'public', rate: 'download', audit: 'none', ticket: true }, async (c) => {
  const info = await c.var.deps.node.info(parseHash(c.req.param('hash')), { signal: signalOf(c) })
  const format = c.req.query('format')
  if (format !== undefined && format !== 'raw' && format !== 'tar') throw new InvalidArgumentError(`format must be raw or tar, got "${format}"`)
  if (info.is_directory) {
    if (format === 'raw') throw new IsADirectoryError(`is a directory: ${info.hash}`, { hash: info.hash })
    return await sendTar(c, info)
  }
  return await sendFile(c, info, 'attachment', info.filename, info.mime_type)
})

content.route({ method: 'GET', path: '/view/:hash', scope: 'public', rate: 'download', audit: 'none', ticket: true }, async (c) => {
  const info = await c.var.deps.node.info(parseHash(c.req.param('hash')), { signal: signalOf(c) })
  return await viewPath(c, info, [], false)
})

content.route({ method: 'GET', path: '/view/:hash/*', scope: 'public', rate: 'download', audit: 'none', ticket: true }, async (c) => {
  const hash = parseHash(c.req.param('hash'))
  const rest = new URL(c.req.url).pathname.slice(`/view/${c.req.param('hash')}/`.length)
  let names: string[]
  try {
    names = rest.split('/').filter(s => s !== '').map(decodeURIComponent)
  } catch {
    throw new InvalidArgumentError(`malformed path: ${rest}`)
  }
  if (names.some(n => n === '.' || n === '..')) throw new InvalidArgumentError(`path may not contain "." or ".." segments: ${rest}`)
  const info = await c.var.deps.node.info(hash, { signal: signalOf(c) })
  return await viewPath(c, info, names, rest === '' || rest.endsWith('/'))
})
