/**
 * Who may do what over HTTP (docs/security.md):
 *
 * - Every route declares the scope it needs (api/route.ts: read, write or
 *   admin; admin ⊇ write ⊇ read), or none (/health, the API docs; OPTIONS
 *   needs none anywhere). A wrong method on a known path needs read (write
 *   when it is POST, PUT, PATCH or DELETE), admin on an admin path. With auth on, a request
 *   without a valid token gets 401, one whose token lacks the scope 403.
 *   Uploads may carry the token as the `access_token` form field instead of
 *   the Authorization header (checked before the first file part).
 *   `public_reads` lets /view, /download and /info through without one.
 * - With auth off (the loopback default) requests need no token, but a token
 *   that is sent is still checked (and names the caller in the audit log).
 *   In the auto mode that decision is made per request: a client that is not
 *   local (api/client-address.ts: forwarded by a proxy that is not trusted,
 *   or a trusted proxy's remote client) needs a token even on loopback.
 * - The token and audit routes (/tokens…, /audit) need an admin token in
 *   every mode, auth off included (GET /tokens/self: any valid token).
 * - Browser safety, whatever the auth mode: a cross-origin request (an Origin
 *   other than the API's own, or Sec-Fetch-Site cross-site/same-site) that
 *   changes something or reaches an admin route must carry a token; a web
 *   page cannot, so it cannot change a node. "Own origin" is the Host (or a
 *   trusted proxy's forwarded host and protocol). And when the API listens
 *   on loopback only, the Host header must name a loopback host or one of
 *   api.allowed_hosts (api/host-check.ts), so that a DNS-rebinding page
 *   cannot reach it under its own name.
 * - A download ticket (`?ticket=`, auth/tickets.ts) stands in for a read
 *   token on GET/HEAD /download/{hash} and /view/{hash}[/path] of its own
 *   hash only; anywhere else it is refused (401).
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { TicketSigner } from '../../auth/tickets.js'
import type { TokenInfo, Scope } from '../../auth/tokens.js'
import { grants } from '../../auth/tokens.js'
import { ForbiddenError, UnauthorizedError } from '../../errors.js'
import { clientOf } from '../client-address.js'
import { hostCheck } from '../host-check.js'
import { routeOf } from '../route.js'

export type Principal =
  /** `refused`: a genuine token that was turned away (named in the audit log, grants nothing). */
  | { kind: 'token', id: string, name: string, scopes: Scope[], refused?: 'revoked' | 'expired' }
  | { kind: 'anonymous' }

export interface AuthOptions {
  /** Tokens required (api.auth on, or auto beyond loopback). */
  required: boolean
  /** /view, /download, /info readable without a token. */
  publicReads: boolean
  /** The API listens on loopback only: accept only loopback Host headers (and allowedHosts). */
  loopbackOnly: boolean
  /** api.auth auto: a client that is not local needs a token even when `required` is false. */
  requireRemote?: boolean
  /** api.allowed_hosts: Host names answered besides loopback ones (api/host-check.ts). */
  allowedHosts?: readonly string[]
  /** Check a token (counting its use); throws UNAUTHORIZED. */
  authenticate: (token: string) => Promise<TokenInfo>
  /** A token's record by id, to name a revoked or expired token in the audit log. */
  lookup?: (id: string) => Promise<TokenInfo>
}

/** Set on the context: who is asking, and what the route needs. */
export interface AuthState {
  principal: Principal
  /** Scope the route needs, or undefined for none. */
  need?: Scope
  /** An upload that may still authenticate with its `access_token` form field. */
  pendingForm?: { reason: 'auth' | 'cross-origin' }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The scope a request needs (undefined: none), from its route's declaration (api/route.ts). */
export function requirement (c: Context): { need?: Scope, publicRead: boolean, upload: boolean, always: boolean } {
  const r = routeOf(c)
  const need: Scope | undefined = r.scope === 'none' ? undefined : r.scope === 'public' ? 'read' : r.scope === 'admin-always' ? 'admin' : r.scope
  return { need, publicRead: r.scope === 'public', upload: r.formToken, always: r.scope === 'admin-always' }
}

function bearer (c: Context): string | undefined {
  const h = c.req.header('authorization')
  if (h === undefined) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
  if (m === null) throw new UnauthorizedError('malformed Authorization header: expected "Bearer <token>"')
  return m[1]
}

export function isCrossOrigin (c: Context): boolean {
  const site = c.req.header('sec-fetch-site')
  if (site === 'cross-site' || site === 'same-site') return true
  const origin = c.req.header('origin')
  if (origin === undefined) return false
  // behind a trusted proxy: the host and protocol the client used
  const client = clientOf(c)
  const host = (client.host ?? c.req.header('host') ?? '').toLowerCase()
  const o = origin.toLowerCase()
  if (client.proto !== undefined) return o !== `${client.proto}://${host}`
  return o !== `http://${host}` && o !== `https://${host}`
}

function principalOf (t: TokenInfo): Principal {
  return { kind: 'token', id: t.id, name: t.name, scopes: t.scopes }
}

/** Authenticate `token` as the request's principal (named in the audit even when it lacks the scope), then check the scope. */
async function check (c: Context, options: AuthOptions, token: string, need: Scope | undefined, state: AuthState): Promise<Principal> {
  let info: TokenInfo
  try {
    info = await options.authenticate(token)
  } catch (err) {
    await nameRefused(c, options, err, state)
    throw err
  }
  state.principal = principalOf(info)
  // `principal` is what the rate limiter, the request log and the metrics read
  c.set('principal' as never, state.principal as never)
  if (need !== undefined && !grants(info.scopes, need)) {
    throw new ForbiddenError(`token ${info.id} (${info.scopes.join(', ')}) lacks the ${need} scope this request needs`, { token_id: info.id, scopes: info.scopes, required: need })
  }
  return principalOf(info)
}

/**
 * A token whose secret matched but that is revoked or expired (the token
 * store says so only then: a wrong secret never confirms an id) becomes the
 * refused request's principal, so that the audit log names it.
 */
async function nameRefused (c: Context, options: AuthOptions, err: unknown, state: AuthState): Promise<void> {
  if (!(err instanceof UnauthorizedError)) return
  const id = err.details?.token_id
  const status = err.details?.status
  if (typeof id !== 'string' || (status !== 'revoked' && status !== 'expired')) return
  let name = ''
  let scopes: Scope[] = []
  try {
    const t = await options.lookup?.(id)
    if (t !== undefined) { name = t.name; scopes = t.scopes }
  } catch {} // the refusal stands either way; the audit entry then has the id alone
  state.principal = { kind: 'token', id, name, scopes, refused: status }
  c.set('principal' as never, state.principal as never)
}

/**
 * A request with `?ticket=` (auth/tickets.ts): only a GET or HEAD of a route
 * that declares `ticket` (/download, /view) for the ticket's own hash, and
 * only while the token that asked for it is still active. It then reads as
 * that token with the read scope alone. A ticket anywhere else is refused.
 */
async function acceptTicket (c: Context, options: AuthOptions, tickets: TicketSigner | undefined, ticket: string, state: AuthState): Promise<boolean> {
  const r = routeOf(c)
  if (tickets === undefined || !r.ticket || (c.req.method !== 'GET' && c.req.method !== 'HEAD')) {
    throw new UnauthorizedError('a ticket is accepted only by GET and HEAD of /download/{hash} and /view/{hash}[/path], for its own hash; send other requests with "Authorization: Bearer <token>"')
  }
  const claims = tickets.verify(ticket, r.params.hash ?? '')
  // issued without a token (none was needed then): it grants nothing beyond what this request gets without one
  if (claims.tokenId === undefined) return false
  let info: TokenInfo | undefined
  try { info = await options.lookup?.(claims.tokenId) } catch {}
  if (info === undefined || info.status !== 'active') {
    throw new UnauthorizedError(`the token that asked for this ticket is ${info?.status ?? 'gone'}: its tickets no longer work`, { token_id: claims.tokenId })
  }
  state.principal = { kind: 'token', id: info.id, name: info.name, scopes: ['read'] }
  c.set('principal' as never, state.principal as never)
  return true
}

export function authMiddleware (options: AuthOptions, tickets?: TicketSigner): MiddlewareHandler {
  const hostAllowed = hostCheck(options.loopbackOnly, options.allowedHosts)
  return async (c, next) => {
    const state: AuthState = { principal: { kind: 'anonymous' } }
    c.set('auth' as never, state as never)
    c.set('principal' as never, state.principal as never)
    const method = c.req.method
    const host = c.req.header('host') ?? ''
    if (!hostAllowed(host)) {
      throw new ForbiddenError(options.loopbackOnly
        ? `Host "${host.slice(0, 200)}" is not served here: this API listens on loopback only (DNS-rebinding protection); list the name in api.allowed_hosts to serve it behind a proxy`
        : `Host "${host.slice(0, 200)}" is not served here: it is not in api.allowed_hosts`, { host: host.slice(0, 200) })
    }
    const { need, publicRead, upload, always } = requirement(c)
    state.need = need
    const ticket = c.req.query('ticket')
    if (ticket !== undefined) {
      if (!routeOf(c).ticket || bearer(c) === undefined) {
        // a ticket stands for its token: checked before any other rule (a ticket elsewhere is refused)
        if (await acceptTicket(c, options, tickets, ticket, state)) { await next(); return }
      }
    }
    if (need === undefined) { await next(); return }
    const token = bearer(c)
    if (token !== undefined) {
      // a token that is sent is always checked, whatever the mode
      await check(c, options, token, need, state)
      await next()
      return
    }
    const crossOrigin = isCrossOrigin(c)
    const required = options.required || (options.requireRemote === true && !clientOf(c).local)
    if (crossOrigin && (MUTATING.has(method) || need === 'admin')) {
      if (upload) state.pendingForm = { reason: 'cross-origin' }
      else throw new ForbiddenError('cross-origin request without a token: a web page may not change this node or reach its admin routes')
    } else if (always) {
      throw new UnauthorizedError('the token and audit routes need an admin token in every auth mode: send "Authorization: Bearer <token>" (the local CLI uses <data-dir>/admin.token)', { required: need })
    } else if (required && !(options.publicReads && publicRead)) {
      if (upload) state.pendingForm = { reason: 'auth' }
      else throw new UnauthorizedError(`this request needs a token with the ${need} scope: send "Authorization: Bearer <token>"`, { required: need })
    }
    await next()
  }
}

export function authState (c: Context): AuthState | undefined {
  return c.get('auth' as never) as AuthState | undefined
}

/** The caller, for rate limiting and audit. */
export function principal (c: Context): Principal {
  return authState(c)?.principal ?? { kind: 'anonymous' }
}

/** An upload's `access_token` form field: authenticate with it (before any file part). */
export async function acceptFormToken (c: Context, options: AuthOptions | undefined, token: string): Promise<void> {
  const state = authState(c)
  if (state === undefined || options === undefined || state.principal.kind === 'token') return
  await check(c, options, token.trim(), state.need, state)
  delete state.pendingForm
}

/** Before an upload's first file part: refuse it if it still needs a token. */
export function requireUploadAuth (c: Context): void {
  const pending = authState(c)?.pendingForm
  if (pending === undefined) return
  if (pending.reason === 'cross-origin') throw new ForbiddenError('cross-origin upload without a token: send it as "Authorization: Bearer <token>" or as the access_token form field before the file')
  throw new UnauthorizedError('this upload needs a token with the write scope: send "Authorization: Bearer <token>", or the access_token form field before the file part', { required: 'write' })
}
