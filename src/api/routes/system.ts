/** The node itself: GET /health, /stats, /network, /metrics; maintenance: POST /gc, /verify (admin). */
import { RouteNotFoundError } from '../../errors.js'
import { Routes, signalOf } from '../route.js'

export const system = new Routes()

system.route({ method: 'GET', path: '/health', scope: 'none', rate: 'none', audit: 'none' }, async (c) => {
  const h = await c.var.deps.node.health()
  const healthy = h.status === 'healthy' && c.var.deps.options.isShuttingDown?.() !== true
  return c.json({ ...h, status: healthy ? 'healthy' : 'unhealthy' }, healthy ? 200 : 503)
})

system.route({ method: 'POST', path: '/gc', scope: 'admin', rate: 'metadata', audit: { action: 'gc' } }, async (c) => c.json(await c.var.deps.node.gc({ signal: signalOf(c) })))

system.route({ method: 'POST', path: '/verify', scope: 'admin', rate: 'metadata', audit: { action: 'verify' } }, async (c) => c.json(await c.var.deps.node.verify({ signal: signalOf(c) })))

system.route({ method: 'GET', path: '/stats', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => c.json({ ...(await c.var.deps.node.stats()), timestamp: new Date().toISOString() }))

system.route({ method: 'GET', path: '/network', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => c.json(await c.var.deps.node.network()))

system.route({ method: 'GET', path: '/metrics', scope: 'read', rate: 'none', audit: 'none' }, async (c) => {
  const metrics = c.var.deps.metrics
  if (metrics === undefined) throw new RouteNotFoundError('metrics are turned off (api.metrics is false)', { path: c.req.path })
  return c.body(await metrics.scrape(), 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' })
})
