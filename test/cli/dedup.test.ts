/**
 * Deduplication as seen through `openhash stats --json`.
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CHUNK, cliJson, expectOk, freshDataDir, runCli, sha256sum, uploadedHash } from '../helpers/cli.js'

describe('deduplication', () => {
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

  it('the same file added twice: same hash, no new chunks, no new stored bytes', async () => {
    const file = join(work.path, 'twice.bin')
    const size = 3 * CHUNK + 99
    await writeFile(file, randomBytes(size))
    const first = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path })))
    const after1 = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(after1.chunk_count).toBe(4)
    expect(after1.stored_bytes).toBe(size)
    expect(after1.logical_bytes).toBe(size)
    expect(after1.content_count).toBe(1)

    const second = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path })))
    expect(second).toBe(first)
    expect(second).toBe(await sha256sum(file))
    const after2 = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(after2.chunk_count).toBe(after1.chunk_count)
    expect(after2.stored_bytes).toBe(after1.stored_bytes)
    expect(after2.content_count).toBe(1)
    expect(after2.logical_bytes).toBe(after1.logical_bytes)
    // the same file under another name is still one object with one set of chunks
    const other = join(work.path, 'renamed.bin')
    await writeFile(other, await readFile(file))
    expect(uploadedHash(expectOk(await runCli(['add', other], { dataDir: data.path })))).toBe(first)
    const after3 = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(after3.chunk_count).toBe(after1.chunk_count)
    expect(after3.stored_bytes).toBe(after1.stored_bytes)
    const list = await cliJson(['list'], { dataDir: data.path })
    expect(list).toHaveLength(1)
  })

  it('two files sharing a chunk-aligned prefix store the shared chunks once', async () => {
    const N = 3
    const prefix = randomBytes(N * CHUNK)
    const tailA = randomBytes(CHUNK + CHUNK / 2) // 2 chunks (1 full, 1 partial)
    const tailB = randomBytes(2 * CHUNK + 10) // 3 chunks (2 full, 1 partial)
    const a = Buffer.concat([prefix, tailA])
    const b = Buffer.concat([prefix, tailB])
    await writeFile(join(work.path, 'a.bin'), a)
    await writeFile(join(work.path, 'b.bin'), b)

    const ha = uploadedHash(expectOk(await runCli(['add', join(work.path, 'a.bin')], { dataDir: data.path })))
    const hb = uploadedHash(expectOk(await runCli(['add', join(work.path, 'b.bin')], { dataDir: data.path })))
    expect(ha).toBe(await sha256sum(join(work.path, 'a.bin')))
    expect(hb).toBe(await sha256sum(join(work.path, 'b.bin')))
    expect(ha).not.toBe(hb)

    const s = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(s.logical_bytes).toBe(a.length + b.length)
    expect(s.stored_bytes).toBe(N * CHUNK + tailA.length + tailB.length)
    expect(s.stored_bytes).toBeLessThan(s.logical_bytes)
    expect(s.chunk_count).toBe(N + 2 + 3)
    expect(s.content_count).toBe(2)
    expect(s.file_count).toBe(2)
    expect(s.dedup_ratio).toBeGreaterThan(1)
    expect(s.dedup_ratio).toBeCloseTo(s.logical_bytes / s.stored_bytes, 2)

    // each comes back intact despite sharing chunks
    const ra = expectOk(await runCli(['get', ha, '-o', '-'], { dataDir: data.path }))
    const rb = expectOk(await runCli(['get', hb, '-o', '-'], { dataDir: data.path }))
    expect(ra.stdoutBuf.equals(a)).toBe(true)
    expect(rb.stdoutBuf.equals(b)).toBe(true)

    // removing one keeps the shared chunks for the other
    expectOk(await runCli(['rm', ha], { dataDir: data.path }))
    const gc = await cliJson(['gc'], { dataDir: data.path })
    expect(gc.objects_removed).toBe(1)
    expect(gc.chunks_removed).toBe(2)
    expect(gc.bytes_freed).toBe(tailA.length)
    const s2 = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(s2.chunk_count).toBe(N + 3)
    expect(s2.stored_bytes).toBe(b.length)
    const rb2 = expectOk(await runCli(['get', hb, '-o', '-'], { dataDir: data.path }))
    expect(rb2.stdoutBuf.equals(b)).toBe(true)
    expect((await cliJson(['verify'], { dataDir: data.path })).ok).toBe(true)
  })

  it('a file repeating one chunk stores it once', async () => {
    const block = randomBytes(CHUNK)
    const file = join(work.path, 'repeat.bin')
    await writeFile(file, Buffer.concat([block, block, block, block]))
    const h = uploadedHash(expectOk(await runCli(['add', file], { dataDir: data.path })))
    expect(h).toBe(await sha256sum(file))
    const s = (await cliJson(['stats'], { dataDir: data.path })).storage
    expect(s.chunk_count).toBe(1)
    expect(s.stored_bytes).toBe(CHUNK)
    expect(s.logical_bytes).toBe(4 * CHUNK)
    const info = await cliJson(['view', h], { dataDir: data.path })
    expect(info.chunk_count).toBe(4)
  })
})
