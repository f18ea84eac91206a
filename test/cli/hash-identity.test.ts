/**
 * `openhash add` names a file by exactly what coreutils `sha256sum` prints,
 * at every chunk boundary and for a 1 GiB file.
 */
import { randomBytes, randomFillSync } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHUNK, cliJson, expectOk, freshDataDir, runCli, sha256sum, uploadedHash } from '../helpers/cli.js'

describe('openhash add: hash identity with sha256sum', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  const sizes: Array<[string, number]> = [
    ['empty', 0],
    ['one byte', 1],
    ['chunk-1', CHUNK - 1],
    ['chunk', CHUNK],
    ['chunk+1', CHUNK + 1]
  ]

  for (const [label, size] of sizes) {
    it(`${label} (${size} bytes): printed hash equals sha256sum`, async () => {
      const file = join(work.path, `f-${size}.bin`)
      const bytes = randomBytes(size)
      await writeFile(file, bytes)
      const expected = await sha256sum(file)
      const r = expectOk(await runCli(['add', file], { dataDir: data.path }))
      expect(uploadedHash(r)).toBe(expected)
      expect(r.stdout).toContain(`   Size: ${size} bytes`)
      expect(r.stdout).toContain(`   Name: f-${size}.bin`)

      // view agrees on size and chunk count
      const info = await cliJson(['view', expected], { dataDir: data.path })
      expect(info.hash).toBe(expected)
      expect(info.size).toBe(size)
      expect(info.chunk_count).toBe(Math.ceil(size / CHUNK))

      // and the bytes come back
      const back = expectOk(await runCli(['get', expected, '-o', '-'], { dataDir: data.path }))
      expect(back.stdoutBuf.length).toBe(size)
      expect(back.stdoutBuf.equals(bytes)).toBe(true)
    })
  }

  it('add --json parses and has hash, size and filename', async () => {
    const file = join(work.path, 'json-me.txt')
    await writeFile(file, 'some text\n')
    const expected = await sha256sum(file)
    const res = await cliJson(['add', file], { dataDir: data.path })
    expect(res.hash).toBe(expected)
    expect(res.size).toBe(10)
    expect(res.filename).toBe('json-me.txt')
    expect(res.is_directory).toBe(false)
    expect(res.message).toBe('File uploaded successfully')
  })

  it('uppercase hashes are accepted and normalised', async () => {
    const file = join(work.path, 'upper.txt')
    await writeFile(file, 'UPPER\n')
    const h = await sha256sum(file)
    expectOk(await runCli(['add', file], { dataDir: data.path }))
    const info = await cliJson(['view', h.toUpperCase()], { dataDir: data.path })
    expect(info.hash).toBe(h)
  })

  it('a 1 GiB file: printed hash equals sha256sum, and it comes back intact', async () => {
    const big = await freshDataDir('openhash-cli-big-')
    try {
      const file = join(big.path, 'big.bin')
      const piece = Buffer.allocUnsafe(4 * 1024 * 1024)
      const ws = createWriteStream(file)
      for (let i = 0; i < 256; i++) {
        randomFillSync(piece)
        // copy: the stream may still hold the previous buffer
        if (!ws.write(Buffer.from(piece))) await once(ws, 'drain')
      }
      ws.end()
      await once(ws, 'finish')
      expect((await stat(file)).size).toBe(1024 * 1024 * 1024)
      const expected = await sha256sum(file)

      const r = expectOk(await runCli(['add', file], { dataDir: join(big.path, 'store'), timeoutMs: 280_000 }))
      expect(uploadedHash(r)).toBe(expected)
      expect(r.stdout).toContain('   Size: 1073741824 bytes (1.0 GiB)')
      await rm(file)

      const out = join(big.path, 'back.bin')
      expectOk(await runCli(['get', expected, '-o', out], { dataDir: join(big.path, 'store'), timeoutMs: 280_000 }))
      expect((await stat(out)).size).toBe(1024 * 1024 * 1024)
      expect(await sha256sum(out)).toBe(expected)
    } finally {
      await big.cleanup()
    }
  }, 300_000)
})
