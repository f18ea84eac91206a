import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temporary directory; remove it with the returned cleanup. */
export async function tempDir (prefix = 'openhash-test-'): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** Deterministic pseudo-random bytes (xorshift32), so tests can regenerate content. */
export function prng (seed: number): (n: number) => Buffer {
  let x = (seed >>> 0) || 0x9e3779b9
  return (n: number) => {
    const buf = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0
      x ^= x >>> 17
      x ^= x << 5; x >>>= 0
      buf[i] = x & 0xff
    }
    return buf
  }
}

export async function * once (buf: Uint8Array): AsyncGenerator<Uint8Array> { yield buf }

export async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of source) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}
