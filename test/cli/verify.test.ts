/**
 * `openhash verify` on a healthy store and on one with a damaged chunk.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { open, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHUNK, cliJson, expectCleanError, expectOk, freshDataDir, runCli, show, uploadedHash } from '../helpers/cli.js'

const HEADER = 40

/** Records of a pack file: [magic "OHC1"][sha256 32][length u32 BE][bytes]. */
function records (pack: Buffer): Array<{ offset: number, hash: string, length: number }> {
  const out = []
  let off = 0
  while (off + HEADER <= pack.length) {
    expect(pack.subarray(off, off + 4).toString('latin1')).toBe('OHC1')
    const hash = pack.subarray(off + 4, off + 36).toString('hex')
    const length = pack.readUInt32BE(off + 36)
    out.push({ offset: off, hash, length })
    off += HEADER + length
  }
  expect(off).toBe(pack.length)
  return out
}

describe('openhash verify', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  const bytes = randomBytes(6 * CHUNK)
  let fileHash: string
  let otherHash: string
  const other = Buffer.from('an innocent bystander\n')

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
    await writeFile(join(work.path, 'victim.bin'), bytes)
    await writeFile(join(work.path, 'other.txt'), other)
    fileHash = uploadedHash(expectOk(await runCli(['add', join(work.path, 'victim.bin')], { dataDir: data.path })))
    otherHash = uploadedHash(expectOk(await runCli(['add', join(work.path, 'other.txt')], { dataDir: data.path })))
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  it('exits 0 on a healthy store', async () => {
    const r = expectOk(await runCli(['verify'], { dataDir: data.path }))
    expect(r.stdout).toContain('✅ Store verified')
    expect(r.stdout).toContain('   Chunks checked: 7')
    expect(r.stdout).toContain('   Objects checked: 2')
    const j = await cliJson(['verify'], { dataDir: data.path })
    expect(j).toMatchObject({ ok: true, chunks_checked: 7, objects_checked: 2, bytes_checked: bytes.length + other.length, problems: [] })
  })

  it('a flipped byte in a pack record makes verify exit 1 and name the chunk', async () => {
    const packDir = join(data.path, 'packs')
    const packs = (await readdir(packDir)).filter(n => /^\d{8}\.pack$/.test(n))
    expect(packs.length).toBeGreaterThan(0)
    // a chunk in the middle of the victim file (index 3 of 6)
    const middle = bytes.subarray(3 * CHUNK, 4 * CHUNK)
    const middleHash = createHash('sha256').update(middle).digest('hex')
    let found: { pack: string, offset: number } | undefined
    for (const p of packs) {
      const recs = records(await readFile(join(packDir, p)))
      const rec = recs.find(r => r.hash === middleHash)
      if (rec !== undefined) {
        expect(rec.length).toBe(CHUNK)
        found = { pack: p, offset: rec.offset }
      }
    }
    expect(found, 'the chunk is stored in some pack').toBeDefined()
    const fh = await open(join(packDir, found!.pack), 'r+')
    try {
      const pos = found!.offset + HEADER + 1000
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, pos)
      b[0] ^= 0x5a
      await fh.write(b, 0, 1, pos)
      await fh.sync()
    } finally {
      await fh.close()
    }

    const r = await runCli(['verify'], { dataDir: data.path })
    expect(r.code, show(r)).toBe(1)
    expect(r.stdout).toMatch(/❌ Store has \d+ problems?:/)
    expect(r.stdout).toContain(middleHash)
    expect(r.stdout).toMatch(new RegExp(`\\[chunk\\] ${middleHash}: `))
    expectCleanError(r, /verify found \d+ problem/)

    const j = await runCli(['--json', 'verify'], { dataDir: data.path })
    expect(j.code, show(j)).toBe(1)
    const res = JSON.parse(j.stdout)
    expect(res.ok).toBe(false)
    expect(res.problems.some((p: any) => p.kind === 'chunk' && p.hash === middleHash)).toBe(true)
    // the damaged file is named too, the bystander is not
    expect(res.problems.some((p: any) => p.hash === fileHash)).toBe(true)
    expect(res.problems.some((p: any) => p.hash === otherHash)).toBe(false)
  })

  it('reading the damaged file fails cleanly and leaves no output behind', async () => {
    // read-ahead makes failures timing-dependent: try each form a few times
    for (let i = 0; i < 3; i++) {
      const out = join(work.path, `victim-${i}.out`)
      const r = await runCli(['get', fileHash, '-o', out], { dataDir: data.path })
      expectCleanError(r, /corrupt|damaged|does not match|mismatch/i)
      expect(existsSync(out)).toBe(false)
      expect((await readdir(work.path)).filter(n => n.includes('partial')), show(r)).toEqual([])
    }
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['get', fileHash, '-o', '-'], { dataDir: data.path })
      expectCleanError(r, /corrupt|damaged|does not match|mismatch/i)
      expect(r.stdoutBuf.length).toBeLessThan(bytes.length)
    }
    // the undamaged content is still served
    const ok = expectOk(await runCli(['get', otherHash, '-o', '-'], { dataDir: data.path }))
    expect(ok.stdoutBuf.equals(other)).toBe(true)
  })
})
