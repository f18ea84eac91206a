/**
 * The anchor for folder adds: Helia's `@helia/unixfs` addAll over
 * `globSource(dir, '**\/*')` into an fs blockstore (blockstore-fs), no
 * libp2p at all (nothing reaches any network). Run as its own process, timed
 * whole, like `openhash add`. Prints `{ entries, root, ms }` on stdout.
 *
 * Usage: node dist/bench/helia-add.js <folder> <blockstore dir>
 */
import '../src/polyfill.js'
import { performance } from 'node:perf_hooks'

const [src, dest] = process.argv.slice(2)
const { unixfs, globSource } = await import('@helia/unixfs')
const { FsBlockstore } = await import('blockstore-fs')
const blockstore = new FsBlockstore(dest)
await blockstore.open()
const fs = unixfs({ blockstore })
const started = performance.now()
let root = ''
let entries = 0
for await (const e of fs.addAll(globSource(src, '**/*'), { wrapWithDirectory: true })) {
  root = e.cid.toString()
  entries++
}
const ms = performance.now() - started
await blockstore.close()
process.stdout.write(JSON.stringify({ entries, root, ms: Math.round(ms) }) + '\n')
