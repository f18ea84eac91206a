/**
 * The audit trail of the HTTP API: every request that changes something
 * (POST, PUT, PATCH, DELETE), whether it succeeded or was refused (401, 403,
 * 429 …), becomes one entry: who (token id and name, client address), what
 * (action, path, target), when, and the result.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { HttpBindings } from '@hono/node-server'
import type { AuditEntry } from '../../auth/audit.js'
import { isOpenHashError } from '../../errors.js'
import { principal } from './auth.js'
import { clientOf } from '../client-address.js'
import { routeOf } from '../route.js'

export type AuditSink = (entry: Omit<AuditEntry, 'id' | 'time'>) => void

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

const hex = (s: string | undefined): string | undefined => s !== undefined && /^[0-9a-fA-F]{16,64}$/.test(s) ? s.toLowerCase() : undefined

/** The entry's action and target, as the route declares them (api/route.ts); a target in the answer is read from its JSON. */
async function actionOf (c: Context, sent: boolean, status: number): Promise<{ action: string, target?: string }> {
  const r = routeOf(c)
  const { action, target } = r.audit
  if (target === undefined) return { action }
  if ('param' in target) return { action, target: hex(r.params[target.param]) }
  if (status >= 400 || sent || !(c.res.headers.get('content-type') ?? '').includes('json')) return { action }
  try {
    const v = (await c.res.clone().json() as Record<string, unknown>)[target.response]
    return { action, target: typeof v === 'string' ? v : undefined }
  } catch {
    return { action }
  }
}

export function auditMiddleware (sink: AuditSink): MiddlewareHandler<{ Bindings: HttpBindings }> {
  return async (c: Context<{ Bindings: HttpBindings }>, next) => {
    if (!MUTATING.has(c.req.method)) { await next(); return }
    try {
      await next()
    } finally {
      const sent = c.res === RESPONSE_ALREADY_SENT
      const status = sent ? (c.env?.outgoing?.statusCode ?? 200) : c.res.status
      const err = c.error
      let outcome = status < 400 ? 'ok' : (isOpenHashError(err) ? err.code : (status >= 500 ? 'INTERNAL' : `HTTP_${status}`))
      if (status >= 400 && !isOpenHashError(err) && !sent) {
        // an error answered without throwing (e.g. the rate limiter's 429): its body names the code
        try {
          const code = (await c.res.clone().json() as { error_code?: unknown }).error_code
          if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) outcome = code
        } catch {}
      }
      const { action, target } = await actionOf(c, sent, status)
      const who = principal(c)
      const client = clientOf(c)
      sink({
        actor: {
          ...(who.kind === 'token' ? { token_id: who.id, token_name: who.name } : {}),
          ...(who.kind === 'token' && who.refused !== undefined ? { token_status: who.refused } : {}),
          ip: client.ip === '' ? '-' : client.ip,
          ...(client.forwarded ? { via: client.peer } : {})
        },
        method: c.req.method,
        path: c.req.path.slice(0, 300),
        action,
        status,
        outcome,
        ...(target !== undefined ? { target } : {})
      })
    }
  }
}
