/**
 * Reprovide rounds never overlap (issue 14): with announcements slower than
 * the interval, a round starts only after the previous one ended; a round
 * asked for while one runs joins it; failures are logged, not dropped.
 */
import { describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../src/logger.js'
import { Reprovider } from '../../src/net/reprovider.js'
import { connect, dhtReady, startNode, until } from '../helpers/net.js'
import { prng, tempDir } from '../helpers/tmp.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Records which round each announcement belongs to (the k-th announcement of a hash is round k) and checks no round starts before the last ended. */
function roundTracker (): { start: (hash: string) => number, end: (round: number) => void, overlaps: string[], maxRound: () => number } {
  const seen = new Map<string, number>()
  const open = new Map<number, number>() // round -> announcements in flight
  const overlaps: string[] = []
  let max = 0
  return {
    start (hash) {
      const round = (seen.get(hash) ?? 0) + 1
      seen.set(hash, round)
      for (const [r, n] of open) if (r < round && n > 0) overlaps.push(`round ${round} began (${hash.slice(0, 8)}) while round ${r} still had ${n} announcement(s) in flight`)
      open.set(round, (open.get(round) ?? 0) + 1)
      max = Math.max(max, round)
      return round
    },
    end (round) { open.set(round, open.get(round)! - 1) },
    overlaps,
    maxRound: () => max
  }
}

function captureLog (): Logger & { errors: string[] } {
  const errors: string[] = []
  const log = Object.assign((_fmt: string, ..._args: unknown[]) => {}, {
    enabled: true,
    error: (fmt: string, ...args: unknown[]) => { errors.push([fmt, ...args.map(String)].join(' ')) },
    trace: () => {},
    newScope: () => log,
    errors
  })
  return log as unknown as Logger & { errors: string[] }
}

describe('reprovide rounds', () => {
  it('a daemon whose announcements are slower than the interval runs one round at a time', async () => {
    const n = await startNode({ network: { reprovide_interval_s: 1 } })
    const peer = await startNode()
    await connect(n, peer)
    await dhtReady([n, peer])
    const files = await tempDir()
    try {
      for (let i = 0; i < 6; i++) {
        const p = join(files.path, `f${i}.bin`)
        await writeFile(p, prng(40 + i)(1000 + i))
        await n.node.addPath(p)
      }
      await n.node.net!.settled()
      const dht = n.node.net!.libp2p.services.dht
      const original = dht.provide.bind(dht)
      const track = roundTracker()
      // each announcement takes 300 ms: a round of 6, one at a time, would take 1.8 s, longer than the 1 s interval
      dht.provide = (cid, opts) => {
        const round = track.start(cid.toString())
        return (async function * () {
          try {
            await sleep(300)
            yield * original(cid, opts)
          } finally { track.end(round) }
        })()
      }
      await until('three reprovide rounds', () => track.maxRound() >= 3, 20_000)
      expect(track.overlaps).toEqual([])
      // a round asked for while one runs joins it: both callers get the same count, nothing announced twice in between
      const [a, b] = await Promise.all([n.node.net!.reprovideAll(), n.node.net!.reprovideAll()])
      expect(a).toBe(6)
      expect(b).toBe(6)
      expect(track.overlaps).toEqual([])
    } finally {
      await n.cleanup()
      await peer.cleanup()
      await files.cleanup()
    }
  })

  it('bounds the announcements in flight, announces pins first, and logs failures instead of dropping them', async () => {
    const log = captureLog()
    let inFlight = 0
    let maxInFlight = 0
    const order: string[] = []
    const rp = new Reprovider({
      pinned: async () => ['p2', 'p1', 'gone'],
      has: async (h) => h !== 'gone',
      all: async function * () { for (const h of ['a', 'p1', 'b', 'c', 'd', 'p2', 'e']) yield h },
      announce: async (h) => {
        order.push(h)
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await sleep(20)
        inFlight--
        if (h === 'c') throw new Error('no peer took it')
      }
    }, { intervalMs: 60_000, concurrency: 2, log })
    const announced = await rp.round()
    expect(announced).toBe(7) // p2 p1 a b c d e, each once
    expect(order.slice(0, 2)).toEqual(['p2', 'p1'])
    expect(new Set(order).size).toBe(order.length)
    expect(maxInFlight).toBe(2)
    expect(log.errors.length).toBe(1)
    expect(log.errors[0]).toMatch(/c .*no peer took it/)
    rp.stop()
  })

  it('stop aborts the announcements of a running round', async () => {
    let aborted = 0
    const rp = new Reprovider({
      pinned: async () => [],
      has: async () => true,
      all: async function * () { yield * ['x', 'y', 'z'] },
      announce: async (_h, signal) => {
        await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { aborted++; resolve() }, { once: true }) })
      }
    }, { intervalMs: 60_000, concurrency: 2, log: captureLog() })
    const round = rp.round()
    await sleep(50)
    rp.stop()
    expect(await round).toBe(2) // the two in flight; the third never started
    expect(aborted).toBe(2)
  })
})
