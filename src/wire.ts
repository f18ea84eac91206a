/**
 * The API's wire types: the JSON shapes of answers that both the daemon
 * (src/) and the web UI (ui/, whose tsconfig compiles this one file) use.
 * Types only, and no imports: nothing of Node, the store or libp2p can reach
 * the UI's bundle through it. It sits at the top of src/ rather than under
 * api/ because every layer names these shapes (the store's ContentInfo, the
 * client, which must not import api/, the network's ConnectResult); the
 * modules that used to declare them re-export them.
 */

/** A token's permission: admin ⊇ write ⊇ read. */
export type Scope = 'read' | 'write' | 'admin'

export type TokenStatus = 'active' | 'revoked' | 'expired'

export interface ContentInfo {
  hash: string
  /** The hash as the DHT names it: CIDv1, raw, sha2-256 (format/cid.ts). */
  cid: string
  filename: string
  mime_type: string
  size: number
  mod_time: string
  chunk_count: number
  is_directory: boolean
  created_at: string
  ref_count: number
}

export interface TokenInfo {
  id: string
  name: string
  email?: string
  scopes: Scope[]
  status: TokenStatus
  created_at: string
  last_used_at?: string
  usage_count: number
  renewed_at?: string
  revoked_at?: string
  expires_at?: string
}

export interface AuditActor {
  /** The token that made the request, when there was one. */
  token_id?: string
  token_name?: string
  /** Set when the token was refused because it is revoked or expired. */
  token_status?: 'revoked' | 'expired'
  /** The client's address (behind a trusted proxy: the forwarded client's). */
  ip: string
  /** The proxy the request came through, when it carried forwarding headers. */
  via?: string
}

export interface AuditEntry {
  /** Opaque, newest first; pass as `before` to page. */
  id: string
  time: string
  actor: AuditActor
  method: string
  path: string
  /** What was asked, e.g. upload.file, pin, token.revoke. */
  action: string
  status: number
  /** `ok`, or the error code the request failed with. */
  outcome: string
  /** The content or token the request was about, when known. */
  target?: string
}

/** The answer of a dial (POST /network/connect). */
export interface ConnectResult {
  peer_id: string
  /** The address the connection runs over (the peer's side). */
  address: string
  /** `connected`: a connection to the peer is open now. */
  state: 'connected'
  direction: 'inbound' | 'outbound'
  /** Peers connected after the dial, this one included. */
  connected_peers: number
}

/** A download ticket (POST /auth/ticket/{hash}; auth/tickets.ts). */
export interface IssuedTicket {
  ticket: string
  hash: string
  expires_at: string
  expires_in_s: number
}
