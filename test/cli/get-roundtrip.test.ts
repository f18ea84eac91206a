/**
 * `openhash get` gives back exactly what `openhash add` took: single files to
 * a path or to stdout, a preview for text, and whole directory trees.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, mkdir, readFile, readdir, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, CHUNK, cliJson, expectCleanError, expectOk, freshDataDir, runCli, sha256sum, show, uploadedHash } from '../helpers/cli.js'

type Node = { type: 'file', sha: string, size: number } | { type: 'dir' } | { type: 'other', what: string }

/** Every path under root (relative) with its type and, for files, its bytes' digest. */
async function tree (root: string): Promise<Map<string, Node>> {
  const out = new Map<string, Node>()
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name)
      const r = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(abs)
      if (st.isDirectory()) {
        out.set(r, { type: 'dir' })
        await walk(abs, r)
      } else if (st.isFile()) {
        const bytes = await readFile(abs)
        out.set(r, { type: 'file', sha: createHash('sha256').update(bytes).digest('hex'), size: bytes.length })
      } else {
        out.set(r, { type: 'other', what: st.isSymbolicLink() ? `symlink -> ${await readlink(abs)}` : 'special' })
      }
    }
  }
  await walk(root, '')
  return out
}

/** The canonical directory encoding (src/format/directory.ts header comment). */
function dirHash (entries: Array<{ name: string, type: 'file' | 'dir', hash: string, size: number }>): string {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  const h = createHash('sha256').update('openhashdb-dir-v1\n')
  for (const e of sorted) {
    const name = Buffer.from(e.name, 'utf8')
    h.update(`${e.type} ${e.hash} ${e.size} ${name.length}:`).update(name).update('\n')
  }
  return h.digest('hex')
}

/** Expected hash and size of a directory on disk, computed independently. */
async function expectedDir (path: string): Promise<{ hash: string, size: number }> {
  const entries = []
  let total = 0
  for (const name of await readdir(path)) {
    const abs = join(path, name)
    const st = await stat(abs)
    if (st.isDirectory()) {
      const d = await expectedDir(abs)
      entries.push({ name, type: 'dir' as const, hash: d.hash, size: d.size })
      total += d.size
    } else {
      const bytes = await readFile(abs)
      entries.push({ name, type: 'file' as const, hash: createHash('sha256').update(bytes).digest('hex'), size: bytes.length })
      total += bytes.length
    }
  }
  return { hash: dirHash(entries), size: total }
}

describe('openhash get', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  const dataDir = (): string => data.path

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  describe('single files', () => {
    const binary = randomBytes(2 * CHUNK + 12345)
    let binHash: string
    const text = 'Hello, OpenHashDB!\nsecond line ünïcödé\n'
    let textHash: string

    beforeAll(async () => {
      await writeFile(join(work.path, 'blob.bin'), binary)
      await writeFile(join(work.path, 'note.txt'), text)
      binHash = uploadedHash(expectOk(await runCli(['add', join(work.path, 'blob.bin')], { dataDir: dataDir() })))
      textHash = uploadedHash(expectOk(await runCli(['add', join(work.path, 'note.txt')], { dataDir: dataDir() })))
    })

    it('get -o <path> writes identical bytes', async () => {
      const out = join(work.path, 'blob.out')
      const r = expectOk(await runCli(['get', binHash, '-o', out], { dataDir: dataDir() }))
      expect(r.stdout).toContain(`✅ Saved file to ${out}`)
      expect((await readFile(out)).equals(binary)).toBe(true)
      expect(await sha256sum(out)).toBe(binHash)
    })

    it('get -o - writes the raw bytes to stdout and nothing else', async () => {
      const r = expectOk(await runCli(['get', binHash, '-o', '-'], { dataDir: dataDir() }))
      expect(r.stdoutBuf.length).toBe(binary.length)
      expect(r.stdoutBuf.equals(binary)).toBe(true)
      const t = expectOk(await runCli(['get', textHash, '-o', '-'], { dataDir: dataDir() }))
      expect(t.stdout).toBe(text)
    })

    it('get -o - into a pipe closed early ends quietly', async () => {
      const big = randomBytes(4 * 1024 * 1024)
      await writeFile(join(work.path, 'pipe.bin'), big)
      const h = uploadedHash(expectOk(await runCli(['add', join(work.path, 'pipe.bin')], { dataDir: dataDir() })))
      const script = `"$NODE" "$BIN" get ${h} -o - 2>"$ERR" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`
      const errFile = join(work.path, 'pipe.err')
      const out = await new Promise<string>((resolve, reject) => {
        execFile('bash', ['-c', script], { env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENHASH_'))), NODE: process.execPath, BIN, ERR: errFile, OPENHASH_DATA_DIR: dataDir(), HOME: work.path }, timeout: 30_000 },
          (err, stdout) => { if (err !== null) reject(err); else resolve(stdout) })
      })
      expect(out.trim()).toBe('0')
      expect(await readFile(errFile, 'utf8')).toBe('')
    })

    it('get -o refuses an existing path without --force and replaces it with --force', async () => {
      const out = join(work.path, 'exists.txt')
      await writeFile(out, 'keep me')
      expectCleanError(await runCli(['get', textHash, '-o', out], { dataDir: dataDir() }), /already exists/)
      expect(await readFile(out, 'utf8')).toBe('keep me')
      expectOk(await runCli(['get', textHash, '-o', out, '--force'], { dataDir: dataDir() }))
      expect(await readFile(out, 'utf8')).toBe(text)
    })

    it('get without -o prints the file block with a text preview', async () => {
      const r = expectOk(await runCli(['get', textHash], { dataDir: dataDir() }))
      const lines = r.stdout.split('\n')
      expect(lines[0]).toBe('📄 File: note.txt')
      expect(r.stdout).toContain(`   Hash: ${textHash}`)
      expect(r.stdout).toContain(`   Size: ${Buffer.byteLength(text)} bytes`)
      expect(r.stdout).toMatch(/^ {3}MIME: text\/plain/m)
      expect(r.stdout).toContain('   Content:\n   Hello, OpenHashDB!\n   second line ünïcödé\n')
    })

    it('get without -o does not dump binary content', async () => {
      const r = expectOk(await runCli(['get', binHash], { dataDir: dataDir() }))
      expect(r.stdout.split('\n')[0]).toBe('📄 File: blob.bin')
      expect(r.stdout).toContain('[binary content; use -o <path> to save it]')
      expect(r.stdout.length).toBeLessThan(2000)
    })

    it('a long text file is previewed, not printed whole', async () => {
      const long = 'x'.repeat(100) + '\n'
      const body = long.repeat(200)
      await writeFile(join(work.path, 'long.txt'), body)
      const h = uploadedHash(expectOk(await runCli(['add', join(work.path, 'long.txt')], { dataDir: dataDir() })))
      const r = expectOk(await runCli(['get', h], { dataDir: dataDir() }))
      expect(r.stdout.length).toBeLessThan(body.length)
      expect(r.stdout).toMatch(/… \(\d+ more bytes; use -o <path> to save it\)/)
    })
  })

  describe('directory trees', () => {
    let src: string
    let dirHashPrinted: string

    beforeAll(async () => {
      src = join(work.path, 'tree')
      await mkdir(join(src, 'sub', 'deeper', 'deepest'), { recursive: true })
      await mkdir(join(src, 'empty-dir'))
      await mkdir(join(src, 'sub', 'also-empty'))
      await mkdir(join(src, '日本語'))
      await writeFile(join(src, 'readme.txt'), 'top level\n')
      await writeFile(join(src, 'empty.txt'), '')
      await writeFile(join(src, 'ünï cödé.txt'), 'unicode name\n')
      await writeFile(join(src, 'line\nbreak.txt'), 'a newline in my name\n')
      await writeFile(join(src, ' leading and trailing spaces '), 'spaces\n')
      await writeFile(join(src, '日本語', 'ファイル.txt'), 'こんにちは\n')
      await writeFile(join(src, '日本語', 'empty'), '')
      await writeFile(join(src, 'sub', 'big.bin'), randomBytes(CHUNK * 2 + 7))
      await writeFile(join(src, 'sub', 'deeper', 'same-as-readme.txt'), 'top level\n')
      await writeFile(join(src, 'sub', 'deeper', 'deepest', 'leaf.dat'), randomBytes(1000))
    })

    it('add dir prints the directory hash; it is the canonical encoding of the tree', async () => {
      const r = expectOk(await runCli(['add', src], { dataDir: dataDir() }))
      dirHashPrinted = uploadedHash(r, 'Directory')
      const expected = await expectedDir(src)
      expect(dirHashPrinted).toBe(expected.hash)
      expect(r.stdout).toContain(`   Size: ${expected.size} bytes`)
      expect(r.stdout).toContain('   Name: tree')
      // 10 files; directories: tree, sub, deeper, deepest, also-empty, empty-dir, 日本語
      expect(r.stdout).toContain('   Files: 10, Directories: 7')
    })

    it('get <dirhash> -o out reproduces the tree exactly (names, types, bytes)', async () => {
      const out = join(work.path, 'tree-out')
      const r = expectOk(await runCli(['get', dirHashPrinted, '-o', out], { dataDir: dataDir() }))
      expect(r.stdout).toContain(`✅ Saved directory to ${out}`)
      const want = await tree(src)
      const got = await tree(out)
      expect(want.size).toBe(16)
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want))
      // spot checks on the awkward names
      expect(await readFile(join(out, 'line\nbreak.txt'), 'utf8')).toBe('a newline in my name\n')
      expect(await readFile(join(out, '日本語', 'ファイル.txt'), 'utf8')).toBe('こんにちは\n')
      expect(await readdir(join(out, 'empty-dir'))).toEqual([])
      expect(await readdir(join(out, 'sub', 'also-empty'))).toEqual([])
      expect((await readFile(join(out, 'empty.txt'))).length).toBe(0)
      // no temporary leftovers next to the output
      expect((await readdir(work.path)).filter(n => n.includes('.partial'))).toEqual([])
    })

    it('adding the same tree from elsewhere gives the same hash', async () => {
      const copy = join(work.path, 'tree-out')
      const r = expectOk(await runCli(['add', copy], { dataDir: dataDir() }))
      // the root's own name is not part of its hash
      expect(uploadedHash(r, 'Directory')).toBe(dirHashPrinted)
    })

    it('get <dirhash> without -o lists the entries, every name intact', async () => {
      const r = expectOk(await runCli(['get', dirHashPrinted], { dataDir: dataDir() }))
      expect(r.stdout.split('\n')[0]).toMatch(/^📁 Directory: tree(-out)?$/)
      expect(r.stdout).toContain(`   Hash: ${dirHashPrinted}`)
      expect(r.stdout).toContain('   Entries (8):')
      for (const name of ['readme.txt', 'empty.txt', 'ünï cödé.txt', '日本語/', 'empty-dir/', 'sub/']) {
        expect(r.stdout, show(r)).toContain(` ${name}  `)
      }
      const j = await cliJson(['get', dirHashPrinted], { dataDir: dataDir() })
      expect(j.is_directory).toBe(true)
      const names = j.entries.map((e: any) => e.name).sort()
      expect(names).toEqual(['empty-dir', 'empty.txt', 'line\nbreak.txt', 'readme.txt', 'sub', 'ünï cödé.txt', '日本語', ' leading and trailing spaces '].sort())
      const nl = j.entries.find((e: any) => e.name === 'line\nbreak.txt')
      expect(nl).toMatchObject({ type: 'file', size: 21 })
    })

    it('a single file inside a stored tree can be fetched by its own hash', async () => {
      const leaf = await readFile(join(src, 'sub', 'deeper', 'deepest', 'leaf.dat'))
      const h = createHash('sha256').update(leaf).digest('hex')
      const r = expectOk(await runCli(['get', h, '-o', '-'], { dataDir: dataDir() }))
      expect(r.stdoutBuf.equals(leaf)).toBe(true)
    })

    it('get -o - on a directory fails cleanly', async () => {
      const r = await runCli(['get', dirHashPrinted, '-o', '-'], { dataDir: dataDir() })
      expectCleanError(r)
      expect(r.stdout).toBe('')
    })

    it('symbolic links are followed: they come back as the files and folders they point to', async () => {
      const base = join(work.path, 'links')
      await mkdir(join(base, 'real-dir'), { recursive: true })
      await writeFile(join(base, 'real-dir', 'inside.txt'), 'inside\n')
      await writeFile(join(work.path, 'outside.txt'), 'outside the tree\n')
      await symlink('../outside.txt', join(base, 'to-outside.txt'))
      await symlink('real-dir', join(base, 'to-dir'))
      const h = uploadedHash(expectOk(await runCli(['add', base], { dataDir: dataDir() })), 'Directory')
      const out = join(work.path, 'links-out')
      expectOk(await runCli(['get', h, '-o', out], { dataDir: dataDir() }))
      expect(Object.fromEntries(await tree(out))).toEqual({
        'real-dir': { type: 'dir' },
        'real-dir/inside.txt': { type: 'file', sha: createHash('sha256').update('inside\n').digest('hex'), size: 7 },
        'to-dir': { type: 'dir' },
        'to-dir/inside.txt': { type: 'file', sha: createHash('sha256').update('inside\n').digest('hex'), size: 7 },
        'to-outside.txt': { type: 'file', sha: createHash('sha256').update('outside the tree\n').digest('hex'), size: 17 }
      })
    })

    it('the store verifies after all of this', async () => {
      const v = await cliJson(['verify'], { dataDir: dataDir() })
      expect(v.ok).toBe(true)
      expect(v.problems).toEqual([])
    })
  })

  it('stat of an exported file keeps the original modification time', async () => {
    const f = join(work.path, 'dated.txt')
    await writeFile(f, 'dated\n')
    const when = new Date('2001-02-03T04:05:06.000Z')
    await utimes(f, when, when)
    const h = uploadedHash(expectOk(await runCli(['add', f], { dataDir: dataDir() })))
    const out = join(work.path, 'dated.out')
    expectOk(await runCli(['get', h, '-o', out], { dataDir: dataDir() }))
    expect((await stat(out)).mtime.toISOString()).toBe(when.toISOString())
  })
})
