/**
 * The add progress bar: drawn on a terminal only, with bytes and, for a
 * folder, files done / in all (in-process and, in API mode, through a daemon).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { progressLine } from '../../src/cli/progress.js'
import { freshDataDir, runCli, stopDaemonFor } from '../helpers/cli.js'

const FILES = 120

describe('add progress', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  const tree = (): string => join(work.path, 'tree')

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-progress-')
    for (let d = 0; d < 4; d++) {
      await mkdir(join(tree(), `d${d}`), { recursive: true })
      for (let i = 0; i < FILES / 4; i++) await writeFile(join(tree(), `d${d}`, `f${i}.txt`), `file ${d}/${i}\n`.repeat(50 + i))
    }
  })
  afterAll(async () => {
    await stopDaemonFor(data.path)
    await data.cleanup()
    await work.cleanup()
  })

  it('a folder add at a terminal shows files done out of all, then the result', async () => {
    const r = await runCli(['add', tree()], { dataDir: data.path, tty: true })
    expect(r.code, r.stdout).toBe(0)
    const shown = [...r.stdout.matchAll(/(\d+)\/120 files/g)].map(m => Number(m[1]))
    expect(shown.length).toBeGreaterThan(0)
    for (const n of shown) expect(n).toBeLessThanOrEqual(FILES)
    expect(r.stdout).toMatch(/adding \[[█░]{30}\]\s+\d+%/)
    expect(r.stdout).toContain('Directory uploaded: ')
    expect(r.stdout).toContain(`Files: ${FILES}, Directories: 5`)
  })

  it('without a terminal nothing but the result is printed', async () => {
    const r = await runCli(['add', tree()], { dataDir: data.path })
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).not.toContain('adding')
  })

  it('the line: bytes against the total, and files only for a folder', () => {
    expect(progressLine('adding', { type: 'add:file', bytes: 512 * 1024, total: 1024 * 1024, files: 1234, files_total: 10_000 }, 1))
      .toBe(`adding [${'█'.repeat(15)}${'░'.repeat(15)}]  50% 512.0 KiB / 1.0 MiB 1,234/10,000 files 512.0 KiB/s`)
    expect(progressLine('adding', { type: 'add:bytes', bytes: 2048, total: 4096, files: 0, files_total: 1 }, 2))
      .toBe(`adding [${'█'.repeat(15)}${'░'.repeat(15)}]  50% 2.0 KiB / 4.0 KiB 1.0 KiB/s`)
    expect(progressLine('fetching', { type: 'x', bytes: 3 }, 1)).toBe('fetching 3 B 3 B/s')
  })
})
