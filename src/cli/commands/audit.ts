import type { Command } from 'commander'
import { withNode } from '../context.js'

export function register (program: Command): void {
  program.command('audit')
    .description('the audit log of the daemon\'s API: every request that changed something, newest first')
    .option('-l, --limit <n>', 'entries to show (1-10000)', '50')
    .option('--before <id>', 'page: entries older than this entry id')
    .option('--token-id <id>', 'only requests made with this token')
    .option('--action <prefix>', 'only actions starting with this, e.g. upload, pin, token')
    .action(async (opts: { limit: string, before?: string, tokenId?: string, action?: string }, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        if (!/^\d{1,5}$/.test(opts.limit)) throw new Error(`invalid --limit "${opts.limit}": expected 1-10000`)
        const entries = await node.audit({ limit: Number(opts.limit), before: opts.before, token_id: opts.tokenId, action: opts.action })
        print.result(entries)
        print.line(`📜 Audit log (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, newest first):`)
        for (const e of entries) {
          const who = e.actor.token_id !== undefined ? `${e.actor.token_name ?? ''} (${e.actor.token_id})` : 'anonymous'
          print.line(`   ${e.time}  ${String(e.status).padEnd(3)} ${e.outcome.padEnd(12)} ${e.action.padEnd(16)} ${who} from ${e.actor.ip}${e.target !== undefined ? `  ${e.target}` : ''}`)
        }
        if (entries.length > 0) print.line(`   (next page: --before ${entries[entries.length - 1].id})`)
      })
    })
}
