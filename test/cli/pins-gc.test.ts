/**
 * Pins, rm and gc through the CLI.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHUNK, cliJson, expectCleanError, expectOk, freshDataDir, runCli, uploadedHash } from '../helpers/cli.js'

describe('pins, rm and gc', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  const opts = (): { dataDir: string } => ({ dataDir: data.path })

  const addBytes = async (name: string, bytes: Buffer): Promise<string> => {
    const f = join(work.path, name)
    await writeFile(f, bytes)
    return uploadedHash(expectOk(await runCli(['add', f], opts())))
  }

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  it('pin with --priority, pin again updates it, pins maps hash -> priority, unpin', async () => {
    const h = await addBytes('pinme.txt', Buffer.from('pin me\n'))
    expect(await cliJson(['pins'], opts())).toEqual({})

    const r = expectOk(await runCli(['pin', h, '--priority', '7'], opts()))
    expect(r.stdout).toContain(`📌 Pinned: ${h}`)
    expect(r.stdout).toContain('   Priority: 7')
    expect(await cliJson(['pins'], opts())).toEqual({ [h]: 7 })

    const again = await cliJson(['pin', h, '-p', '42'], opts())
    expect(again).toMatchObject({ hash: h, priority: 42 })
    expect(await cliJson(['pins'], opts())).toEqual({ [h]: 42 })
    const view = await cliJson(['view', h], opts())
    expect(view).toMatchObject({ hash: h, pinned: true, priority: 42 })

    // default priority when none is given; boundaries 1 and 100 are valid
    const h2 = await addBytes('pinme2.txt', Buffer.from('pin me too\n'))
    const def = await cliJson(['pin', h2], opts())
    expect(def).toEqual({ hash: h2, priority: 1, state: 'pinned', message: 'Content pinned successfully' })
    expect((await cliJson(['pin', h2, '--priority', '1'], opts())).priority).toBe(1)
    expect((await cliJson(['pin', h2, '--priority', '100'], opts())).priority).toBe(100)
    expect(await cliJson(['pins'], opts())).toEqual({ [h]: 42, [h2]: 100 })

    // human pins output lists higher priority first
    const human = expectOk(await runCli(['pins'], opts()))
    expect(human.stdout).toContain('📌 Pinned Content (2 items):')
    expect(human.stdout.indexOf(h2)).toBeLessThan(human.stdout.indexOf(h))

    const un = await cliJson(['unpin', h], opts())
    expect(un).toMatchObject({ hash: h, was_pinned: true })
    expect(await cliJson(['pins'], opts())).toEqual({ [h2]: 100 })
    const unAgain = expectOk(await runCli(['unpin', h], opts()))
    expect(unAgain.stdout).toContain(`Not pinned: ${h}`)
    expect((await cliJson(['view', h], opts()))).toMatchObject({ pinned: false, priority: null })
    expectOk(await runCli(['unpin', h2], opts()))
    expect(await cliJson(['pins'], opts())).toEqual({})
  })

  it('rm of a pinned local add, then gc, keeps it', async () => {
    const bytes = randomBytes(CHUNK + 500)
    const h = await addBytes('keep.bin', bytes)
    expectOk(await runCli(['pin', h, '--priority', '50'], opts()))
    const rm = await cliJson(['rm', h], opts())
    expect(rm).toMatchObject({ hash: h, pinned: true })
    const gc = await cliJson(['gc'], opts())
    expect(typeof gc.objects_removed).toBe('number')
    const list = await cliJson(['list'], opts()) as any[]
    expect(list.map(i => i.hash)).toContain(h)
    const back = expectOk(await runCli(['get', h, '-o', '-'], opts()))
    expect(back.stdoutBuf.equals(bytes)).toBe(true)
    // once unpinned, gc takes it
    expectOk(await runCli(['unpin', h], opts()))
    const gc2 = await cliJson(['gc'], opts())
    expect(gc2.objects_removed).toBe(1)
    expect(gc2.chunks_removed).toBe(2)
    expectCleanError(await runCli(['get', h], opts()), `content not found: ${h}`)
  })

  it('rm + gc of an unpinned add removes it and frees its chunks', async () => {
    const bytes = randomBytes(2 * CHUNK + 1)
    const h = await addBytes('gone.bin', bytes)
    const before = (await cliJson(['stats'], opts())).storage
    const r = expectOk(await runCli(['rm', h], opts()))
    expect(r.stdout).toContain(`🗑️  Released: ${h}`)
    expect(r.stdout).toContain('   References left: 0')
    expect(r.stdout).toContain('openhash gc')
    // still there until gc
    expectOk(await runCli(['view', h], opts()))

    const gc = await cliJson(['gc'], opts())
    expect(gc.objects_removed).toBe(1)
    expect(gc.chunks_removed).toBe(3)
    expect(gc.bytes_freed).toBe(bytes.length)

    expectCleanError(await runCli(['get', h], opts()), `content not found: ${h}`)
    expectCleanError(await runCli(['get', h, '-o', join(work.path, 'gone.out')], opts()), 'content not found')
    expectCleanError(await runCli(['view', h], opts()), 'content not found')
    const after = (await cliJson(['stats'], opts())).storage
    expect(after.chunk_count).toBe(before.chunk_count - 3)
    expect(after.stored_bytes).toBe(before.stored_bytes - bytes.length)
    expect(after.content_count).toBe(before.content_count - 1)
    expect((await cliJson(['list'], opts()) as any[]).map(i => i.hash)).not.toContain(h)
    expect((await cliJson(['verify'], opts())).ok).toBe(true)
  })

  it('a second rm of the same content is refused (no longer a local add)', async () => {
    const h = await addBytes('twice-rm.txt', Buffer.from('rm me twice\n'))
    expectOk(await runCli(['rm', h], opts()))
    expectCleanError(await runCli(['rm', h], opts()), /not a local add/)
    await cliJson(['gc'], opts())
  })

  it('a file inside a stored directory survives rm + gc of its own add', async () => {
    const dir = join(work.path, 'holder')
    await mkdir(dir)
    const bytes = Buffer.from('held by a directory\n')
    await writeFile(join(dir, 'held.txt'), bytes)
    const d = uploadedHash(expectOk(await runCli(['add', dir], opts())), 'Directory')
    const h = await addBytes('held.txt', bytes)
    const rm = await cliJson(['rm', h], opts())
    expect(rm.ref_count).toBe(1)
    const gc = await cliJson(['gc'], opts())
    expect(gc.objects_removed).toBe(0)
    expect(expectOk(await runCli(['get', h, '-o', '-'], opts())).stdoutBuf.equals(bytes)).toBe(true)

    // releasing the directory takes both with it
    expectOk(await runCli(['rm', d], opts()))
    const gc2 = await cliJson(['gc'], opts())
    expect(gc2.objects_removed).toBe(2)
    expectCleanError(await runCli(['get', d], opts()), 'content not found')
    expectCleanError(await runCli(['get', h], opts()), 'content not found')
  })

  it('a pinned directory keeps its whole tree through gc', async () => {
    const dir = join(work.path, 'pinned-tree')
    await mkdir(join(dir, 'deep'), { recursive: true })
    const leaf = randomBytes(3000)
    await writeFile(join(dir, 'deep', 'leaf.bin'), leaf)
    const d = uploadedHash(expectOk(await runCli(['add', dir], opts())), 'Directory')
    expectOk(await runCli(['pin', d], opts()))
    expectOk(await runCli(['rm', d], opts()))
    const gc = await cliJson(['gc'], opts())
    expect(gc.objects_removed).toBe(0)
    const out = join(work.path, 'pinned-tree-out')
    expectOk(await runCli(['get', d, '-o', out], opts()))
    expect((await readFile(join(out, 'deep', 'leaf.bin'))).equals(leaf)).toBe(true)
    expect((await cliJson(['verify'], opts())).ok).toBe(true)
  })
})
