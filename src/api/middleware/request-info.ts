/**
 * What the server knows about one request on the Node side, shared by the
 * request log (server.ts) and the metrics (metrics.ts): when it started, the
 * body bytes that came in and went out, its route pattern and principal.
 *
 * Content is written straight to the Node response (http-content.ts), so
 * bytes are counted on the Node objects, not on Fetch Responses: the
 * response's write/end and the request's push are wrapped once per request
 * (one closure each, a length addition per chunk, nothing allocated per
 * chunk), which costs nothing measurable on the 1 GiB paths.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Context, MiddlewareHandler } from 'hono'
import type { ClientAddress } from '../client-address.js'
import { routeOf } from '../route.js'

/** Who made the request, as the auth middleware records it in `c.var.principal`. */
export type Principal =
  | { kind: 'token', id: string, name: string, scopes?: string[], refused?: 'revoked' | 'expired' }
  | { kind: 'anonymous' }

export interface RequestInfo {
  /** process.hrtime.bigint() when the request reached the server. */
  readonly started: bigint
  /** Route pattern (e.g. /download/:hash), `unmatched` for unknown paths; set by the app. */
  route: string
  /** Body bytes read from the client so far. */
  bytesIn: number
  /** Body bytes written to the client so far (headers not included). */
  bytesOut: number
  /** The principal once authentication ran (read at the end of the request). */
  principal: () => Principal | undefined
  /** The client behind any trusted proxy (api/client-address.ts), once the app resolved it. */
  client?: ClientAddress
}

const infos = new WeakMap<ServerResponse, RequestInfo>()

function byteLength (chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8')
  if (chunk instanceof Uint8Array) return chunk.byteLength
  return 0
}

/**
 * The request's info, set up on first call (idempotent): the server calls it
 * as the request arrives, before any body byte is pushed; the app's metrics
 * middleware calls it again to fill in the route.
 */
export function requestInfo (incoming: IncomingMessage, outgoing: ServerResponse): RequestInfo {
  let info = infos.get(outgoing)
  if (info !== undefined) return info
  const created: RequestInfo = { started: process.hrtime.bigint(), route: 'unmatched', bytesIn: 0, bytesOut: 0, principal: () => undefined }
  info = created
  infos.set(outgoing, created)

  const write = outgoing.write
  const end = outgoing.end
  const push = incoming.push

  outgoing.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    created.bytesOut += byteLength(chunk, rest[0])
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
  } as ServerResponse['write']
  outgoing.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') created.bytesOut += byteLength(chunk, rest[0])
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest)
  } as ServerResponse['end']
  incoming.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null) created.bytesIn += byteLength(chunk, encoding)
    return push.call(this, chunk, encoding)
  }
  return created
}

/** Bytes in, at least the declared Content-Length of a request that was read to the end. */
export function bytesIn (incoming: IncomingMessage, info: RequestInfo): number {
  const declared = Number(incoming.headers['content-length'] ?? NaN)
  return incoming.complete && Number.isSafeInteger(declared) && declared > info.bytesIn ? declared : info.bytesIn
}

/** The route pattern of a request, as declared (never the raw path: bounded), else `unmatched`. */
export function routeLabel (c: Context<any>): string {
  return routeOf(c).pattern ?? 'unmatched'
}

/**
 * Fills in the request's route and how to find its principal (set later by
 * authentication) for the log and the metrics (after resolveRoute).
 */
export function trackRequests (): MiddlewareHandler<any> {
  return async (c, next) => {
    const incoming = c.env?.incoming
    const outgoing = c.env?.outgoing
    if (incoming !== undefined && outgoing !== undefined) {
      const info = requestInfo(incoming, outgoing)
      info.route = routeLabel(c)
      info.principal = () => (c.get as (key: string) => unknown)('principal') as Principal | undefined
    }
    await next()
  }
}
