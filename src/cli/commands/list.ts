import type { Command } from 'commander'
import { withNode } from '../context.js'
import { listItem } from '../format.js'

export function register (program: Command): void {
  program.command('list')
    .description('list stored content (in hash order)')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const items = await node.list()
        print.result(items)
        print.line(`📋 Stored Content (${items.length} item${items.length === 1 ? '' : 's'}):`)
        for (const info of items) {
          print.line()
          print.line(listItem(info))
        }
      })
    })
}
