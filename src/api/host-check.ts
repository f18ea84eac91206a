/**
 * The Host check (DNS-rebinding protection, docs/security.md): which `Host`
 * headers this API answers. Loopback names always pass. `api.allowed_hosts`
 * adds names (a reverse proxy that keeps the public Host, Caddy-style):
 * `node.example.com` matches it on any port, `node.example.com:8443` on that
 * port only, `*.example.com` any subdomain. With the list empty, a loopback
 * listener answers loopback names only and any other listener any name
 * (the behaviour before the list existed); with names listed, every listener
 * answers loopback names and the listed ones only.
 */

const ENTRY_RE = /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$|^\[[0-9a-f:.]+\](?::\d{1,5})?$/i

/** Why an api.allowed_hosts entry is not a host name, or undefined when it is one. */
export function allowedHostError (entry: string): string | undefined {
  return ENTRY_RE.test(entry) ? undefined : `"${entry}" is not a host name (e.g. node.example.com, node.example.com:8443, *.example.com)`
}

/** A Host header as lower-case name and port ('' when none); undefined when malformed. */
export function splitHost (host: string): { name: string, port: string } | undefined {
  const h = host.trim().toLowerCase()
  const v6 = /^(\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/.exec(h)
  if (v6 !== null) return { name: v6[1], port: v6[2] ?? '' }
  const m = /^([a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(h)
  if (m === null) return undefined
  return { name: m[1].replace(/\.$/, ''), port: m[2] ?? '' }
}

export type HostCheck = (host: string) => boolean

/** The Host check of a listener (`loopbackOnly`: it listens on loopback only). */
export function hostCheck (loopbackOnly: boolean, allowed: readonly string[] = []): HostCheck {
  const entries = allowed.map(e => {
    const s = splitHost(e.replace(/^\*\./, 'wildcard.'))
    return { wildcard: e.startsWith('*.'), name: s?.name.replace(/^wildcard\./, '') ?? '', port: s?.port ?? '' }
  })
  if (!loopbackOnly && entries.length === 0) return () => true
  return (host) => {
    if (isLoopbackHost(host)) return true
    const h = splitHost(host)
    if (h === undefined) return false
    return entries.some(e => (e.port === '' || e.port === h.port) &&
      (e.wildcard ? h.name.endsWith('.' + e.name) : h.name === e.name))
  }
}

/**
 * Whether a host name (a listen address, or a Host header with or without
 * its port) names this machine's loopback: localhost, *.localhost,
 * 127.x.x.x, ::1.
 */
export function isLoopbackHost (host: string): boolean {
  const m = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(host)
  // a bare IPv6 address (several colons, no brackets) has no port to strip
  const bare = m === null && (host.match(/:/g)?.length ?? 0) > 1
  const h = (m !== null ? m[1] : bare ? host : host.replace(/:\d{1,5}$/, '')).toLowerCase()
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h)
}
