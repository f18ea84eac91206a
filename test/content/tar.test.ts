import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { importPath } from '../../src/content/importer.js'
import { tarDirectory, tarLength } from '../../src/content/tar.js'
import type { TarSource } from '../../src/content/tar.js'
import type { Repo } from '../../src/store/repo.js'
import { openTestStore } from '../helpers/repo.js'
import { collect, prng, tempDir } from '../helpers/tmp.js'

const run = promisify(execFile)
const CHUNK = 1024 * 1024

// names chosen to hit every naming path of the writer
const UNICODE = 'héllo wörld ✓.txt'
const LONG = `long-${'x'.repeat(150)}.txt` // one component over 100 bytes: pax path
const NEWLINE = 'line\nbreak.txt'
const DEEP = ['p'.repeat(60), 'q'.repeat(60)] // ASCII path over 100 bytes: ustar prefix/name split

function sourceOf (repo: Repo): TarSource {
  return {
    info: async h => await repo.info(h),
    entries: async h => await repo.entries(h),
    read: (h, o) => repo.read(h, o)
  }
}

/** Every path under `root` (dirs with a trailing '/'), sorted, plus file bytes. */
async function snapshot (root: string): Promise<Map<string, Buffer | 'dir'>> {
  const out = new Map<string, Buffer | 'dir'>()
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, d.name)
      if (d.isDirectory()) {
        out.set(`${rel}${d.name}/`, 'dir')
        await visit(p, `${rel}${d.name}/`)
      } else if (d.isFile()) {
        out.set(rel + d.name, await readFile(p))
      } else {
        throw new Error(`unexpected file type at ${p}`)
      }
    }
  }
  await visit(root, '')
  return out
}

interface Header { type: string, name: string, prefix: string, mode: string, uid: string, uname: string, checksumOk: boolean, pax?: string }

/** Parse an archive's headers (no pax semantics beyond remembering the record text for the next member). */
function headers (tar: Buffer): Header[] {
  const out: Header[] = []
  let pax: string | undefined
  for (let off = 0; off + 512 <= tar.byteLength;) {
    const h = tar.subarray(off, off + 512)
    if (h.equals(Buffer.alloc(512))) break
    const str = (a: number, b: number): string => h.toString('latin1', a, b).replace(/\0.*$/s, '')
    const copy = Buffer.from(h).fill(0x20, 148, 156)
    let sum = 0
    for (const b of copy) sum += b
    const size = parseInt(str(124, 136), 8)
    const type = str(156, 157)
    off += 512
    if (type === 'x') {
      pax = tar.toString('utf8', off, off + size)
    } else {
      out.push({ type, name: str(0, 100), prefix: str(345, 500), mode: str(100, 108), uid: str(108, 116), uname: str(265, 297), checksumOk: parseInt(str(148, 155), 8) === sum, pax })
      pax = undefined
    }
    off += Math.ceil(size / 512) * 512
  }
  return out
}

describe('tar export', () => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let src: TarSource
  let srcRoot: string
  let hash: string
  const big = prng(42)(2.5 * CHUNK)

  beforeAll(async () => {
    store = await openTestStore('pack', CHUNK)
    tmp = await tempDir()
    srcRoot = join(tmp.path, 'tree')
    await mkdir(join(srcRoot, 'a', 'b', 'c'), { recursive: true })
    await writeFile(join(srcRoot, 'a', 'b', 'c', 'deep.txt'), 'nested\n')
    await writeFile(join(srcRoot, 'a', 'top.txt'), 'x'.repeat(512)) // exactly one block, no padding
    await mkdir(join(srcRoot, 'empty-dir'))
    await writeFile(join(srcRoot, 'empty.txt'), '')
    await writeFile(join(srcRoot, 'big.bin'), big)
    await writeFile(join(srcRoot, UNICODE), 'unicode name\n')
    await writeFile(join(srcRoot, LONG), 'long name\n')
    await writeFile(join(srcRoot, NEWLINE), 'newline name\n')
    await mkdir(join(srcRoot, 'dïr ✓'))
    await writeFile(join(srcRoot, 'dïr ✓', 'inner.txt'), 'in a non-ASCII directory\n')
    await mkdir(join(srcRoot, ...DEEP), { recursive: true })
    await writeFile(join(srcRoot, ...DEEP, 'file.txt'), 'deep ascii path\n')
    const { record } = await importPath(store.repo, srcRoot)
    hash = record.hash
    src = sourceOf(store.repo)
  })

  afterAll(async () => {
    await store?.cleanup()
    await tmp?.cleanup()
  })

  it('extracts with GNU tar to exactly the source tree, and tarLength is exact', async () => {
    const archive = join(tmp.path, 'out.tar')
    await pipeline(Readable.from(tarDirectory(src, hash, 'tree')), createWriteStream(archive))
    const outDir = join(tmp.path, 'extracted')
    await mkdir(outDir)
    const { stderr } = await run('tar', ['-xf', archive, '-C', outDir])
    expect(stderr).toBe('') // no checksum, unknown-keyword or truncation warnings

    expect(await readdir(outDir)).toEqual(['tree']) // everything under rootName/
    const want = await snapshot(srcRoot)
    const got = await snapshot(join(outDir, 'tree'))
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
    for (const [p, v] of want) {
      const g = got.get(p)
      // Buffer.equals: vitest's deep equality is very slow on megabytes
      if (v === 'dir') expect(g, p).toBe('dir')
      else expect(Buffer.isBuffer(g) && g.equals(v), p).toBe(true)
    }
    // the interesting members really are there
    expect(got.get('empty-dir/')).toBe('dir')
    expect(got.get('empty.txt')).toEqual(Buffer.alloc(0))
    expect(got.get(UNICODE)).toEqual(Buffer.from('unicode name\n'))
    expect(got.get(LONG)).toEqual(Buffer.from('long name\n'))
    expect(got.get(NEWLINE)).toEqual(Buffer.from('newline name\n'))
    expect(got.get(`${DEEP.join('/')}/file.txt`)).toEqual(Buffer.from('deep ascii path\n'))
    expect((got.get('big.bin') as Buffer).equals(big)).toBe(true)

    // mtimes: the stored mod_time in whole seconds
    for (const rel of ['big.bin', 'empty.txt', UNICODE, 'a/b/c/deep.txt', 'empty-dir']) {
      const s = await stat(join(srcRoot, rel))
      const x = await stat(join(outDir, 'tree', rel))
      expect(x.mtime.getTime(), rel).toBe(Math.floor(s.mtime.getTime() / 1000) * 1000)
    }

    const size = (await stat(archive)).size
    expect(size % 512).toBe(0)
    expect(await tarLength(src, hash, 'tree')).toBe(size)
  })

  it('is deterministic and ends with two zero blocks', async () => {
    const one = await collect(tarDirectory(src, hash, 'tree'))
    const two = await collect(tarDirectory(src, hash, 'tree'))
    expect(one.equals(two)).toBe(true)
    expect(one.byteLength).toBe(await tarLength(src, hash, 'tree'))
    expect(one.subarray(-1024).equals(Buffer.alloc(1024))).toBe(true)
    // GNU tar lists the same members, in depth-first canonical order
    const archive = join(tmp.path, 'list.tar')
    await writeFile(archive, one)
    const { stdout } = await run('tar', ['-tf', archive, '--quoting-style=escape'])
    const names = stdout.split('\n').filter(l => l !== '')
    expect(names[0]).toBe('tree/')
    expect(names).toContain('tree/empty-dir/')
    expect(names.indexOf('tree/a/')).toBeLessThan(names.indexOf('tree/a/b/'))
    expect(names.indexOf('tree/a/b/c/deep.txt')).toBeLessThan(names.indexOf('tree/a/top.txt'))
    expect(names).toContain('tree/line\\nbreak.txt')
  })

  it('uses plain ustar names, the prefix split, or pax, as each path needs', async () => {
    const hs = headers(await collect(tarDirectory(src, hash, 'tree')))
    for (const h of hs) {
      expect(h.checksumOk, h.name).toBe(true)
      expect(h.mode).toBe(h.type === '5' ? '0000755' : '0000644')
      expect(h.uid).toBe('0000000')
      expect(h.uname).toBe('')
    }
    const plain = hs.find(h => h.name === 'tree/empty.txt')!
    expect(plain).toMatchObject({ type: '0', prefix: '', pax: undefined })
    expect(hs.find(h => h.name === 'tree/empty-dir/')).toMatchObject({ type: '5', pax: undefined })
    // ASCII but over 100 bytes with short components: ustar prefix + name, no pax
    expect(hs.find(h => h.name === `${DEEP[1]}/file.txt`)).toMatchObject({ type: '0', prefix: `tree/${DEEP[0]}`, pax: undefined })
    // non-ASCII, newline, long component: pax path record, ASCII placeholder name
    for (const name of [UNICODE, NEWLINE, LONG]) {
      const path = `tree/${name}`
      const h = hs.find(h => h.pax?.endsWith(` path=${path}\n`) === true)
      expect(h, name).toBeDefined()
      // "<len> path=<utf8>\n" where <len> is the whole record's byte length
      const m = /^(\d+) path=/.exec(h!.pax!)
      expect(m !== null && Number(m[1]) === Buffer.byteLength(h!.pax!) && h!.pax!.startsWith(`${m[1]} path=${path}\n`), name).toBe(true)
      expect(h!.name).toBe(path.replace(/[^\x20-\x7e]/g, '_').slice(0, 100))
      expect(h!.prefix).toBe('')
    }
    expect(hs.find(h => h.pax === undefined && h.name.startsWith('tree/long-'))).toBeUndefined()
  })

  it('throws ABORTED for an aborted signal, before or during the stream', async () => {
    const ac = new AbortController()
    ac.abort()
    await expect(collect(tarDirectory(src, hash, 'tree', { signal: ac.signal }))).rejects.toMatchObject({ code: 'ABORTED' })
    await expect(tarLength(src, hash, 'tree', { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' })

    const mid = new AbortController()
    let pieces = 0
    const consume = async (): Promise<void> => {
      for await (const _ of tarDirectory(src, hash, 'tree', { signal: mid.signal })) {
        if (++pieces === 3) mid.abort()
      }
    }
    await expect(consume()).rejects.toMatchObject({ code: 'ABORTED' })
    expect(pieces).toBe(3)
  })

  it('throws CORRUPT_DATA when a file streams more or fewer bytes than its entry size', async () => {
    const bigHash = (await store.repo.entries(hash)).find(e => e.name === 'big.bin')!.hash
    const tamper = (delta: number): TarSource => ({
      ...src,
      read: (h, o) => (async function * () {
        const data = await collect(store.repo.read(h, o))
        yield h === bigHash ? (delta < 0 ? data.subarray(0, data.byteLength + delta) : Buffer.concat([data, Buffer.alloc(delta)])) : data
      })()
    })
    await expect(collect(tarDirectory(tamper(-1), hash, 'tree'))).rejects.toMatchObject({ code: 'CORRUPT_DATA' })
    await expect(collect(tarDirectory(tamper(1), hash, 'tree'))).rejects.toMatchObject({ code: 'CORRUPT_DATA' })
  })

  it('rejects a file hash and a bad root name', async () => {
    const fileHash = (await store.repo.entries(hash)).find(e => e.name === 'empty.txt')!.hash
    await expect(collect(tarDirectory(src, fileHash, 'x'))).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY' })
    await expect(tarLength(src, hash, 'a/b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('tar headers for files of 8 GiB and more', () => {
  const SIZE = 8 * 1024 ** 3 + 1
  const H = (c: string): string => c.repeat(64)
  const fake: TarSource = {
    info: async h => ({ hash: h, cid: '', filename: 'x', mime_type: '', size: SIZE, mod_time: '2024-01-02T03:04:05.678Z', chunk_count: 0, is_directory: h === H('d'), created_at: '', ref_count: 1 }),
    entries: async () => [{ name: 'huge.bin', type: 'file', hash: H('f'), size: SIZE }],
    read: () => (async function * () { for (;;) yield new Uint8Array(CHUNK) })()
  }

  const checksumOk = (h: Buffer): boolean => {
    const copy = Buffer.from(h)
    copy.fill(0x20, 148, 156)
    let sum = 0
    for (const b of copy) sum += b
    return parseInt(h.toString('latin1', 148, 154), 8) === sum
  }

  it('uses a pax size record and a base-256 size field', async () => {
    const gen = tarDirectory(fake, H('d'), 'root')
    const dirHeader = Buffer.from((await gen.next()).value as Uint8Array)
    const fileHeaders = Buffer.from((await gen.next()).value as Uint8Array)
    await gen.return(undefined)

    expect(dirHeader.byteLength).toBe(512)
    expect(dirHeader.toString('latin1', 0, 6)).toBe('root/\0')
    expect(dirHeader.toString('latin1', 156, 157)).toBe('5')
    expect(dirHeader.toString('latin1', 136, 148)).toBe(`${Math.floor(Date.parse('2024-01-02T03:04:05.678Z') / 1000).toString(8).padStart(11, '0')}\0`)
    expect(checksumOk(dirHeader)).toBe(true)

    const pax = fileHeaders.subarray(0, 512)
    expect(pax.toString('latin1', 156, 157)).toBe('x')
    expect(checksumOk(pax)).toBe(true)
    const paxLen = parseInt(pax.toString('latin1', 124, 135), 8)
    const record = `${' size=8589934593\n'.length + 2} size=8589934593\n`
    expect(fileHeaders.toString('utf8', 512, 512 + paxLen)).toBe(record)
    expect(Buffer.byteLength(record)).toBe(paxLen)

    const ustar = fileHeaders.subarray(1024) // the record fits in one block
    expect(fileHeaders.byteLength).toBe(1536)
    expect(ustar.toString('latin1', 0, 14)).toBe('root/huge.bin\0')
    expect(ustar.toString('latin1', 156, 157)).toBe('0')
    expect(ustar.toString('latin1', 257, 265)).toBe('ustar\u000000')
    expect(ustar[124]).toBe(0x80)
    let v = 0
    for (let i = 125; i < 136; i++) v = v * 256 + ustar[i]
    expect(v).toBe(SIZE)
    expect(checksumOk(ustar)).toBe(true)

    expect(await tarLength(fake, H('d'), 'root')).toBe(512 + 1536 + SIZE + 511 + 1024)
  })
})
