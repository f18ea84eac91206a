/**
 * Admin routes: API tokens (create, list, inspect, revoke, reactivate,
 * renew) and the audit log. They need the admin scope when auth is on
 * (api/auth.ts decides); GET /tokens/self shows the calling token to itself.
 */
import type { Context, Hono } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import type { OpenHashNode } from '../interface.js'
import { InvalidArgumentError, UnauthorizedError } from '../errors.js'
import { authState } from './auth.js'

type App = Hono<{ Bindings: HttpBindings }>

/** A small JSON body (at most 16 KiB), as an object; `{}` when there is none. */
async function jsonBody (c: Context): Promise<Record<string, unknown>> {
  const length = Number(c.req.header('content-length') ?? 0)
  if (length > 16 * 1024) throw new InvalidArgumentError('request body too large (at most 16 KiB of JSON)')
  const text = await c.req.text()
  if (text.length > 16 * 1024) throw new InvalidArgumentError('request body too large (at most 16 KiB of JSON)')
  if (text.trim() === '') return {}
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) throw new InvalidArgumentError(`expected Content-Type: application/json, got "${type}"`)
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new InvalidArgumentError('request body is not valid JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('request body must be a JSON object')
  return v as Record<string, unknown>
}

function optString (body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new InvalidArgumentError(`${key} must be a string`)
  return v
}

function optSeconds (body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${key} must be a positive integer number of seconds`)
  return v
}

function tokenId (c: Context): string {
  const id = c.req.param('id') ?? ''
  if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError(`invalid token id: "${id}" (16 lowercase hex characters)`, { id })
  return id
}

export function mountAdmin (app: App, node: OpenHashNode): void {
  app.post('/tokens', async (c) => {
    const body = await jsonBody(c)
    const scopes = body.scopes
    if (scopes !== undefined && typeof scopes !== 'string' && !(Array.isArray(scopes) && scopes.every(s => typeof s === 'string'))) {
      throw new InvalidArgumentError('scopes must be an array of strings (read, write, admin) or a comma-separated string')
    }
    const issued = await node.createToken({
      name: optString(body, 'name'),
      email: optString(body, 'email'),
      scopes: (scopes as string[] | string | undefined) ?? ['read'],
      expires_in_s: optSeconds(body, 'expires_in_s')
    })
    return c.json({ ...issued.info, token: issued.token, message: 'Token created: the token is shown this once' }, 201)
  })

  app.get('/tokens', async (c) => c.json({ tokens: await node.listTokens() }))

  app.get('/tokens/self', async (c) => {
    const who = authState(c)?.principal
    if (who === undefined || who.kind !== 'token') throw new UnauthorizedError('no token: send "Authorization: Bearer <token>" to see its status')
    return c.json(await node.getToken(who.id))
  })

  app.get('/tokens/:id', async (c) => c.json(await node.getToken(tokenId(c))))

  app.post('/tokens/:id/revoke', async (c) => c.json({ ...(await node.revokeToken(tokenId(c))), message: 'Token revoked' }))

  app.post('/tokens/:id/reactivate', async (c) => c.json({ ...(await node.reactivateToken(tokenId(c))), message: 'Token reactivated' }))

  app.post('/tokens/:id/renew', async (c) => {
    const id = tokenId(c)
    const body = await jsonBody(c)
    const issued = await node.renewToken(id, { expires_in_s: optSeconds(body, 'expires_in_s') })
    return c.json({ ...issued.info, token: issued.token, message: 'Token renewed: the new token is shown this once; the old one no longer works' })
  })

  app.get('/audit', async (c) => {
    const rawLimit = c.req.query('limit')
    if (rawLimit !== undefined && !/^\d{1,5}$/.test(rawLimit)) throw new InvalidArgumentError(`limit must be an integer from 1 to 10000, got "${rawLimit}"`)
    const tokenFilter = c.req.query('token_id')
    if (tokenFilter !== undefined && !/^[0-9a-f]{16}$/.test(tokenFilter)) throw new InvalidArgumentError(`invalid token_id: "${tokenFilter}"`)
    const action = c.req.query('action')
    if (action !== undefined && !/^[a-z._ -]{1,64}$/.test(action)) throw new InvalidArgumentError(`invalid action filter: "${action}"`)
    const entries = await node.audit({
      limit: rawLimit === undefined ? undefined : Number(rawLimit),
      before: c.req.query('before'),
      token_id: tokenFilter,
      action
    })
    const limit = rawLimit === undefined ? 100 : Number(rawLimit)
    if (entries.length === limit) c.header('Link', `</audit?before=${encodeURIComponent(entries[entries.length - 1].id)}&limit=${limit}>; rel="next"`)
    return c.json({ entries })
  })
}
