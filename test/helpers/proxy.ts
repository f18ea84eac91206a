/**
 * A small real forwarding proxy (node:http) on 127.0.0.1, to put in front of
 * a daemon the way a reverse proxy would:
 *
 * - `nginx`: Host rewritten to the upstream's 127.0.0.1:port, X-Real-IP and
 *   X-Forwarded-For (appended) added, X-Forwarded-Proto https.
 * - `caddy`: the public Host kept, X-Forwarded-For (appended),
 *   X-Forwarded-Host and X-Forwarded-Proto https.
 * - `rfc7239`: Host rewritten, `Forwarded: for=…;host=…;proto=https` appended.
 *
 * Every client here is on loopback, so the proxy is told which internet
 * address the client has: the `x-test-client` request header (stripped),
 * default 198.51.100.7. It connects to the upstream from `localAddress`
 * (default 127.0.0.2), so that the daemon sees the proxy as a peer distinct
 * from the test's own direct requests (127.0.0.1).
 */
import { createServer, request } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export type ProxyStyle = 'nginx' | 'caddy' | 'rfc7239'

export interface RunningProxy { url: string, close(): Promise<void> }

export interface ProxyOptions {
  /** The public name clients use (the Host the proxy serves). */
  publicHost?: string
  /** Address the proxy connects to the upstream from. */
  localAddress?: string
}

function append (prev: string | string[] | undefined, value: string): string {
  const p = Array.isArray(prev) ? prev.join(', ') : prev
  return p === undefined || p === '' ? value : `${p}, ${value}`
}

export async function startProxy (upstream: string, style: ProxyStyle, options: ProxyOptions = {}): Promise<RunningProxy> {
  const target = new URL(upstream)
  const publicHost = options.publicHost ?? 'node.example.com'
  const server = createServer((req, res) => {
    const client = String(req.headers['x-test-client'] ?? '198.51.100.7')
    const headers: IncomingHttpHeaders = { ...req.headers }
    delete headers['x-test-client']
    if (style === 'nginx') {
      headers.host = target.host
      headers['x-real-ip'] = client
      headers['x-forwarded-for'] = append(req.headers['x-forwarded-for'], client)
      headers['x-forwarded-proto'] = 'https'
    } else if (style === 'caddy') {
      headers.host = publicHost
      headers['x-forwarded-for'] = append(req.headers['x-forwarded-for'], client)
      headers['x-forwarded-host'] = publicHost
      headers['x-forwarded-proto'] = 'https'
    } else {
      headers.host = target.host
      const node = client.includes(':') ? `"[${client}]"` : client
      headers.forwarded = append(req.headers.forwarded, `for=${node};host=${publicHost};proto=https`)
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, localAddress: options.localAddress ?? '127.0.0.2' }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers)
      ures.pipe(res)
    })
    up.on('error', (err) => { res.writeHead(502); res.end(String(err)) })
    req.pipe(up)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
