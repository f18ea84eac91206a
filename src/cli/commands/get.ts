import type { Command } from 'commander'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { exportTo } from '../../content/exporter.js'
import type { OpenHashNode } from '../../interface.js'
import type { CliContext } from '../context.js'
import { withNode } from '../context.js'
import { icon, isTextual, sizeLine } from '../format.js'
import { progressBar } from '../progress.js'

const PREVIEW_BYTES = 1024

async function preview (node: OpenHashNode, hash: string): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const piece of node.read(hash, { length: PREVIEW_BYTES })) parts.push(Buffer.from(piece))
  return Buffer.concat(parts)
}

export async function printEntries ({ node, print }: CliContext, hash: string): Promise<void> {
  const entries = await node.entries(hash)
  print.line(`   Entries (${entries.length}):`)
  for (const e of entries) print.line(`   ${icon(e.type === 'dir')} ${e.name}${e.type === 'dir' ? '/' : ''}  ${e.size} bytes  ${e.hash}`)
}

export function register (program: Command): void {
  program.command('get')
    .description('write content to a path (-o), or show its info and a preview')
    .argument('<hash>', 'content hash')
    .option('-o, --output <path>', 'write the file or directory tree here ("-" writes a file to stdout)')
    .option('-f, --force', 'replace the output path if it exists')
    .action(async (hash: string, opts: { output?: string, force?: boolean }, cmd: Command) => {
      await withNode(cmd, async (ctx) => {
        const { node, print } = ctx
        const info = await node.info(hash)
        if (opts.output === '-') {
          await pipeline(Readable.from(node.read(info.hash)), process.stdout)
          return
        }
        if (opts.output !== undefined) {
          const bar = progressBar('getting')
          let res
          try {
            res = await exportTo(node, info.hash, opts.output, { force: opts.force, onProgress: bar.onProgress })
          } finally {
            bar.done()
          }
          print.result({ hash: info.hash, ...res })
          print.line(`✅ Saved ${info.is_directory ? 'directory' : 'file'} to ${res.path}`)
          print.line(`   Size: ${sizeLine(res.bytes)}`)
          if (info.is_directory) print.line(`   Files: ${res.files}, Directories: ${res.directories}`)
          return
        }
        if (info.is_directory) {
          print.result({ ...info, entries: await node.entries(info.hash) })
          print.line(`📁 Directory: ${info.filename}`)
          print.line(`   Hash: ${info.hash}`)
          print.line(`   Size: ${sizeLine(info.size)}`)
          await printEntries(ctx, info.hash)
          return
        }
        const head = await preview(node, info.hash)
        const textual = isTextual(info.mime_type)
        print.result({ ...info, preview: textual ? head.toString('utf8') : null })
        print.line(`📄 File: ${info.filename}`)
        print.line(`   Hash: ${info.hash}`)
        print.line(`   Size: ${sizeLine(info.size)}`)
        print.line(`   MIME: ${info.mime_type}`)
        print.line('   Content:')
        if (!textual) {
          print.line('   [binary content; use -o <path> to save it]')
        } else {
          for (const l of head.toString('utf8').split('\n')) print.line(`   ${l}`)
          if (info.size > head.length) print.line(`   … (${info.size - head.length} more bytes; use -o <path> to save it)`)
        }
      })
    })
}
