/**
 * The REST API of ../shared/spec/openhashdb-rest-api.md as a Hono app over
 * an `OpenHashNode`: the request pipeline in order, then the route groups
 * (routes/*.ts) mounted as sub-apps. Each route declares its scope, rate
 * class and audit action next to its handler (api/route.ts); the middleware
 * reads those declarations. Errors go through api/errors.ts. Content is
 * written straight to the Node response (http-content.ts) and uploads are
 * parsed as streams (multipart.ts), so no body is ever held in memory.
 */
import { TicketSigner } from '../auth/tickets.js'
import { Hono } from 'hono'
import type { Context } from 'hono'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { MethodNotAllowedError, RouteNotFoundError, UnauthorizedError } from '../errors.js'
import type { OpenHashNode } from '../interface.js'
import { resolveClient } from './client-address.js'
import { errorResponse } from './errors.js'
import type { AuditSink } from './middleware/audit.js'
import { auditMiddleware } from './middleware/audit.js'
import type { AuthOptions } from './middleware/auth.js'
import { authMiddleware } from './middleware/auth.js'
import { corsHeaders, preflight } from './middleware/cors.js'
import { createMetrics } from './middleware/metrics.js'
import type { RateLimitConfig } from './middleware/rate-limit.js'
import { rateLimitMiddleware } from './middleware/rate-limit.js'
import { trackRequests } from './middleware/request-info.js'
import type { ApiEnv, Deps } from './route.js'
import { resolveRoute } from './route.js'
import { GROUPS, ROUTES } from './routes/index.js'
import { startStatsHistory } from './routes/stats-history.js'

export interface ApiOptions {
  /** Largest accepted upload in bytes (413 past it). */
  maxUploadBytes: number
  /** Aborted when the daemon shuts down: in-flight uploads roll back. */
  signal?: AbortSignal
  /** True once shutdown starts: /health answers 503. */
  isShuttingDown?: () => boolean
  /**
   * Tokens and policy (middleware/auth.ts). Without it no token is checked, but the
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
  /** Objects one page of GET /list?q= looks at, at most (default 10,000). */
  listScanLimit?: number
}

/** No token store: no token is required, and one that is sent is refused. */
const NO_TOKENS: AuthOptions = {
  required: false,
  publicReads: true,
  loopbackOnly: false,
  authenticate: async () => { throw new UnauthorizedError('this API has no tokens') }
}

const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/** 405 in the error JSON; Allow lists the route's methods, then HEAD (GET routes answer it) and OPTIONS (CORS preflight). */
function wrongMethod (c: Context, methods: string[]): Response {
  const allow = [...methods.filter(m => m !== 'HEAD').sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b)), ...(methods.includes('HEAD') ? ['HEAD'] : []), 'OPTIONS']
  return errorResponse(new MethodNotAllowedError(`method ${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`, { method: c.req.method, allow }))
}

export function createApp (node: OpenHashNode, options: ApiOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>()
  const metrics = options.metrics === false ? undefined : createMetrics(node)
  // download tickets (?ticket= on /download and /view): a fresh secret per app, so per daemon run
  const tickets = new TicketSigner()
  const deps: Deps = { node, options, metrics, tickets }
  if (metrics !== undefined) startStatsHistory(metrics, options.signal) // GET /stats/history — routes/stats-history.ts

  app.onError((err, c) => {
    // a response that already started cannot become an error page; cut it
    if (c.env?.outgoing?.headersSent === true) {
      c.env.outgoing.destroy()
      return RESPONSE_ALREADY_SENT
    }
    return errorResponse(err)
  })

  // ---- the request pipeline, in the order it runs ----
  app.use(corsHeaders()) //                          the CORS headers on every Fetch answer          — middleware/cors.ts
  app.use(resolveClient(options.trustedProxies)) //  who the client is, behind any trusted proxy      — client-address.ts
  app.use(resolveRoute(ROUTES)) //                   the route's declaration: c.var.route             — route.ts
  app.use(trackRequests()) //                        route label and principal for the log and metrics — middleware/request-info.ts
  if (metrics !== undefined) app.use(metrics.middleware) // sees every request and its final status  — middleware/metrics.ts
  // audit outside authentication, so that refused attempts are recorded too                          — middleware/audit.ts
  if (options.audit !== undefined) app.use(auditMiddleware(options.audit))
  app.use(authMiddleware(options.auth ?? NO_TOKENS, tickets)) // Host check, browser safety, tokens: c.var.principal — middleware/auth.ts
  // keyed by the principal's token id or the client IP                                               — middleware/rate-limit.ts
  if (options.rateLimit !== undefined) app.use(rateLimitMiddleware(options.rateLimit, errorResponse, (cls) => metrics?.rateLimited.inc({ class: cls })))
  app.use(methodNotAllowed({ app, onMethodNotAllowed: wrongMethod })) // a known path, a wrong method: 405 with Allow
  app.use(preflight()) //                            OPTIONS on any path: 204                         — middleware/cors.ts
  app.use(async (c, next) => { c.set('deps', deps); await next() })

  for (const group of GROUPS) app.route('/', group.app)
  app.notFound((c) => errorResponse(new RouteNotFoundError(`no such endpoint: ${c.req.method} ${c.req.path}`, { path: c.req.path })))
  return app
}
