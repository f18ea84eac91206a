/** Metadata: GET /info/:hash, /entries/:hash and /list (paged by `after`, `limit`, `offset`; a name search with `q`). */
import { parseHash } from '../../format/hash.js'
import { InvalidArgumentError } from '../../errors.js'
import type { ContentInfo } from '../../interface.js'
import { NAME_SEARCH_LIMIT, NAME_SEARCH_SCAN } from '../../interface.js'
import type { C } from '../route.js'
import { Routes, signalOf } from '../route.js'

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

/**
 * GET /list?q=: objects whose filename contains `q` (case-insensitive), in
 * hash order, over the whole store. Each page looks at no more than
 * `listScanLimit` objects, so a page may hold fewer than `limit` matches (even
 * none) and still have a next link: follow `Link` until there is none.
 */
async function nameSearch (c: C, q: string): Promise<Response> {
  if (q.length > 256) throw new InvalidArgumentError(`query parameter q must be at most 256 characters, got ${q.length}`)
  if (c.req.query('offset') !== undefined) throw new InvalidArgumentError('offset cannot be combined with q: follow the Link header')
  const limit = intParam(c, 'limit', 1, 100_000) ?? NAME_SEARCH_LIMIT
  const afterRaw = c.req.query('after')
  const after = afterRaw === undefined || afterRaw === '' ? undefined : parseHash(afterRaw)
  const page = await c.var.deps.node.searchNames(q, { after, limit, scan: c.var.deps.options.listScanLimit ?? NAME_SEARCH_SCAN, signal: signalOf(c) })
  if (page.next !== undefined) c.header('Link', `</list?q=${encodeURIComponent(q)}&after=${page.next}&limit=${limit}>; rel="next"`)
  return c.json(page.items.map(infoBody))
}

export const metadata = new Routes()

metadata.route({ method: 'GET', path: '/info/:hash', scope: 'public', rate: 'metadata', audit: 'none' }, async (c) => {
  return c.json(infoBody(await c.var.deps.node.info(parseHash(c.req.param('hash')), { signal: signalOf(c) })))
})

metadata.route({ method: 'GET', path: '/entries/:hash', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => {
  const hash = parseHash(c.req.param('hash'))
  return c.json({ hash, entries: await c.var.deps.node.entries(hash, { signal: signalOf(c) }) })
})

metadata.route({ method: 'GET', path: '/list', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => {
  const q = c.req.query('q')
  if (q !== undefined && q !== '') return await nameSearch(c, q)
  const limit = intParam(c, 'limit', 1, 100_000)
  const offset = intParam(c, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0
  const afterRaw = c.req.query('after')
  const after = afterRaw === undefined || afterRaw === '' ? undefined : parseHash(afterRaw)
  const items = await c.var.deps.node.list({ after, limit: limit === undefined ? undefined : limit + offset })
  const page = items.slice(offset)
  if (limit !== undefined && page.length === limit) {
    c.header('Link', `</list?after=${page[page.length - 1].hash}&limit=${limit}>; rel="next"`)
  }
  return c.json(page.map(infoBody))
})
