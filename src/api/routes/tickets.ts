/**
 * POST /auth/ticket/:hash: a download ticket (auth/tickets.ts) for one hash,
 * so that a browser can open /download/{hash}?ticket=… or use
 * /view/{hash}?ticket=… as an <img>/<video> source without the token itself
 * in the URL. Read scope: the ticket reads as the calling token, with the
 * read scope only, for at most 5 minutes (docs/security.md).
 */
import { z } from 'zod'
import { parseHash } from '../../format/hash.js'
import { TICKET_MAX_S } from '../../auth/tickets.js'
import { principal } from '../middleware/auth.js'
import { Routes } from '../route.js'
import { validBody } from '../validate.js'

const TTL_HELP = `expires_in_s must be an integer number of seconds from 1 to ${TICKET_MAX_S}`

const CreateTicket = z.object({
  expires_in_s: z.number({ error: TTL_HELP }).int({ error: TTL_HELP }).min(1, { error: TTL_HELP }).max(TICKET_MAX_S, { error: TTL_HELP }).nullish()
})

export const tickets = new Routes()

tickets.route({ method: 'POST', path: '/auth/ticket/:hash', scope: 'read', rate: 'metadata', audit: { action: 'ticket.create', target: { param: 'hash' } } }, async (c) => {
  const hash = parseHash(c.req.param('hash'))
  const body = await validBody(c, CreateTicket)
  const who = principal(c)
  const issued = c.var.deps.tickets.issue(hash, who.kind === 'token' ? who.id : undefined, body.expires_in_s ?? TICKET_MAX_S)
  return c.json({ ...issued, message: 'Ticket issued: append ?ticket=<ticket> to GET /download/{hash} or /view/{hash} for this hash only, until expires_at' }, 201)
})
