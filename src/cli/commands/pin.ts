import type { Command } from 'commander'
import { withNode } from '../context.js'
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY, parsePriority } from '../../interface.js'

export function register (program: Command): void {
  program.command('pin')
    .description(`pin content so gc never collects it (priority ${MIN_PRIORITY}-${MAX_PRIORITY}, default ${DEFAULT_PRIORITY}; pinning again updates it)`)
    .argument('<hash>', 'content hash')
    .option('-p, --priority <n>', 'pin priority, higher first', String(DEFAULT_PRIORITY))
    .action(async (hash: string, opts: { priority: string }, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const res = await node.pin(hash, parsePriority(opts.priority))
        const fetching = res.state === 'fetching'
        print.result({ ...res, message: fetching ? 'Pin recorded; fetching the content from peers' : 'Content pinned successfully' })
        print.line(fetching ? `📌 Pin recorded, fetching from peers: ${res.hash}` : `📌 Pinned: ${res.hash}`)
        print.line(`   Priority: ${res.priority}`)
      })
    })

  program.command('unpin')
    .description('remove a pin')
    .argument('<hash>', 'content hash')
    .action(async (hash: string, _opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const res = await node.unpin(hash)
        print.result({ ...res, message: 'Content unpinned successfully' })
        print.line(res.was_pinned ? `✅ Unpinned: ${res.hash}` : `ℹ️  Not pinned: ${res.hash}`)
      })
    })

  program.command('pins')
    .description('list pins: priority, state, and with a daemon (--api) replication state and known copies')
    .option('--status', 'with --json: each pin\'s full state (as GET /pins/status) instead of hash -> priority')
    .action(async (opts: { status?: boolean }, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const status = await node.pinStatus()
        if (opts.status === true) print.result(status)
        else print.result(Object.fromEntries(Object.entries(status).map(([h, s]) => [h, s.priority])))
        const entries = Object.entries(status).sort((a, b) => b[1].priority - a[1].priority || (a[0] < b[0] ? -1 : 1))
        print.line(`📌 Pinned Content (${entries.length} item${entries.length === 1 ? '' : 's'}):`)
        for (const [h, s] of entries) {
          const r = s.replication
          const repl = r === undefined
            ? 'local copy only (replication runs in the daemon)'
            : `${r.state}, ${r.copies}/${r.target} copies known${r.error !== undefined && r.state !== 'replicated' ? ` (${r.error})` : ''}`
          print.line(`   ${h}  priority ${s.priority}  ${s.state}${s.error !== undefined ? ` (${s.error})` : ''}  ${repl}`)
        }
      })
    })
}
