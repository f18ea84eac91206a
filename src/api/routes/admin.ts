/**
 * Admin routes: API tokens (create, list, inspect, revoke, reactivate,
 * renew) and the audit log. They need an admin token in every auth mode
 * (`admin-always`); GET /tokens/self shows the calling token to itself.
 */
import { z } from 'zod'
import { InvalidArgumentError, UnauthorizedError } from '../../errors.js'
import { authState } from '../middleware/auth.js'
import type { C } from '../route.js'
import { Routes } from '../route.js'
import { validBody } from '../validate.js'

/** An optional field: absent and null are the same. */

const optional = <T extends z.ZodType>(t: T) => t.nullish().transform(v => v ?? undefined)
const text = (key: string): z.ZodString => z.string({ error: `${key} must be a string` })
const seconds = (key: string): z.ZodNumber => z.number({ error: `${key} must be a positive integer number of seconds` })
  .int({ error: `${key} must be a positive integer number of seconds` })
  .min(1, { error: `${key} must be a positive integer number of seconds` })
  .max(Number.MAX_SAFE_INTEGER, { error: `${key} must be a positive integer number of seconds` })

/** POST /tokens; the keys in the order they are checked. */
const CreateToken = z.object({
  scopes: z.union([z.string(), z.array(z.string())], { error: 'scopes must be an array of strings (read, write, admin) or a comma-separated string' }).optional(),
  name: optional(text('name')),
  email: optional(text('email')),
  expires_in_s: optional(seconds('expires_in_s'))
})

const RenewToken = z.object({ expires_in_s: optional(seconds('expires_in_s')) })

function tokenId (c: C): string {
  const id = c.req.param('id') ?? ''
  if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError(`invalid token id: "${id}" (16 lowercase hex characters)`, { id })
  return id
}

export const admin = new Routes()

admin.route({ method: 'GET', path: '/tokens', scope: 'admin-always', rate: 'metadata', audit: 'none' }, async (c) => c.json({ tokens: await c.var.deps.node.listTokens() }))

admin.route({ method: 'POST', path: '/tokens', scope: 'admin-always', rate: 'metadata', audit: { action: 'token.create', target: { response: 'id' } } }, async (c) => {
  const body = await validBody(c, CreateToken)
  const issued = await c.var.deps.node.createToken({ name: body.name, email: body.email, scopes: body.scopes ?? ['read'], expires_in_s: body.expires_in_s })
  return c.json({ ...issued.info, token: issued.token, message: 'Token created: the token is shown this once' }, 201)
})

admin.route({ method: 'GET', path: '/tokens/self', scope: 'read', rate: 'metadata', audit: 'none' }, async (c) => {
  const who = authState(c)?.principal
  if (who === undefined || who.kind !== 'token') throw new UnauthorizedError('no token: send "Authorization: Bearer <token>" to see its status')
  return c.json(await c.var.deps.node.getToken(who.id))
})

admin.route({ method: 'GET', path: '/tokens/:id', scope: 'admin-always', rate: 'metadata', audit: 'none' }, async (c) => c.json(await c.var.deps.node.getToken(tokenId(c))))

admin.route({ method: 'POST', path: '/tokens/:id/revoke', scope: 'admin-always', rate: 'metadata', audit: { action: 'token.revoke', target: { param: 'id' } } }, async (c) => {
  return c.json({ ...(await c.var.deps.node.revokeToken(tokenId(c))), message: 'Token revoked' })
})

admin.route({ method: 'POST', path: '/tokens/:id/reactivate', scope: 'admin-always', rate: 'metadata', audit: { action: 'token.reactivate', target: { param: 'id' } } }, async (c) => {
  return c.json({ ...(await c.var.deps.node.reactivateToken(tokenId(c))), message: 'Token reactivated' })
})

admin.route({ method: 'POST', path: '/tokens/:id/renew', scope: 'admin-always', rate: 'metadata', audit: { action: 'token.renew', target: { param: 'id' } } }, async (c) => {
  const id = tokenId(c)
  const body = await validBody(c, RenewToken)
  const issued = await c.var.deps.node.renewToken(id, { expires_in_s: body.expires_in_s })
  return c.json({ ...issued.info, token: issued.token, message: 'Token renewed: the new token is shown this once; the old one no longer works' })
})

admin.route({ method: 'GET', path: '/audit', scope: 'admin-always', rate: 'metadata', audit: 'none' }, async (c) => {
  const rawLimit = c.req.query('limit')
  if (rawLimit !== undefined && !/^\d{1,5}$/.test(rawLimit)) throw new InvalidArgumentError(`limit must be an integer from 1 to 10000, got "${rawLimit}"`)
  const tokenFilter = c.req.query('token_id')
  if (tokenFilter !== undefined && !/^[0-9a-f]{16}$/.test(tokenFilter)) throw new InvalidArgumentError(`invalid token_id: "${tokenFilter}"`)
  const action = c.req.query('action')
  if (action !== undefined && !/^[a-z._ -]{1,64}$/.test(action)) throw new InvalidArgumentError(`invalid action filter: "${action}"`)
  const entries = await c.var.deps.node.audit({ limit: rawLimit === undefined ? undefined : Number(rawLimit), before: c.req.query('before'), token_id: tokenFilter, action })
  const limit = rawLimit === undefined ? 100 : Number(rawLimit)
  if (entries.length === limit) c.header('Link', `</audit?before=${encodeURIComponent(entries[entries.length - 1].id)}&limit=${limit}>; rel="next"`)
  return c.json({ entries })
})
