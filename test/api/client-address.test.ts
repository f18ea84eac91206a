/**
 * The client-address unit over real HTTP on 127.0.0.1: a node:http server
 * answers what clientAddress() makes of each request's socket and headers.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProxyList } from '../../src/api/client-address.js'
import { clientAddress, parseForwarded, proxyEntryError, proxyList } from '../../src/api/client-address.js'
import { allowedHostError, hostCheck } from '../../src/api/host-check.js'

let server: Server
let url = ''
let trusted: ProxyList = proxyList([])

beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json')
    res.end(JSON.stringify(clientAddress(req, trusted)))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => { await new Promise<void>(resolve => server.close(() => resolve())) })

async function ask (headers: Record<string, string>, proxies: string[] = []): Promise<any> {
  trusted = proxyList(proxies)
  return await (await fetch(url, { headers })).json()
}

describe('clientAddress', () => {
  it('without forwarding headers: the socket peer, local on loopback', async () => {
    expect(await ask({})).toEqual({ ip: '127.0.0.1', local: true, forwarded: false, peer: '127.0.0.1' })
  })

  it('forwarding headers from a peer that is not trusted: ignored, and the request is not local', async () => {
    const cases: Array<Record<string, string>> = [{ 'X-Forwarded-For': '127.0.0.1' }, { 'X-Real-IP': '127.0.0.1' }, { Forwarded: 'for=127.0.0.1' }, { 'X-Forwarded-For': '' }]
    for (const h of cases) {
      const a = await ask(h)
      expect(a, JSON.stringify(h)).toMatchObject({ ip: '127.0.0.1', local: false, forwarded: true, peer: '127.0.0.1' })
      expect(a.host).toBeUndefined()
    }
    // trusting another address does not trust this peer
    expect(await ask({ 'X-Forwarded-For': '127.0.0.1' }, ['10.0.0.0/8', '127.0.0.2'])).toMatchObject({ ip: '127.0.0.1', local: false })
  })

  it('X-Forwarded-For from a trusted proxy: the right-most address that is not a trusted proxy', async () => {
    expect(await ask({ 'X-Forwarded-For': '203.0.113.7' }, ['127.0.0.1'])).toMatchObject({ ip: '203.0.113.7', local: false, forwarded: true, peer: '127.0.0.1' })
    // a client that writes its own X-Forwarded-For cannot pick its address: the proxy appended the real one
    expect(await ask({ 'X-Forwarded-For': '127.0.0.1, 203.0.113.7' }, ['127.0.0.1'])).toMatchObject({ ip: '203.0.113.7', local: false })
    // a chain of trusted proxies is walked through
    expect(await ask({ 'X-Forwarded-For': '6.6.6.6, 198.51.100.9, 10.1.2.3, 10.9.9.9' }, ['127.0.0.0/8', '10.0.0.0/8'])).toMatchObject({ ip: '198.51.100.9' })
    // a local user of the proxy's machine is local
    expect(await ask({ 'X-Forwarded-For': '127.0.0.1' }, ['127.0.0.1'])).toMatchObject({ ip: '127.0.0.1', local: true })
    expect(await ask({ 'X-Forwarded-For': '2001:db8::1' }, ['127.0.0.1'])).toMatchObject({ ip: '2001:db8::1', local: false })
    expect(await ask({ 'X-Forwarded-For': '[2001:db8::2]:4711, 198.51.100.1:5000' }, ['127.0.0.1', '198.51.100.0/24'])).toMatchObject({ ip: '2001:db8::2' })
    expect(await ask({ 'X-Forwarded-For': '::ffff:192.0.2.1' }, ['127.0.0.1'])).toMatchObject({ ip: '192.0.2.1' })
    // garbage is an unknown client, never local
    expect(await ask({ 'X-Forwarded-For': 'not-an-address' }, ['127.0.0.1'])).toMatchObject({ ip: 'unknown', local: false })
    expect(await ask({ 'X-Forwarded-For': ' , ' }, ['127.0.0.1'])).toMatchObject({ ip: 'unknown', local: false })
  })

  it('X-Real-IP from a trusted proxy, and X-Forwarded-Host / X-Forwarded-Proto (first values)', async () => {
    expect(await ask({ 'X-Real-IP': '203.0.113.8' }, ['127.0.0.1'])).toMatchObject({ ip: '203.0.113.8', local: false })
    expect(await ask({ 'X-Forwarded-For': '203.0.113.8', 'X-Forwarded-Host': 'node.example.com, inner', 'X-Forwarded-Proto': 'HTTPS, http' }, ['127.0.0.1']))
      .toMatchObject({ host: 'node.example.com', proto: 'https' })
    // neither is believed from an untrusted peer
    const a = await ask({ 'X-Forwarded-For': '203.0.113.8', 'X-Forwarded-Host': 'node.example.com', 'X-Forwarded-Proto': 'https' })
    expect(a.host).toBeUndefined()
    expect(a.proto).toBeUndefined()
    expect((await ask({ 'X-Forwarded-For': '203.0.113.8', 'X-Forwarded-Proto': 'gopher' }, ['127.0.0.1'])).proto).toBeUndefined()
  })

  it('Forwarded (RFC 7239): quoted IPv6 with port, obfuscated and unknown identifiers, host and proto of the chosen hop', async () => {
    const p = ['127.0.0.1']
    expect(await ask({ Forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }, p)).toMatchObject({ ip: '192.0.2.60', proto: 'http', local: false })
    expect(await ask({ Forwarded: 'For="[2001:db8:cafe::17]:4711"' }, p)).toMatchObject({ ip: '2001:db8:cafe::17' })
    expect(await ask({ Forwarded: 'for=unknown' }, p)).toMatchObject({ ip: 'unknown', local: false })
    expect(await ask({ Forwarded: 'for=_hidden, for=_SEVKISEK' }, p)).toMatchObject({ ip: '_SEVKISEK', local: false })
    expect(await ask({ Forwarded: 'for="_gazonk:_1234"' }, p)).toMatchObject({ ip: '_gazonk' })
    // right-most untrusted; an identifier ends the walk
    expect(await ask({ Forwarded: 'for=198.51.100.17;host=a.example, for=127.0.0.1;host=b.example' }, p)).toMatchObject({ ip: '198.51.100.17', host: 'a.example' })
    expect(await ask({ Forwarded: 'for=198.51.100.17, for=_proxy, for=127.0.0.1' }, p)).toMatchObject({ ip: '_proxy' })
    // quoted values may hold commas, semicolons and escapes; host keeps its port
    expect(await ask({ Forwarded: 'for="203.0.113.1";host="node.example.com:8443";proto=https;x="a,b;c\\"d"' }, p)).toMatchObject({ ip: '203.0.113.1', host: 'node.example.com:8443', proto: 'https' })
    // Forwarded wins over X-Forwarded-For
    expect(await ask({ Forwarded: 'for=203.0.113.2', 'X-Forwarded-For': '203.0.113.3' }, p)).toMatchObject({ ip: '203.0.113.2' })
    // broken values are an unknown client
    for (const f of ['for=', 'for="[zz::1]"', 'for=300.1.1.1', ';;,,', 'garbage']) expect((await ask({ Forwarded: f }, p)).ip, f).toBe('unknown')
  })

  it('parseForwarded keeps the hops in order', () => {
    expect(parseForwarded('for=a;proto=https, for="[::1]";host=h')).toEqual([{ node: 'unknown', host: undefined, proto: 'https' }, { node: '::1', host: 'h', proto: undefined }])
  })

  it('trusted proxy entries: addresses and CIDR blocks, anything else a clear error', () => {
    for (const ok of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0']) expect(proxyEntryError(ok), ok).toBeUndefined()
    for (const bad of ['localhost', '10.0.0.0/33', '::/129', '1.2.3', '10.0.0.0/8/1', '']) expect(proxyEntryError(bad), bad).toMatch(/not an IP address|prefix length/)
    const l = proxyList(['10.0.0.0/8', '::1'])
    expect([l.has('10.2.3.4'), l.has('::ffff:10.2.3.4'), l.has('::1'), l.has('11.0.0.1'), l.has('unknown')]).toEqual([true, true, true, false, false])
  })
})

describe('hostCheck (api.allowed_hosts)', () => {
  it('empty list: loopback listeners answer loopback names only, others any name', () => {
    const lo = hostCheck(true)
    expect(['127.0.0.1:8080', 'localhost', '[::1]:1'].map(lo)).toEqual([true, true, true])
    expect(['node.example.com', 'evil.example:80', ''].map(lo)).toEqual([false, false, false])
    expect(hostCheck(false)('anything.example')).toBe(true)
  })
  it('listed names (any port, or one port; *. for subdomains), case-insensitive; loopback always', () => {
    const c = hostCheck(true, ['Node.Example.com', 'api.example.org:8443', '*.cdn.example'])
    expect(['node.example.com', 'NODE.example.com:443', 'api.example.org:8443', 'x.cdn.example', 'a.b.cdn.example:80', '127.0.0.1:9'].map(c)).toEqual([true, true, true, true, true, true])
    expect(['api.example.org', 'api.example.org:80', 'cdn.example', 'node.example.com.evil', 'evil.example', 'node.example.com:80:80', 'node.example.com/x'].map(c)).toEqual([false, false, false, false, false, false, false])
    // beyond loopback, a list restricts too
    expect(hostCheck(false, ['node.example.com'])('10.0.0.5:8080')).toBe(false)
  })
  it('entries are validated', () => {
    for (const ok of ['node.example.com', 'node.example.com:8443', '*.example.com', 'localhost', '[::1]:80']) expect(allowedHostError(ok), ok).toBeUndefined()
    for (const bad of ['', 'http://node.example.com', 'node example', 'a..b', '*', 'node.example.com/']) expect(allowedHostError(bad), bad).toMatch(/not a host name/)
  })
})
