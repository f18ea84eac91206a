/**
 * A private cluster by a pre-shared swarm key (network.swarm_key_file):
 * nodes with the same key connect and exchange content; a node without the
 * key, or with another one, cannot connect, and its fetch fails cleanly.
 * Real libp2p nodes on loopback; the keys are made by `openhash swarm-key`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseSwarmKey } from '../../src/net/swarm-key.js'
import type { TestNode } from '../helpers/net.js'
import { connect, isConnected, startNode, TEST_CHUNK } from '../helpers/net.js'
import { runCli } from '../helpers/cli.js'
import { collect, once, prng, tempDir } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('openhash swarm-key', () => {
  let tmp: { path: string, cleanup: () => Promise<void> }
  beforeAll(async () => { tmp = await tempDir('openhash-swarmkey-cli-') })
  afterAll(async () => { await tmp?.cleanup() })

  it('prints a new key in the /key/swarm/psk/1.0.0/ format, a different one each time', async () => {
    const a = await runCli(['swarm-key'])
    const b = await runCli(['swarm-key'])
    expect(a.code).toBe(0)
    expect(a.stdout).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect(a.stdout).not.toBe(b.stdout)
    expect(() => parseSwarmKey(a.stdout, 'stdout')).not.toThrow()
  })

  it('-o writes it with mode 0600 and never over an existing file', async () => {
    const file = join(tmp.path, 'swarm.key')
    const r = await runCli(['swarm-key', '-o', file])
    expect(r.code).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const before = await readFile(file, 'utf8')
    const again = await runCli(['swarm-key', '-o', file])
    expect(again.code).not.toBe(0)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toMatch(/exists already/)
    expect(await readFile(file, 'utf8')).toBe(before)
  })
})

describe('a private cluster', () => {
  let tmp: { path: string, cleanup: () => Promise<void> }
  const nodes: TestNode[] = []
  let A: TestNode, B: TestNode, C: TestNode, D: TestNode
  let hash = ''
  let bytes: Buffer

  async function keyed (name: string, key: string | undefined): Promise<TestNode> {
    const dir = join(tmp.path, name)
    await mkdir(dir)
    if (key !== undefined) await writeFile(join(dir, 'swarm.key'), key)
    const n = await startNode({ dir, network: { search_timeout_ms: 1500, ...(key !== undefined ? { swarm_key_file: 'swarm.key' } : {}) } })
    nodes.push(n)
    return n
  }

  beforeAll(async () => {
    tmp = await tempDir('openhash-swarm-')
    const k1 = (await runCli(['swarm-key'])).stdout
    const k2 = (await runCli(['swarm-key'])).stdout
    A = await keyed('a', k1)
    B = await keyed('b', k1)
    C = await keyed('c', undefined)
    D = await keyed('d', k2)
    bytes = prng(51)(TEST_CHUNK * 5 + 3)
    hash = (await A.node.addStream(once(bytes), { filename: 'secret.bin' })).hash
  })

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await n.cleanup() }))
    await tmp?.cleanup()
  })

  it('nodes with the same key connect and exchange content', async () => {
    await connect(B, A)
    expect(isConnected(B, A)).toBe(true)
    const got = await collect(B.node.read(hash))
    expect(sha(got)).toBe(hash)
    expect(Buffer.compare(got, bytes)).toBe(0)
  })

  for (const [name, pick] of [['without the key', () => C], ['with another key', () => D]] as const) {
    it(`a node ${name} cannot connect (either way), and its fetch fails cleanly`, async () => {
      const n = pick()
      await expect(connect(n, A)).rejects.toThrow()
      await expect(connect(A, n)).rejects.toThrow()
      expect(isConnected(n, A)).toBe(false)
      expect(n.node.net!.libp2p.getPeers()).toEqual([])
      await expect(n.node.info(hash)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(await n.node.repo.getObject(hash)).toBeUndefined()
    })
  }

  it('a malformed key file is a clear config error at start', async () => {
    const bad = join(tmp.path, 'bad')
    await mkdir(bad)
    await writeFile(join(bad, 'swarm.key'), 'not a key\n')
    await expect(startNode({ dir: bad, network: { swarm_key_file: 'swarm.key' } })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/not a swarm key/) })
    const missing = join(tmp.path, 'missing')
    await mkdir(missing)
    await expect(startNode({ dir: missing, network: { swarm_key_file: 'missing.key' } })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/cannot read/) })
  })
})
