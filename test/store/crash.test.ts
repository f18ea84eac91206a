/**
 * Crash safety: a child process adds, releases and garbage-collects until it
 * is killed with SIGKILL at a random moment; many times over one data dir.
 * After each kill the store opens, verify finds no problem, and every add the
 * child acknowledged (and did not start to release) reads back intact. gc
 * then reclaims the leftovers.
 *
 * The full-disk variant does the same on a small tmpfs (mounted as root,
 * skipped with a printed reason otherwise) that the writer keeps filling:
 * adds fail with the disk-full error, releases and gc free space again, and
 * kills land during failing writes. OPENHASH_CRASH_FULL_ROUNDS sets its
 * number of kills (default 8) for long runs by hand.
 */
import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { openStore } from '../../src/store/open.js'
import { createHash } from 'node:crypto'
import { prng, tempDir } from '../helpers/tmp.js'
import { fillDisk, mountTmpfs } from '../helpers/tmpfs.js'
import { join } from 'node:path'

const WRITER = fileURLToPath(new URL('../fixtures/crash-writer.mjs', import.meta.url))

function runAndKill (dataDir: string, backend: string, seed: number, killAfterMs: number, reserve?: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const args = [WRITER, dataDir, backend, String(seed), ...(reserve === undefined ? [] : [String(reserve)])]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}): ${err}`))
      else resolve(out.split('\n').filter(Boolean))
    })
  })
}

for (const [backend, kills] of [['pack', 20], ['leveldb', 10]] as const) {
  describe(`crash safety (${backend})`, () => {
    it(`survives ${kills} SIGKILLs at random moments`, async () => {
      const dir = await tempDir()
      const r = prng(backend === 'pack' ? 101 : 202)
      const acked = new Set<string>()
      const uncertain = new Set<string>()
      let totalAdds = 0
      try {
        for (let i = 0; i < kills; i++) {
          const killAfter = 250 + (r(2).readUInt16LE(0) % 1500)
          const lines = await runAndKill(dir.path, backend, 1000 + i, killAfter)
          for (const line of lines) {
            const [what, h] = line.split(' ')
            if (what === 'ADDED') { acked.add(h); uncertain.delete(h); totalAdds++ }
            if (what === 'RMSTART') { acked.delete(h); uncertain.add(h) }
            if (what === 'RM') uncertain.delete(h)
          }
          const store = await openStore(dir.path, { backend, chunk_size: 4096, pack_max_bytes: 8 * 1024 * 1024, compact_threshold: 0.5, verify_on_read: true })
          try {
            const v = await store.repo.verify()
            expect(v.problems, `after kill ${i + 1}`).toEqual([])
            for (const h of acked) {
              const hasher = createHash('sha256')
              for await (const piece of store.repo.read(h)) hasher.update(piece)
              expect(hasher.digest('hex'), `acknowledged add ${h} after kill ${i + 1}`).toBe(h)
            }
            if (i % 4 === 3) {
              await store.repo.gc()
              const after = await store.repo.verify()
              expect(after.problems).toEqual([])
              // no manifest is left in a non-live state once gc ran
              let leftovers = 0
              for await (const [, v] of store.repo.kv.iterate({ prefix: 'ms/' })) if (!Buffer.from(v).toString().includes('"live"')) leftovers++
              expect(leftovers).toBe(0)
            }
          } finally {
            await store.close()
          }
        }
        // the child did real work between kills
        expect(totalAdds).toBeGreaterThan(kills)
        expect(acked.size).toBeGreaterThan(0)
      } finally {
        await dir.cleanup()
      }
    }, 300_000)
  })
}

const FULL_ROUNDS = Number(process.env.OPENHASH_CRASH_FULL_ROUNDS ?? 8)
const RESERVE = 16 * 1024 * 1024

describe('crash safety on a full disk (pack, tmpfs)', () => {
  it(`survives ${FULL_ROUNDS} SIGKILLs while the disk fills and empties: no acknowledged add lost or corrupt`, async (ctx) => {
    const fs = await mountTmpfs(48)
    if ('skip' in fs) { console.log(fs.skip); ctx.skip(); return }
    const dataDir = join(fs.path, 'data')
    const r = prng(303)
    const acked = new Set<string>()
    let totalAdds = 0
    let refused = 0
    try {
      // the disk is nearly full from the start: the writer meets it within a round or two
      await fillDisk(join(fs.path, 'filler'), 24 * 1024 * 1024)
      for (let i = 0; i < FULL_ROUNDS; i++) {
        const killAfter = 250 + (r(2).readUInt16LE(0) % 1500)
        const lines = await runAndKill(dataDir, 'pack', 5000 + i, killAfter, RESERVE)
        for (const line of lines) {
          const [what, h] = line.split(' ')
          if (what === 'ADDED') { acked.add(h); totalAdds++ }
          if (what === 'RMSTART') acked.delete(h)
          if (what === 'FULL') refused++
        }
        const store = await openStore(dataDir, { backend: 'pack', chunk_size: 4096, pack_max_bytes: 8 * 1024 * 1024, compact_threshold: 0.5, verify_on_read: true, disk_reserve_bytes: RESERVE })
        try {
          const v = await store.repo.verify()
          expect(v.problems, `after kill ${i + 1}`).toEqual([])
          for (const h of acked) {
            const hasher = createHash('sha256')
            for await (const piece of store.repo.read(h)) hasher.update(piece)
            expect(hasher.digest('hex'), `acknowledged add ${h} after kill ${i + 1}`).toBe(h)
          }
        } finally {
          await store.close()
        }
      }
      console.log(`crash on a full disk: ${FULL_ROUNDS} kills, ${totalAdds} adds acknowledged, ${refused} operations refused (disk full), ${acked.size} acknowledged adds checked at the end, 0 lost or corrupt`)
      expect(totalAdds).toBeGreaterThan(0)
      expect(refused, 'the disk filled up').toBeGreaterThan(0)
    } finally {
      await fs.unmount()
    }
  }, 300_000)
})
