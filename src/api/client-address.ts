/**
 * Who is asking, when a reverse proxy may stand in between
 * (docs/security.md#behind-a-reverse-proxy). One answer per request, used by
 * authentication (is the client local?), the cross-origin check (which host
 * and protocol did the client use?), rate limits, the audit log and the
 * request log.
 *
 * - No forwarding header: the client is the connection's peer.
 * - `Forwarded`, `X-Forwarded-For` or `X-Real-IP` from a peer that is not in
 *   `api.trusted_proxies`: the headers are ignored (anyone can send them),
 *   the client is the peer, and it is never local: a proxy on this machine
 *   forwards the whole internet.
 * - The same from a trusted proxy: the client is the right-most hop that is
 *   not itself a trusted proxy (`Forwarded` first, RFC 7239; else
 *   `X-Forwarded-For`; else `X-Real-IP`). An `unknown` or obfuscated
 *   (`_name`) hop, or one that does not parse, ends the walk: such a client is
 *   never local and is keyed by that identifier. The host and protocol the
 *   client used come from that hop's `host=`/`proto=`, else the first
 *   `X-Forwarded-Host`/`X-Forwarded-Proto` value.
 */
import type { IncomingMessage } from 'node:http'
import { BlockList, isIP } from 'node:net'
import type { Context, MiddlewareHandler } from 'hono'
import { requestInfo } from './middleware/request-info.js'

export interface ClientAddress {
  /** The client's address: an IP, or the identifier a trusted proxy gave (`unknown`, `_hidden`). */
  ip: string
  /** The client is this machine: loopback, seen directly or through a trusted proxy. */
  local: boolean
  /** The request carried forwarding headers. */
  forwarded: boolean
  /** The connection's peer (the proxy, when forwarded). */
  peer: string
  /** Host (with port, as in a Host header) and protocol the client used, as a trusted proxy reports them. */
  host?: string
  proto?: 'http' | 'https'
}

/** A set of addresses and CIDR blocks (api.trusted_proxies). */
export interface ProxyList {
  has(ip: string): boolean
  readonly size: number
}

/** `::ffff:a.b.c.d` as `a.b.c.d`. */
function fold (ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}

/** Why an api.trusted_proxies entry is not an address or CIDR block, or undefined when it is. */
export function proxyEntryError (entry: string): string | undefined {
  const [addr, bits, extra] = entry.trim().split('/')
  const family = isIP(addr ?? '')
  if (family === 0 || extra !== undefined) return `"${entry}" is not an IP address or CIDR block (e.g. 127.0.0.1, 10.0.0.0/8, fd00::/8)`
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))) return `"${entry}": prefix length must be 0-${family === 4 ? 32 : 128}`
  return undefined
}

/** The trusted proxies of `entries` (validated by config.ts with proxyEntryError). */
export function proxyList (entries: readonly string[] = []): ProxyList {
  const list = new BlockList()
  for (const raw of entries) {
    const problem = proxyEntryError(raw)
    if (problem !== undefined) throw new Error(`api.trusted_proxies: ${problem}`)
    const [a, bits] = raw.trim().split('/')
    const addr = fold(a)
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(addr, type)
    else list.addSubnet(addr, Number(bits), type)
  }
  return {
    size: entries.length,
    has (ip: string): boolean {
      const a = fold(ip)
      const family = isIP(a)
      return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6')
    }
  }
}

/** One hop's node: an IP, `unknown`, an obfuscated `_id`, or undefined when it does not parse. */
export function parseNode (raw: string): string | undefined {
  const v = raw.trim()
  const bracket = /^\[([^\]]+)\](?::[A-Za-z0-9._-]+)?$/.exec(v)
  if (bracket !== null) return isIP(bracket[1]) === 6 ? fold(bracket[1]) : undefined
  if (/^unknown$/i.test(v)) return 'unknown'
  const obf = /^(_[A-Za-z0-9._-]+)(?::[A-Za-z0-9._-]+)?$/.exec(v)
  if (obf !== null) return obf[1]
  if (isIP(v) !== 0) return fold(v)
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(v)
  if (v4port !== null && isIP(v4port[1]) === 4) return v4port[1]
  return undefined
}

interface Hop { node?: string, host?: string, proto?: string }

/**
 * RFC 7239 `Forwarded`: elements separated by commas, pairs by semicolons,
 * values tokens or quoted strings (which may hold commas, semicolons and
 * escaped characters). Parameter names are case-insensitive.
 */
export function parseForwarded (header: string): Hop[] {
  const hops: Hop[] = []
  let hop: Record<string, string> = {}
  let i = 0
  const n = header.length
  const finish = (): void => {
    hops.push({ node: hop.for === undefined ? undefined : (parseNode(hop.for) ?? 'unknown'), host: hop.host, proto: hop.proto })
    hop = {}
  }
  while (i < n) {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
    let name = ''
    while (i < n && !'=;,'.includes(header[i])) name += header[i++]
    let value = ''
    if (header[i] === '=') {
      i++
      if (header[i] === '"') {
        i++
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++
          value += header[i++]
        }
        i++ // closing quote
        while (i < n && header[i] !== ';' && header[i] !== ',') i++
      } else {
        while (i < n && header[i] !== ';' && header[i] !== ',') value += header[i++]
      }
    }
    const key = name.trim().toLowerCase()
    if (key !== '' && hop[key] === undefined) hop[key] = value.trim()
    if (header[i] === ',') { finish(); i++ } else if (header[i] === ';') i++
  }
  if (Object.keys(hop).length > 0 || hops.length === 0) finish()
  return hops
}

function header (incoming: IncomingMessage, name: string): string | undefined {
  const v = incoming.headers[name]
  if (v === undefined) return undefined
  return Array.isArray(v) ? v.join(', ') : v
}

function first (v: string | undefined): string | undefined {
  const f = v?.split(',')[0]?.trim()
  return f === undefined || f === '' ? undefined : f
}

function protoOf (v: string | undefined): 'http' | 'https' | undefined {
  const p = v?.trim().toLowerCase()
  return p === 'http' || p === 'https' ? p : undefined
}

/** The request's client, given the trusted proxies. */
export function clientAddress (incoming: IncomingMessage, trusted: ProxyList): ClientAddress {
  const peer = fold(incoming.socket?.remoteAddress ?? '')
  const forwardedHeader = header(incoming, 'forwarded')
  const xff = header(incoming, 'x-forwarded-for')
  const realIp = header(incoming, 'x-real-ip')
  if (forwardedHeader === undefined && xff === undefined && realIp === undefined) {
    return { ip: peer, local: isLoopback(peer), forwarded: false, peer }
  }
  // anyone can write these headers: only a trusted proxy's are believed
  if (!trusted.has(peer)) return { ip: peer, local: false, forwarded: true, peer }
  let hops: Hop[]
  if (forwardedHeader !== undefined) hops = parseForwarded(forwardedHeader).filter(h => h.node !== undefined || h.host !== undefined || h.proto !== undefined)
  else if (xff !== undefined) hops = xff.split(',').map(s => s.trim()).filter(s => s !== '').map(s => ({ node: parseNode(s) ?? 'unknown' }))
  else hops = (realIp ?? '').split(',').map(s => s.trim()).filter(s => s !== '').slice(-1).map(s => ({ node: parseNode(s) ?? 'unknown' }))
  const withNode = hops.filter(h => h.node !== undefined)
  let chosen: Hop | undefined
  for (let i = withNode.length - 1; i >= 0; i--) {
    chosen = withNode[i]
    const node = chosen.node!
    if (isIP(node) === 0 || !trusted.has(node)) break
  }
  const ip = chosen?.node ?? 'unknown'
  return {
    ip,
    local: isIP(ip) !== 0 && isLoopback(ip),
    forwarded: true,
    peer,
    host: chosen?.host ?? hops.findLast(h => h.host !== undefined)?.host ?? first(header(incoming, 'x-forwarded-host')),
    proto: protoOf(chosen?.proto ?? hops.findLast(h => h.proto !== undefined)?.proto) ?? protoOf(first(header(incoming, 'x-forwarded-proto')))
  }
}

const NONE = proxyList([])

/** The pipeline's step that resolves the client (read by every later step through clientOf) and gives it to the request log. */
export function resolveClient (trustedProxies?: readonly string[]): MiddlewareHandler<any> {
  const trusted = proxyList(trustedProxies)
  return async (c, next) => {
    const incoming = c.env?.incoming
    if (incoming !== undefined) {
      const client = clientAddress(incoming, trusted)
      c.set('client', client)
      if (c.env.outgoing !== undefined) requestInfo(incoming, c.env.outgoing).client = client
    }
    await next()
  }
}

/** The middleware's answer for this request (set by app.ts), else the socket's peer with nothing trusted. */
export function clientOf (c: Context<any>): ClientAddress {
  const set = (c.get as (key: string) => unknown)('client') as ClientAddress | undefined
  if (set !== undefined) return set
  const incoming = c.env?.incoming as IncomingMessage | undefined
  if (incoming === undefined) return { ip: '', local: false, forwarded: false, peer: '' }
  return clientAddress(incoming, NONE)
}

/** The client's address for keys and logs, with IPv4-mapped IPv6 (::ffff:a.b.c.d) folded to IPv4. */
export function clientIp (incoming: IncomingMessage | undefined): string {
  const raw = incoming?.socket?.remoteAddress ?? ''
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw
}

/** 127.0.0.0/8, ::1 and ::ffff:127.x. */
export function isLoopback (ip: string): boolean {
  const a = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  return a.startsWith('127.') || a === '::1' || a === '0:0:0:0:0:0:0:1'
}
