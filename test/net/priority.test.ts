/**
 * Pin priorities order background work: the replicator's rounds and the
 * fetches of pins whose content is not here yet run highest priority first,
 * and changing a queued pin's priority reorders the queue. Real repo
 * (LevelDB + pack files in a temp dir); the network side is a recording
 * stand-in whose calls block until the test lets them go, so that work
 * queues up behind the first job.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { PinQueue } from '../../src/net/pin-queue.js'
import type { ReplicationNet } from '../../src/net/replicator.js'
import { Replicator } from '../../src/net/replicator.js'
import type { OpenedStore } from '../../src/store/open.js'
import { openStore } from '../../src/store/open.js'
import { once, prng, tempDir } from '../helpers/tmp.js'
import { until } from '../helpers/net.js'

interface Gate { wait: () => Promise<void>, open: () => void }
function gate (): Gate {
  let release!: () => void
  const p = new Promise<void>(resolve => { release = resolve })
  return { wait: async () => { await p }, open: () => { release() } }
}

describe('pin priorities order background work', () => {
  let store: OpenedStore | undefined
  let dir: { path: string, cleanup: () => Promise<void> } | undefined
  const stoppers: Array<() => void> = []

  afterEach(async () => {
    for (const s of stoppers.splice(0)) s()
    await store?.close()
    await dir?.cleanup()
  })

  async function repoWith (n: number): Promise<{ hashes: string[], store: OpenedStore }> {
    dir = await tempDir('openhash-prio-')
    const config = loadConfig({ dataDir: dir.path, env: {}, overrides: { storage: { chunk_size: 4096 } } })
    store = await openStore(dir.path, config.storage, 'priority-test')
    const hashes: string[] = []
    for (let i = 0; i < n; i++) {
      const rec = await store.repo.importFile(once(prng(100 + i)(1000 + i)), { filename: `f${i}` }, { added: true })
      hashes.push(rec.hash)
    }
    return { hashes, store }
  }

  it('replication rounds run highest priority first; re-pinning at a new priority reorders the queue', async () => {
    const { hashes, store } = await repoWith(5)
    // pinned before the replicator starts: all five are queued at once
    const prio = [1, 7, 3, 5, 2]
    for (let i = 0; i < 5; i++) await store.repo.pin(hashes[i], prio[i])
    const order: number[] = []
    const first = gate()
    let calls = 0
    const net: ReplicationNet = {
      selfId: 'self',
      async * providers () {},
      candidates: async () => {
        // the first round holds the only slot until the test opens the gate
        if (calls++ === 0) await first.wait()
        return ['12D3KooWpeer']
      },
      open: async () => { throw new Error('no peers') },
      onPeerGone: () => {}
    }
    const config = loadConfig({ dataDir: dir!.path, env: {}, overrides: { replication: { factor: 2, concurrency: 1, max_attempts: 1 } } })
    const r = new Replicator({
      repo: store.repo,
      kv: store.spaces.replicaRequests,
      net,
      config: config.replication,
      searchTimeoutMs: 1000,
      onRound: (hash) => { order.push(hashes.indexOf(hash)) }
    })
    stoppers.push(() => { r.stop() })
    await r.start()
    await until('the first round to start', () => order.length === 1)
    expect(order).toEqual([1]) // priority 7
    expect(r.counts()).toMatchObject({ in_progress: 1, pending: 4 })
    // while it runs, the priority-1 pin is pinned again at 9: it goes next
    await r.add(hashes[0], 9)
    first.open()
    await until('every round to run', () => order.length === 5)
    expect(order).toEqual([1, 0, 3, 2, 4]) // 7, then 9 (re-prioritised), 5, 3, 2
    // the one peer never answers, and one attempt is allowed: each ends failed, visibly
    await until('all failed', () => r.counts().failed === 5)
    expect(r.status()[hashes[0]]).toMatchObject({ state: 'failed', copies: 1, target: 2 })
    expect(r.status()[hashes[0]].error).toMatch(/1 of 2 copies: 12D3KooWpeer: no peers/)
    // pinning a failed one again restarts it
    await r.add(hashes[2], 3)
    await until('the re-pinned round', () => order.length === 6)
    expect(order[5]).toBe(2)
  })

  it('with nobody to ask, replication waits for a peer without using up attempts', async () => {
    const { hashes, store } = await repoWith(1)
    await store.repo.pin(hashes[0], 4)
    let peers: string[] = []
    let joined: ((peer: string) => void) | undefined
    const rounds: string[] = []
    const net: ReplicationNet = {
      selfId: 'self',
      async * providers () {},
      candidates: async () => peers,
      open: async () => { throw new Error('unreachable') },
      onPeerGone: () => {},
      onPeerJoined: (cb) => { joined = cb }
    }
    const config = loadConfig({ dataDir: dir!.path, env: {}, overrides: { replication: { factor: 2, max_attempts: 1, retry_max_ms: 600_000 } } })
    const r = new Replicator({ repo: store.repo, kv: store.spaces.replicaRequests, net, config: config.replication, searchTimeoutMs: 1000, onRound: (h) => { rounds.push(h) } })
    stoppers.push(() => { r.stop() })
    await r.start()
    await until('the first round', () => rounds.length === 1 && r.status()[hashes[0]].state === 'pending' && r.status()[hashes[0]].error !== undefined)
    expect(r.status()[hashes[0]]).toMatchObject({ state: 'pending', attempts: 0, copies: 1 })
    expect(r.status()[hashes[0]].error).toMatch(/no peer to ask yet/)
    // a peer arrives: the next round runs at once (not after retry_max_ms), and counts as an attempt
    peers = ['12D3KooWnew']
    joined!('12D3KooWnew')
    await until('the round after the peer joined', () => r.status()[hashes[0]].state === 'failed', 5000)
    expect(rounds).toHaveLength(2)
    expect(r.status()[hashes[0]].error).toMatch(/12D3KooWnew: unreachable/)
  })

  it('pins waiting for content are fetched highest priority first; a new priority reorders the queue', async () => {
    const { store } = await repoWith(0)
    const wanted = ['a', 'b', 'c', 'd'].map(c => c.repeat(64))
    const order: string[] = []
    const gates = new Map<string, Gate>()
    const q = new PinQueue({
      repo: store.repo,
      fetch: async (hash) => {
        order.push(hash)
        const g = gate()
        gates.set(hash, g)
        await g.wait()
        throw new Error('not available in this test')
      },
      concurrency: 1,
      retryMs: 60_000
    })
    stoppers.push(() => { q.stop() })
    q.add(wanted[0], 1) // takes the only slot at once
    q.add(wanted[1], 2)
    q.add(wanted[2], 8)
    q.add(wanted[3], 4)
    q.add(wanted[3], 10) // re-prioritised while queued
    await until('the first fetch', () => order.length === 1)
    for (let i = 1; i < 4; i++) {
      gates.get(order[i - 1])!.open()
      await until(`fetch ${i + 1}`, () => order.length === i + 1)
    }
    // a had the slot; then d (4, raised to 10), c (8), b (2)
    expect(order).toEqual([wanted[0], wanted[3], wanted[2], wanted[1]])
    expect(q.states()[wanted[0]]).toMatchObject({ state: 'failed', error: 'not available in this test' })
  })
})
