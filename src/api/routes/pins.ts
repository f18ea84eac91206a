/** Pins and the lifecycle of local adds: POST /pin/:hash, DELETE /unpin/:hash, GET /pins, /pins/status, DELETE /content/:hash. */
import { parseHash } from '../../format/hash.js'
import { DEFAULT_PRIORITY, parsePriority } from '../../interface.js'
import { Routes } from '../route.js'

export const pins = new Routes()

pins.route({ method: 'POST', path: '/pin/:hash', scope: 'write', rate: 'metadata', audit: { action: 'pin', target: { param: 'hash' } } }, async (c) => {
  const hash = parseHash(c.req.param('hash'))
  const raw = c.req.query('priority')
  // the one priority rule (interface.ts): digits only, 1-100
  const priority = raw === undefined || raw === '' ? DEFAULT_PRIORITY : parsePriority(raw)
  const res = await c.var.deps.node.pin(hash, priority)
  return c.json({ hash: res.hash, priority: res.priority, state: res.state ?? 'pinned', message: res.state === 'fetching' ? 'Pin recorded; fetching the content from peers' : 'Content pinned successfully' })
})

pins.route({ method: 'DELETE', path: '/unpin/:hash', scope: 'write', rate: 'metadata', audit: { action: 'unpin', target: { param: 'hash' } } }, async (c) => {
  const res = await c.var.deps.node.unpin(parseHash(c.req.param('hash')))
  return c.json({ hash: res.hash, message: 'Content unpinned successfully', was_pinned: res.was_pinned })
})

pins.route({ method: 'GET', path: '/pins', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => c.json(await c.var.deps.node.pins()))

pins.route({ method: 'GET', path: '/pins/status', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => c.json(await c.var.deps.node.pinStatus()))

pins.route({ method: 'DELETE', path: '/content/:hash', scope: 'write', rate: 'metadata', audit: { action: 'content.delete', target: { param: 'hash' } } }, async (c) => {
  const res = await c.var.deps.node.rm(parseHash(c.req.param('hash')))
  return c.json({ ...res, message: 'Local add released' })
})
