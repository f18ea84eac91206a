import type { Command } from 'commander'
import { withNode } from '../context.js'
import { sizeLine } from '../format.js'

export function register (program: Command): void {
  program.command('verify')
    .description('re-hash every chunk and object and recount references; exits 1 on any problem')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const res = await node.verify()
        print.result(res)
        if (res.ok) {
          print.line('✅ Store verified')
        } else {
          print.line(`❌ Store has ${res.problems.length} problem${res.problems.length === 1 ? '' : 's'}:`)
          for (const p of res.problems) print.line(`   [${p.kind}] ${p.hash}: ${p.message}`)
        }
        print.line(`   Chunks checked: ${res.chunks_checked}`)
        print.line(`   Objects checked: ${res.objects_checked}`)
        print.line(`   Bytes checked: ${sizeLine(res.bytes_checked)}`)
        if (!res.ok) print.error(`Error: verify found ${res.problems.length} problem${res.problems.length === 1 ? '' : 's'}`)
        return res.ok ? 0 : 1
      })
    })
}
