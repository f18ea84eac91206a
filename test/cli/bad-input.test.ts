/**
 * Bad input: every case exits non-zero with exactly one "Error:" line on
 * stderr (no stack trace), does not hang, and leaves the store exactly as it
 * was (list and stats compared before and after every test; pins where a
 * command could touch them).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CliResult } from '../helpers/cli.js'
import { API_MODE, cliJson, expectCleanError, expectOk, freshDataDir, runCli, show, snapshot, uploadedHash } from '../helpers/cli.js'

describe('bad input is refused cleanly and changes nothing', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  let baseline: Awaited<ReturnType<typeof snapshot>>
  let fileHash: string
  let dirHash: string
  const run = async (args: string[], timeoutMs = 20_000): Promise<CliResult> => await runCli(args, { dataDir: data.path, timeoutMs })

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
    await writeFile(join(work.path, 'good.txt'), 'good content\n')
    await mkdir(join(work.path, 'gooddir', 'inner'), { recursive: true })
    await writeFile(join(work.path, 'gooddir', 'inner', 'x.txt'), 'x\n')
    fileHash = uploadedHash(expectOk(await run(['add', join(work.path, 'good.txt')])))
    dirHash = uploadedHash(expectOk(await run(['add', join(work.path, 'gooddir')])), 'Directory')
    expectOk(await run(['pin', dirHash, '--priority', '10']))
    baseline = await snapshot(data.path)
    expect((baseline.list as unknown[]).length).toBe(4)
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })
  afterEach(async () => {
    // in-process: the lock file of the failed run is gone; API mode: the
    // daemon still holds the store. Either way nothing stored changed.
    expect(existsSync(join(data.path, 'lock.json'))).toBe(API_MODE)
    expect(await snapshot(data.path)).toEqual(baseline)
  })

  describe('add', () => {
    it('a missing file', async () => {
      expectCleanError(await run(['add', join(work.path, 'does-not-exist.txt')]), /no such file or directory: .*does-not-exist\.txt/)
    })

    it('a missing file whose name holds a newline: still one stderr line', async () => {
      expectCleanError(await run(['add', join(work.path, 'no\nsuch')]), /no such file or directory/)
    })

    it('a directory holding a name that is not valid UTF-8 is refused with a message that says so', async () => {
      const dir = join(work.path, 'latin1-names')
      await mkdir(dir)
      await writeFile(join(dir, 'fine.txt'), 'fine\n')
      // "caf\xe9" in Latin-1: a legal Linux file name, but not UTF-8
      await writeFile(Buffer.concat([Buffer.from(dir + '/caf'), Buffer.from([0xe9])]), 'latin1\n')
      const line = expectCleanError(await run(['add', dir]))
      // the file exists; "no such file or directory" would be misleading
      expect(line).toMatch(/UTF-?8|encoding|invalid (entry |file )?name/i)
    })

    it('an unreadable file (/proc/self/mem reads fail with EIO)', async () => {
      expectCleanError(await run(['add', '/proc/self/mem']), '/proc/self/mem')
    })

    it('a FIFO is refused as not a regular file, without hanging', async () => {
      const fifo = join(work.path, 'a-fifo')
      execFileSync('mkfifo', [fifo])
      const r = await run(['add', fifo], 15_000)
      expect(r.timedOut, show(r)).toBe(false)
      expectCleanError(r, /not a regular file/)
    })

    it('a directory holding a FIFO is refused before anything is stored', async () => {
      const dir = join(work.path, 'has-fifo')
      await mkdir(dir)
      await writeFile(join(dir, 'a-first.txt'), 'imported first if the walk were not checked up front\n')
      execFileSync('mkfifo', [join(dir, 'b-fifo')])
      await writeFile(join(dir, 'c-last.txt'), 'last\n')
      const r = await run(['add', dir], 15_000)
      expect(r.timedOut, show(r)).toBe(false)
      expectCleanError(r, /not a regular file.*b-fifo/)
    })

    it('a symlink loop (ln -s loop loop)', async () => {
      const dir = join(work.path, 'looping')
      await mkdir(dir)
      execFileSync('ln', ['-s', 'loop', 'loop'], { cwd: dir })
      expectCleanError(await run(['add', join(dir, 'loop')]), /symbolic link loop/)
    })

    it('a directory containing a symlink to its own ancestor', async () => {
      const dir = join(work.path, 'ancestor')
      await mkdir(join(dir, 'a', 'b'), { recursive: true })
      await writeFile(join(dir, 'a', 'file.txt'), 'some bytes\n')
      await symlink('../..', join(dir, 'a', 'b', 'up'))
      expectCleanError(await run(['add', dir]), /symbolic link loop/)
    })

    it('a directory containing a symlink to itself', async () => {
      const dir = join(work.path, 'selfish')
      await mkdir(dir)
      await writeFile(join(dir, 'a.txt'), 'a\n')
      await symlink('.', join(dir, 'me'))
      expectCleanError(await run(['add', dir]), /symbolic link loop/)
    })

    it('a directory containing a dangling symlink', async () => {
      const dir = join(work.path, 'dangling')
      await mkdir(dir)
      await writeFile(join(dir, 'a.txt'), 'a but not stored\n')
      await symlink('nowhere', join(dir, 'b-broken'))
      expectCleanError(await run(['add', dir]), /no such file or directory/)
    })

    it('a directory whose later entry is unreadable stores none of its earlier files', async () => {
      const dir = join(work.path, 'late-eio')
      await mkdir(dir)
      await writeFile(join(dir, 'a-fine.txt'), 'fine, but must not be stored\n')
      await symlink('/proc/self/mem', join(dir, 'z-mem'))
      expectCleanError(await run(['add', dir]), 'z-mem')
    })

    it('no path at all (a usage error, also one line)', async () => {
      expectCleanError(await run(['add']), /missing required argument/)
    })
  })

  describe('malformed hashes', () => {
    const bad: Array<[string, string]> = [
      ['short', 'abc123'],
      ['65 characters', 'a'.repeat(65)],
      ['63 characters', 'b'.repeat(63)],
      ['64 non-hex characters', 'z'.repeat(64)],
      ['a hash with a trailing newline', `${'c'.repeat(64)}\n`],
      ['empty', '']
    ]
    for (const cmd of ['get', 'view', 'pin', 'unpin', 'rm']) {
      it(`${cmd}: short, 63, 65, non-hex, trailing newline and empty hashes`, async () => {
        for (const [label, value] of bad) {
          const r = await run([cmd, value])
          const line = expectCleanError(r, /invalid hash/i)
          expect(line, `${cmd} with ${label}`).toContain('expected 64 hexadecimal characters')
        }
        if (cmd === 'pin' || cmd === 'unpin') expect(await cliJson(['pins'], { dataDir: data.path })).toEqual({ [dirHash]: 10 })
      })
    }
    it('get -o with a malformed hash writes no output file', async () => {
      const out = join(work.path, 'never.txt')
      expectCleanError(await run(['get', 'zz', '-o', out]), /invalid hash/i)
      expect(existsSync(out)).toBe(false)
    })
  })

  describe('unknown (well-formed) hashes', () => {
    const unknown = 'f'.repeat(64)
    for (const cmd of ['get', 'view', 'pin', 'rm']) {
      it(`${cmd}: content not found`, async () => {
        expectCleanError(await run([cmd, unknown]), `content not found: ${unknown}`)
      })
    }
    it('get -o with an unknown hash writes no output file', async () => {
      const out = join(work.path, 'never-unknown.txt')
      expectCleanError(await run(['get', unknown, '-o', out]), 'content not found')
      expect(existsSync(out)).toBe(false)
    })
    it('get -o - with an unknown hash writes nothing to stdout', async () => {
      const r = await run(['get', unknown, '-o', '-'])
      expectCleanError(r, 'content not found')
      expect(r.stdout).toBe('')
    })
    it('--json errors are JSON on stdout with a code', async () => {
      const r = await run(['--json', 'get', unknown])
      expectCleanError(r, 'content not found')
      expect(JSON.parse(r.stdout)).toEqual({ error: `content not found: ${unknown}`, code: 'NOT_FOUND' })
      const r2 = await run(['--json', 'view', 'nothex'])
      expectCleanError(r2, /invalid hash/)
      expect(JSON.parse(r2.stdout).code).toBe('INVALID_HASH')
    })
  })

  describe('invalid priorities', () => {
    it('pin --priority 0, 101, -1, 1.5, abc, "", 1e1, " 5x"', async () => {
      for (const p of ['0', '101', '-1', '1.5', 'abc', '', '1e1', ' 5x']) {
        const r = await run(['pin', fileHash, '--priority', p])
        expect(expectCleanError(r, /invalid priority/), `priority ${JSON.stringify(p)}`).toContain('expected an integer from 1 to 100')
      }
      expect(await cliJson(['pins'], { dataDir: data.path })).toEqual({ [dirHash]: 10 })
    })
    it('pin --priority=-1 (attached form)', async () => {
      expectCleanError(await run(['pin', fileHash, '--priority=-1']), /invalid priority: -1/)
    })
    it('re-pinning with an invalid priority keeps the existing pin', async () => {
      expectCleanError(await run(['pin', dirHash, '-p', '0']), /invalid priority/)
      expect(await cliJson(['pins'], { dataDir: data.path })).toEqual({ [dirHash]: 10 })
    })
  })

  describe('other refusals', () => {
    it('rm of content that is only held by a directory (not a local add)', async () => {
      const inner = (await cliJson(['list'], { dataDir: data.path }) as any[]).find(i => i.filename === 'x.txt')
      expect(inner).toBeDefined()
      expectCleanError(await run(['rm', inner.hash]), /not a local add/)
    })

    it('get -o into a directory that does not exist', async () => {
      expectCleanError(await run(['get', fileHash, '-o', join(work.path, 'no', 'such', 'dir', 'out.txt')]))
    })

    it('an unknown command and an unknown option (usage errors, one line each)', async () => {
      expectCleanError(await run(['frobnicate']), /unknown command 'frobnicate'/)
      expectCleanError(await run(['get', fileHash, '--frobnicate']), /unknown option '--frobnicate'/)
    })
  })

  describe('afterwards', () => {
    it('gc finds nothing left behind by the refused commands, and the store verifies', async () => {
      const gc = await cliJson(['gc'], { dataDir: data.path })
      expect(gc).toMatchObject({ objects_removed: 0, chunks_removed: 0, bytes_freed: 0, manifests_released: 0 })
      const v = await cliJson(['verify'], { dataDir: data.path })
      expect(v).toMatchObject({ ok: true, problems: [] })
    })
  })
})
