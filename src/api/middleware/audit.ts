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

export type AuditSink = (entry: Omit<AuditEntry, 'id' | 'time'>) => void

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** A stable name for what a request asks. */
export function actionOf (method: string, path: string): { action: string, target?: string } {
  const seg = path.split('/').filter(s => s !== '')
  const hex = (s: string | undefined): string | undefined => s !== undefined && /^[0-9a-fA-F]{16,64}$/.test(s) ? s.toLowerCase() : undefined
  switch (seg[0]) {
    case 'upload': return { action: `upload.${seg[1] ?? 'unknown'}` }
    case 'pin': return { action: 'pin', target: hex(seg[1]) }
    case 'unpin': return { action: 'unpin', target: hex(seg[1]) }
    case 'content': return { action: 'content.delete', target: hex(seg[1]) }
    case 'gc': return { action: 'gc' }
    case 'verify': return { action: 'verify' }
    case 'tokens':
      if (seg.length === 1) return { action: 'token.create' }
      return { action: `token.${seg[2] ?? method.toLowerCase()}`, target: hex(seg[1]) }
    default: return { action: `${method.toLowerCase()} ${path.slice(0, 200)}` }
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
      let { action, target } = actionOf(c.req.method, c.req.path)
      if (status < 400 && !sent && action.startsWith('upload.') && (c.res.headers.get('content-type') ?? '').includes('json')) {
        try { target = (await c.res.clone().json() as { hash?: string }).hash } catch {}
      }
      if (status < 400 && action === 'token.create' && !sent) {
        try { target = (await c.res.clone().json() as { id?: string }).id } catch {}
      }
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
