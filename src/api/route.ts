/**
 * One declaration per route. Each route file (routes/*.ts) registers its
 * handlers through `Routes.route({ method, path, scope, rate, audit }, handler)`;
 * the middleware (auth, rate limit, audit, metrics labels) reads the request's
 * declaration from `c.var.route` (set by `resolveRoute`, the first step of the
 * pipeline) instead of keeping path tables of its own, and
 * hono/method-not-allowed derives `Allow` from the routes so registered.
 * Adding an endpoint therefore touches one route file (plus docs/openapi.json).
 */
import { Hono } from 'hono'
import type { Context, Handler, MiddlewareHandler } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import { TrieRouter } from 'hono/router/trie-router'
import type { OpenHashNode } from '../interface.js'
import type { TicketSigner } from '../auth/tickets.js'
import type { ApiOptions } from './app.js'
import type { ApiMetrics } from './middleware/metrics.js'
import type { RateLimitClass } from './middleware/rate-limit.js'

/** GET routes answer HEAD too (Hono runs the GET handler without the body). */
export type Method = 'GET' | 'POST' | 'DELETE'

/**
 * What a route needs from the caller (middleware/auth.ts):
 * - `none`: no token ever (/health, the API docs);
 * - `public`: the read scope, but api.public_reads lets it through without a token;
 * - `read`, `write`, `admin`: that token scope whenever tokens are required;
 * - `admin-always`: an admin token in every auth mode, auth off included (tokens, audit).
 */
export type Access = 'none' | 'public' | 'read' | 'write' | 'admin' | 'admin-always'

/** The audit entry of a mutating route: its action and where its target comes from. */
export interface AuditSpec {
  action: string
  /** A path parameter (a hash or token id), or a field of the JSON answer (what an upload stored). */
  target?: { param: string } | { response: string }
}

export interface RouteSpec {
  method: Method
  path: string
  scope: Access
  /** Rate-limit class (middleware/rate-limit.ts), or `none` for never limited. */
  rate: RateLimitClass | 'none'
  /** Audit of a mutating route; `none` only for GET routes (reads are not audited). */
  audit: AuditSpec | 'none'
  /** An upload that may carry its token as the `access_token` form field. */
  formToken?: true
  /** A read of one hash (its `:hash` parameter) that accepts a download ticket as `?ticket=` (auth/tickets.ts), GET and HEAD only. */
  ticket?: true
}

/** What the handlers use, put on the context by createApp (`c.var.deps`). */
export interface Deps {
  node: OpenHashNode
  options: ApiOptions
  metrics?: ApiMetrics
  /** Issues and checks download tickets (auth/tickets.ts); one secret per app. */
  tickets: TicketSigner
}

/**
 * `signal`: the request's own AbortSignal from the server (server.ts): it fires
 * when the client goes away, its body stops arriving, or the daemon shuts
 * down. Every long operation of a route gets it.
 */
export interface ApiEnv {
  Bindings: HttpBindings & { signal?: AbortSignal }
  Variables: { deps: Deps, route: Resolved }
}

export type C = Context<ApiEnv>

/** The request's signal (server.ts), else the server-wide one (an app run without the server). */
export function signalOf (c: C): AbortSignal | undefined {
  return c.env?.signal ?? c.var.deps.options.signal
}

const declared = new WeakMap<Function, RouteSpec>()

/** The declaration a handler was registered with (tests check every route of the app has one). */
export function declarationOf (handler: Function): RouteSpec | undefined {
  return declared.get(handler)
}

/** One group of routes: a Hono sub-app plus the declarations of its routes. */
export class Routes {
  readonly app = new Hono<ApiEnv>()
  readonly specs: RouteSpec[] = []

  route (spec: RouteSpec, handler: Handler<ApiEnv>): this {
    if (spec.method !== 'GET' && spec.audit === 'none') throw new Error(`${spec.method} ${spec.path} changes something: declare its audit action`)
    this.specs.push(spec)
    declared.set(handler, spec)
    if (spec.method === 'GET') this.app.get(spec.path, handler)
    else if (spec.method === 'POST') this.app.post(spec.path, handler)
    else this.app.delete(spec.path, handler)
    return this
  }
}

/** A request's declaration: the route it reached, or what a wrong method or an unknown path gets. */
export interface Resolved {
  /** The matched route pattern (the metrics label); undefined for unknown paths. */
  pattern?: string
  /** The route for this very method; undefined for a wrong method or an unknown path. */
  spec?: RouteSpec
  scope: Access
  rate: RateLimitClass | 'none'
  audit: AuditSpec
  formToken: boolean
  /** The route accepts `?ticket=` (RouteSpec.ticket). */
  ticket: boolean
  params: Record<string, string>
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const ADMIN: Access[] = ['admin', 'admin-always']

/** All declared routes, matched by path like the app's router does. */
export class RouteTable {
  private readonly router = new TrieRouter<RouteSpec[]>()
  readonly specs: readonly RouteSpec[]

  constructor (groups: Iterable<Routes>) {
    const byPath = new Map<string, RouteSpec[]>()
    for (const g of groups) for (const s of g.specs) byPath.set(s.path, [...(byPath.get(s.path) ?? []), s])
    for (const [path, specs] of byPath) this.router.add('ALL', path, specs)
    this.specs = [...byPath.values()].flat()
  }

  resolve (method: string, path: string): Resolved {
    const matches = this.router.match('ALL', path)[0] as Array<[RouteSpec[], Record<string, string>]>
    const want = method === 'HEAD' ? 'GET' : method
    for (const [specs, params] of matches) {
      const spec = specs.find(s => s.method === want)
      if (spec !== undefined) {
        const audit = spec.audit === 'none' ? generic(method, path) : spec.audit
        return { pattern: spec.path, spec, scope: spec.scope, rate: spec.rate, audit, formToken: spec.formToken === true, ticket: spec.ticket === true, params }
      }
    }
    const audit = generic(method, path)
    const pattern = matches[0]?.[0][0].path
    // CORS preflight: answered to anyone, never limited (middleware/cors.ts)
    if (method === 'OPTIONS') return { pattern, scope: 'none', rate: 'none', audit, formToken: false, ticket: false, params: matches[0]?.[1] ?? {} }
    const byMethod: Access = MUTATING.has(method) ? 'write' : 'read'
    if (matches.length === 0) return { scope: byMethod, rate: 'none', audit, formToken: false, ticket: false, params: {} }
    // a wrong method on a known path: the path's rate class; the method's scope, raised to the path's admin level
    const all = matches.flatMap(([specs]) => specs)
    const [first, params] = [matches[0][0][0], matches[0][1]]
    let scope: Access = byMethod
    if (all.every(s => s.scope === 'none')) scope = 'none'
    else if (all.some(s => s.scope === 'admin-always')) scope = 'admin-always'
    else if (all.some(s => ADMIN.includes(s.scope))) scope = 'admin'
    return { pattern, scope, rate: first.rate, audit, formToken: false, ticket: false, params }
  }
}

function generic (method: string, path: string): AuditSpec {
  return { action: `${method.toLowerCase()} ${path.slice(0, 200)}` }
}

/** The first step: the request's declaration on `c.var.route`. */
export function resolveRoute (table: RouteTable): MiddlewareHandler<any> {
  return async (c, next) => {
    c.set('route', table.resolve(c.req.method, c.req.path))
    await next()
  }
}

/** The request's declaration (an app without resolveRoute: an unknown path). */
export function routeOf (c: Context<any>): Resolved {
  const r = (c.get as (key: string) => unknown)('route') as Resolved | undefined
  return r ?? { scope: MUTATING.has(c.req.method) ? 'write' : 'read', rate: 'none', audit: generic(c.req.method, c.req.path), formToken: false, ticket: false, params: {} }
}
