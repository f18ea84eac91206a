/**
 * CORS: any origin may read the API's answers (reads are public data; what
 * changes something needs a token, which a web page cannot send: see
 * middleware/auth.ts), so every answer carries the same fixed headers.
 *
 * Hand-written rather than `hono/cors`: that one joins the lists with ","
 * where the reference's headers use ", ", adds `Vary` to preflights, and
 * touches `c.res` before the route runs (which turns content written
 * straight to the Node response into a copy of RESPONSE_ALREADY_SENT).
 */
import type { MiddlewareHandler } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Content-Disposition, ETag, Accept-Ranges, Link, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'
}

/** The CORS headers on every Fetch response (content written straight to Node sets them itself). */
export function corsHeaders (): MiddlewareHandler<any> {
  return async (c, next) => {
    await next()
    if (c.res !== RESPONSE_ALREADY_SENT) for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v)
  }
}

/** CORS preflight: any OPTIONS request is answered 204, on every path, without a token. */
export function preflight (): MiddlewareHandler<any> {
  return async (c, next) => {
    if (c.req.method !== 'OPTIONS') { await next(); return }
    return new Response(null, { status: 204, headers: { ...CORS_HEADERS, 'Access-Control-Max-Age': '86400' } })
  }
}
