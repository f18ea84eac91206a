/**
 * Download tickets (docs/security.md, "Download tickets"): a short-lived,
 * read-only credential for one hash, so that a browser can fetch
 * `/download/{hash}` or `/view/{hash}` through a plain link or a media
 * element, which cannot send an Authorization header.
 *
 * A ticket is `t1.<expiry ms>.<token id or "-">.<mac>`, the MAC being
 * HMAC-SHA256 under a secret that each daemon draws at start and never
 * stores, over the hash, the expiry and the issuing token's id. So a ticket
 * names its hash only through the MAC (it is checked against the URL's hash),
 * cannot be extended or moved to another hash, and dies with the daemon.
 * The issuing token is looked up again on every use: revoking it ends its
 * tickets at once. Nothing is stored per ticket; a ticket can be used many
 * times until it expires (a video's range requests), which is its main limit.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { UnauthorizedError } from '../errors.js'
import type { IssuedTicket } from '../wire.js'
export type { IssuedTicket } from '../wire.js'

/** The longest a ticket lives, and the default. */
export const TICKET_MAX_S = 300

export interface TicketClaims {
  /** The token that asked for it; undefined when no token was needed (auth off). */
  tokenId?: string
  expiresAt: number
}

const FORMAT = /^t1\.(\d{13,16})\.([0-9a-f]{16}|-)\.([A-Za-z0-9_-]{43})$/

export class TicketSigner {
  private readonly secret: Buffer

  constructor (secret: Buffer = randomBytes(32), private readonly now: () => number = Date.now) {
    this.secret = secret
  }

  private mac (hash: string, expiresAt: number, tokenId: string): Buffer {
    return createHmac('sha256', this.secret).update(`openhash-ticket-v1\n${hash}\n${expiresAt}\n${tokenId}`).digest()
  }

  /** A ticket for `hash` (lowercase hex), living `ttlS` seconds (1 to TICKET_MAX_S). */
  issue (hash: string, tokenId: string | undefined, ttlS: number = TICKET_MAX_S): IssuedTicket {
    const ttl = Math.max(1, Math.min(TICKET_MAX_S, Math.floor(ttlS)))
    const expiresAt = this.now() + ttl * 1000
    const id = tokenId ?? '-'
    const ticket = `t1.${expiresAt}.${id}.${this.mac(hash, expiresAt, id).toString('base64url')}`
    return { ticket, hash, expires_at: new Date(expiresAt).toISOString(), expires_in_s: ttl }
  }

  /** The claims of a ticket valid for `hash` now; UNAUTHORIZED (with the reason) otherwise. */
  verify (ticket: string, hash: string): TicketClaims {
    const m = FORMAT.exec(ticket)
    if (m === null) throw new UnauthorizedError('malformed ticket')
    const expiresAt = Number(m[1])
    const given = Buffer.from(m[3], 'base64url')
    const want = this.mac(hash.toLowerCase(), expiresAt, m[2])
    // a ticket for another hash, from another daemon (or one restarted since), or altered: the MAC differs
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new UnauthorizedError('this ticket is not valid for this content (another hash, altered, or issued before the daemon restarted)')
    if (this.now() >= expiresAt) throw new UnauthorizedError(`this ticket expired at ${new Date(expiresAt).toISOString()}: ask for a new one (POST /auth/ticket/{hash})`, { expired_at: new Date(expiresAt).toISOString() })
    return { tokenId: m[2] === '-' ? undefined : m[2], expiresAt }
  }
}
