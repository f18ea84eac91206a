/**
 * The `openhash` command line. Each command lives in commands/<name>.ts and
 * talks only to the OpenHashNode interface.
 */
import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../config.js'
import { status } from './context.js'
import { register as add } from './commands/add.js'
import { register as get } from './commands/get.js'
import { register as view } from './commands/view.js'
import { register as list } from './commands/list.js'
import { register as pin } from './commands/pin.js'
import { register as rm } from './commands/rm.js'
import { register as gc } from './commands/gc.js'
import { register as stats } from './commands/stats.js'
import { register as verify } from './commands/verify.js'
import { register as daemon } from './commands/daemon.js'
import { register as network } from './commands/network.js'
import { register as token } from './commands/token.js'
import { register as audit } from './commands/audit.js'
import { register as swarmKey } from './commands/swarm-key.js'

export function buildProgram (): Command {
  const version = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string
  const program = new Command()
    .name('openhash')
    .description('OpenHashDB: content-addressable storage; content is named by its SHA-256')
    .version(version)
    .option('-d, --data-dir <path>', 'data directory (default: $OPENHASH_DATA_DIR or ~/.openhash)')
    .option('--api <url>', 'talk to the daemon at this URL (default: $OPENHASH_API, else the daemon holding the data directory, else in-process)')
    .option('--token <token>', 'API token for the daemon (default: $OPENHASH_TOKEN; for the daemon of the data directory, its admin.token)')
    .option('--json', 'machine-readable JSON output')
    .option('-c, --config <section.key=value>', 'override a configuration value (repeatable), e.g. -c storage.backend=leveldb',
      (value: string, prev: string[] = []) => [...prev, value])
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error:/, 'Error:').replace(/\n(?=.)/g, ' ')) })
  for (const reg of [daemon, add, get, view, list, pin, rm, gc, stats, verify, network, token, audit, swarmKey]) reg(program)
  const override = (cmd: Command): void => { cmd.exitOverride(); for (const sub of cmd.commands) override(sub) }
  for (const cmd of program.commands) override(cmd)
  return program
}

export async function main (argv: string[]): Promise<number> {
  status.code = 0
  // a closed pipe (`openhash list | head`) ends output quietly
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(status.code) })
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : (err.exitCode || 1)
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
  return status.code
}
