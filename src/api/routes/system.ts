/** The node itself: GET /health, /stats, /network, /metrics; maintenance: POST /gc, /verify, /network/connect (admin). */
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { RouteNotFoundError } from '../../errors.js'
import { Routes, signalOf } from '../route.js'
import { validBody } from '../validate.js'

const MULTIADDR_HELP = 'multiaddr must be a multiaddr string such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…'

function parses (s: string): boolean {
  try { multiaddr(s); return true } catch { return false }
}

/** POST /network/connect: one multiaddr, checked here so a bad one is a 400 before any dial. */
const Connect = z.object({
  multiaddr: z.string({ error: MULTIADDR_HELP }).trim().min(1, { error: MULTIADDR_HELP }).max(1024, { error: 'multiaddr is too long (at most 1024 characters)' })
    .refine(s => s.startsWith('/') && parses(s), { error: (issue) => `not a multiaddr: "${String(issue.input).slice(0, 200)}" (${MULTIADDR_HELP})` })
})

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

system.route({ method: 'POST', path: '/network/connect', scope: 'admin', rate: 'metadata', audit: { action: 'network.connect', target: { response: 'peer_id' } } }, async (c) => {
  const body = await validBody(c, Connect)
  const res = await c.var.deps.node.connect(body.multiaddr, { signal: signalOf(c) })
  return c.json({ ...res, message: `Connected to ${res.peer_id}` })
})

system.route({ method: 'GET', path: '/metrics', scope: 'read', rate: 'none', audit: 'none' }, async (c) => {
  const metrics = c.var.deps.metrics
  if (metrics === undefined) throw new RouteNotFoundError('metrics are turned off (api.metrics is false)', { path: c.req.path })
  return c.body(await metrics.scrape(), 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' })
})
