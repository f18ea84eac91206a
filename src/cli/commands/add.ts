import type { Command } from 'commander'
import { withNode } from '../context.js'
import { sizeLine } from '../format.js'
import { progressBar } from '../progress.js'

export function register (program: Command): void {
  program.command('add')
    .description('add a file or a directory tree; prints its hash')
    .argument('<path>', 'file or directory to add')
    .action(async (path: string, _opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const bar = progressBar('adding')
        let res
        try {
          res = await node.addPath(path, { onProgress: bar.onProgress })
        } finally {
          bar.done()
        }
        const kind = res.is_directory ? 'Directory' : 'File'
        print.result({ ...res, message: `${kind} uploaded successfully` })
        print.line(`✅ ${kind} uploaded: ${res.hash}`)
        print.line(`   Size: ${sizeLine(res.size)}`)
        print.line(`   Name: ${res.filename}`)
        if (res.is_directory) print.line(`   Files: ${res.files ?? 0}, Directories: ${res.directories ?? 0}`)
      })
    })
}
