/**
 * Configuration errors are one clear line; valid overrides take effect.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CHUNK, cliJson, expectCleanError, expectOk, freshDataDir, runCli, sha256sum, uploadedHash } from '../helpers/cli.js'

describe('configuration', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }

  beforeEach(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
  })
  afterEach(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  describe('bad values', () => {
    const badFiles: Array<[string, string, RegExp]> = [
      ['an unknown backend', JSON.stringify({ storage: { backend: 'nope' } }), /storage\.backend/],
      ['a chunk size of the wrong type', JSON.stringify({ storage: { chunk_size: 'big' } }), /storage\.chunk_size/],
      ['a chunk size below the minimum', JSON.stringify({ storage: { chunk_size: 10 } }), /storage\.chunk_size/],
      ['an unknown key', JSON.stringify({ storage: { backend: 'pack', colour: 'blue' } }), /storage|colour/],
      ['invalid JSON', '{ "storage": { "backend": ', /not valid JSON/]
    ]
    for (const [label, text, pattern] of badFiles) {
      it(`config.json with ${label}`, async () => {
        await writeFile(join(data.path, 'config.json'), text)
        for (const args of [['stats'], ['list']]) {
          const line = expectCleanError(await runCli(args, { dataDir: data.path }), pattern)
          expect(line).toMatch(/config/i)
        }
        // nothing was created in the data directory
        expect(await readdir(data.path)).toEqual(['config.json'])
      })
    }

    const badEnv: Array<[string, string, RegExp]> = [
      ['OPENHASH_STORAGE_CHUNK_SIZE', 'abc', /OPENHASH_STORAGE_CHUNK_SIZE.*abc/],
      ['OPENHASH_STORAGE_CHUNK_SIZE', '100', /chunk_size/],
      ['OPENHASH_STORAGE_CHUNK_SIZE', '', /OPENHASH_STORAGE_CHUNK_SIZE/],
      ['OPENHASH_STORAGE_BACKEND', 'nope', /backend/],
      ['OPENHASH_STORAGE_VERIFY_ON_READ', 'maybe', /OPENHASH_STORAGE_VERIFY_ON_READ/]
    ]
    for (const [name, value, pattern] of badEnv) {
      it(`${name}=${JSON.stringify(value)}`, async () => {
        const file = join(work.path, 'f.txt')
        await writeFile(file, 'x\n')
        const r = await runCli(['add', file], { dataDir: data.path, env: { [name]: value } })
        expectCleanError(r, pattern)
        expect(r.stdout).toBe('')
        expect(await readdir(data.path)).toEqual([])
      })
    }
  })

  it('OPENHASH_STORAGE_BACKEND=leveldb: add/get round trip in a fresh directory', async () => {
    const env = { OPENHASH_STORAGE_BACKEND: 'leveldb' }
    const bytes = randomBytes(2 * CHUNK + 77)
    const file = join(work.path, 'lvl.bin')
    await writeFile(file, bytes)
    const h = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path, env })))
    expect(h).toBe(await sha256sum(file))
    const back = expectOk(await runCli(['get', h, '-o', '-'], { dataDir: data.path, env }))
    expect(back.stdoutBuf.equals(bytes)).toBe(true)
    const out = join(work.path, 'lvl.out')
    expectOk(await runCli(['get', h, '-o', out], { dataDir: data.path, env }))
    expect(await sha256sum(out)).toBe(h)
    const s = await cliJson(['stats'], { dataDir: data.path, env })
    expect(s.storage.backend).toBe('leveldb')
    expect(s.storage.chunk_count).toBe(3)
    expect(existsSync(join(data.path, 'chunks-leveldb'))).toBe(true)
    expect(existsSync(join(data.path, 'packs'))).toBe(false)
    expect((await cliJson(['verify'], { dataDir: data.path, env })).ok).toBe(true)

    // an existing directory keeps the backend it was created with (docs/configuration.md)
    const again = await cliJson(['stats'], { dataDir: data.path })
    expect(again.storage.backend).toBe('leveldb')
    expect(again.storage.chunk_count).toBe(3)
    const plain = expectOk(await runCli(['get', h, '-o', '-'], { dataDir: data.path }))
    expect(plain.stdoutBuf.equals(bytes)).toBe(true)
    expect(existsSync(join(data.path, 'packs'))).toBe(false)
  })

  it('the backend can also be chosen in <datadir>/config.json', async () => {
    await writeFile(join(data.path, 'config.json'), JSON.stringify({ storage: { backend: 'leveldb' } }))
    const file = join(work.path, 'c.txt')
    await writeFile(file, 'configured\n')
    const h = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path })))
    expect((await cliJson(['stats'], { dataDir: data.path })).storage.backend).toBe('leveldb')
    expect(existsSync(join(data.path, 'chunks-leveldb'))).toBe(true)
    // a different backend in the environment does not switch an existing store
    const r = expectOk(await runCli(['get', h, '-o', '-'], { dataDir: data.path, env: { OPENHASH_STORAGE_BACKEND: 'pack' } }))
    expect(r.stdout).toBe('configured\n')
    expect(existsSync(join(data.path, 'packs'))).toBe(false)
  })

  it('-c section.key=value overrides, and bad -c values are one clear error', async () => {
    const file = join(work.path, 'flag.bin')
    await writeFile(file, randomBytes(10_000))
    const h = uploadedHash(expectOk(await runCli(['-c', 'storage.chunk_size=4096', 'add', file], { dataDir: data.path })))
    expect(h).toBe(await sha256sum(file))
    expect((await cliJson(['view', h], { dataDir: data.path })).chunk_count).toBe(3)
    // the flag beats the environment
    const s = await cliJson(['-c', 'storage.chunk_size=8192', 'stats'], { dataDir: data.path, env: { OPENHASH_STORAGE_CHUNK_SIZE: '4096' } })
    expect(s.storage.chunk_size).toBe(8192)
    expectCleanError(await runCli(['-c', 'storage.backend=nope', 'list'], { dataDir: data.path }), /storage\.backend/)
    expectCleanError(await runCli(['-c', 'storage.chunk_size=abc', 'list'], { dataDir: data.path }), /storage\.chunk_size/)
    expectCleanError(await runCli(['-c', 'nonsense', 'list'], { dataDir: data.path }), /config/i)
    expectCleanError(await runCli(['-c', 'storage.colour=blue', 'list'], { dataDir: data.path }), /colour/)
  })

  it('OPENHASH_STORAGE_CHUNK_SIZE=4096 chunks finer, hashes stay sha256sum', async () => {
    const env = { OPENHASH_STORAGE_CHUNK_SIZE: '4096' }
    const file = join(work.path, 'small-chunks.bin')
    await writeFile(file, randomBytes(10_000))
    const h = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path, env })))
    expect(h).toBe(await sha256sum(file))
    const info = await cliJson(['view', h], { dataDir: data.path, env })
    expect(info.chunk_count).toBe(3)
    expect((await cliJson(['stats'], { dataDir: data.path, env })).storage.chunk_size).toBe(4096)
  })

  it('--data-dir beats OPENHASH_DATA_DIR', async () => {
    const other = await freshDataDir()
    try {
      const file = join(work.path, 'where.txt')
      await writeFile(file, 'where am I\n')
      const h = uploadedHash(expectOk(await runCli(['--data-dir', other.path, 'add', file], { dataDir: data.path })))
      expect(await cliJson(['list'], { dataDir: data.path })).toEqual([])
      expect((await cliJson(['list'], { dataDir: other.path })).map((i: any) => i.hash)).toEqual([h])
    } finally {
      await other.cleanup()
    }
  })
})
