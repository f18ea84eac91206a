import type { Command } from 'commander'
import { withNode } from '../context.js'
import { sizeLine } from '../format.js'

export function register (program: Command): void {
  program.command('gc')
    .description('delete content nothing references or pins, and reclaim disk space')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const res = await node.gc()
        print.result(res)
        print.line('🧹 Garbage collection complete')
        print.line(`   Objects removed: ${res.objects_removed}`)
        print.line(`   Chunks removed: ${res.chunks_removed}`)
        print.line(`   Bytes freed: ${sizeLine(res.bytes_freed)}`)
        print.line(`   Disk reclaimed: ${sizeLine(res.disk_bytes_reclaimed)}`)
        print.line(`   Took: ${res.duration_ms} ms`)
      })
    })
}
