import type { Command } from 'commander'
import { writeFileSync } from 'node:fs'
import { newSwarmKey } from '../../net/swarm-key.js'

export function register (program: Command): void {
  program.command('swarm-key')
    .description('make a new pre-shared swarm key for a private cluster (give every node the same file, network.swarm_key_file)')
    .option('-o, --out <file>', 'write it to this file (mode 0600, never over an existing file) instead of stdout')
    .action((opts: { out?: string }) => {
      const key = newSwarmKey()
      if (opts.out === undefined) { process.stdout.write(key); return }
      try {
        writeFileSync(opts.out, key, { mode: 0o600, flag: 'wx' })
      } catch (err: any) {
        throw new Error(err?.code === 'EEXIST' ? `${opts.out} exists already: not overwritten` : `cannot write ${opts.out}: ${String(err?.message ?? err)}`)
      }
      process.stderr.write(`swarm key written to ${opts.out}\n`)
    })
}
