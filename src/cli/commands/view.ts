import type { Command } from 'commander'
import { withNode } from '../context.js'
import { icon, sizeLine } from '../format.js'
import { printEntries } from './get.js'

export function register (program: Command): void {
  program.command('view')
    .description('show all metadata of stored content')
    .argument('<hash>', 'content hash')
    .action(async (hash: string, _opts, cmd: Command) => {
      await withNode(cmd, async (ctx) => {
        const { node, print } = ctx
        const info = await node.info(hash)
        const pins = await node.pins()
        const priority = pins[info.hash]
        print.result({ ...info, pinned: priority !== undefined, priority: priority ?? null })
        print.line(`${icon(info.is_directory)} ${info.is_directory ? 'Directory' : 'File'}: ${info.filename}`)
        print.line(`   Hash: ${info.hash}`)
        print.line(`   Size: ${sizeLine(info.size)}`)
        print.line(`   MIME: ${info.mime_type}`)
        if (!info.is_directory) print.line(`   Chunks: ${info.chunk_count}`)
        print.line(`   Modified: ${info.mod_time}`)
        print.line(`   Created: ${info.created_at}`)
        print.line(`   References: ${info.ref_count}`)
        print.line(`   Pinned: ${priority === undefined ? 'no' : `yes (priority ${priority})`}`)
        if (info.is_directory) await printEntries(ctx, info.hash)
      })
    })
}
