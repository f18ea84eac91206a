/**
 * A client that asks for chunks on many streams and never reads the answers
 * cannot make a server hold more than MAX_SERVING_BLOCKS chunks for it; once
 * it goes away every permit comes back and honest clients are served.
 * (libp2p itself resets such streams soon, so the peak seen here is modest;
 * the bound is for clients that stall below the muxer.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { EXCHANGE_PROTOCOL, MAX_SERVING_BLOCKS, REQ_BLOCK, servingBlocks } from '../../src/net/exchange.js'
import { encodeFrame } from '../../src/net/wire.js'
import type { TestNode } from '../helpers/net.js'
import { connect, startNode, until } from '../helpers/net.js'
import { collect, once, prng } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const started: TestNode[] = []
afterEach(async () => { await Promise.all(started.splice(0).map(async n => { await n.cleanup() })) })

describe('serving chunks to a client that never reads', () => {
  it(`holds at most ${MAX_SERVING_BLOCKS} chunks; the permits come back when it leaves; others are served`, async () => {
    const CS = 1024 * 1024
    const server = await startNode({ storage: { chunk_size: CS } })
    const stall = await startNode()
    const honest = await startNode()
    started.push(server, stall, honest)
    const bytes = prng(61)(CS * 12)
    const hash = (await server.node.addStream(once(bytes), { filename: 'big.bin' })).hash
    const chunks: string[] = []
    for await (const h of server.node.repo.manifestChunks((await server.node.repo.getObject(hash))!)) chunks.push(h)
    await connect(stall, server)
    // 24 streams, each asking for every chunk several times over, reading nothing
    const streams = []
    for (let s = 0; s < 24; s++) {
      const stream = await stall.node.net!.libp2p.dialProtocol(server.node.net!.libp2p.peerId, EXCHANGE_PROTOCOL)
      // read nothing: the muxer stops granting the server window, as a client that never reads its socket would
      stream.maxReadBufferLength = 64 * 1024 * 1024
      stream.pause()
      for (let k = 0; k < 4; k++) for (const c of chunks) for (const part of encodeFrame(REQ_BLOCK, Buffer.from(c, 'hex'))) stream.send(part)
      streams.push(stream)
    }
    let peak = 0
    const sampler = setInterval(() => { peak = Math.max(peak, servingBlocks()) }, 5)
    await new Promise(resolve => setTimeout(resolve, 1500))
    clearInterval(sampler)
    console.log(`peak BLOCK answers held while the client stalled: ${peak}`)
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(MAX_SERVING_BLOCKS)
    // the staller goes away: everything it held is given back
    for (const st of streams) st.abort(new Error('gone'))
    await stall.node.close()
    await until('permits back', () => servingBlocks() === 0, 10_000)
    await connect(honest, server)
    expect(sha(await collect(honest.node.read(hash)))).toBe(hash)
    expect(servingBlocks()).toBe(0)
  })
})
