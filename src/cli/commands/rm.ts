import type { Command } from 'commander'
import { withNode } from '../context.js'

export function register (program: Command): void {
  program.command('rm')
    .description('release a local add; gc reclaims the space once nothing else holds it')
    .argument('<hash>', 'content hash')
    .action(async (hash: string, _opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const res = await node.rm(hash)
        print.result({ ...res, message: 'Local add released' })
        print.line(`🗑️  Released: ${res.hash}`)
        print.line(`   References left: ${res.ref_count}${res.pinned ? ' (still pinned)' : ''}`)
        if (res.ref_count === 0 && !res.pinned) print.line('   Run `openhash gc` to reclaim its space.')
      })
    })
}
