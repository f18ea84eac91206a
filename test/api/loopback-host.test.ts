import { describe, expect, it } from 'vitest'
import { isLoopbackHost } from '../../src/api/host-check.js'

describe('isLoopbackHost (the listen-address policy and the DNS-rebinding Host check)', () => {
  it('accepts loopback names, with or without a port', () => {
    for (const h of ['localhost', 'LOCALHOST:80', 'app.localhost', '127.0.0.1', '127.1.2.3:8080', '[::1]', '[::1]:8080', '::1']) expect(isLoopbackHost(h), h).toBe(true)
  })
  it('refuses everything else, including look-alikes', () => {
    for (const h of ['', 'evil.example', 'evil.example:80', '0.0.0.0', '::', '[::]:80', '10.0.0.1', 'localhost.evil.com', '128.0.0.1', '127.0.0.1.evil.com', '127.0.0.1:80:80']) expect(isLoopbackHost(h), h).toBe(false)
  })
})
