import type { Command } from 'commander'
import { withNode } from '../context.js'
import type { Printer } from '../context.js'
import type { TokenInfo } from '../../interface.js'
import { InvalidArgumentError } from '../../errors.js'

/** "30d", "12h", "45m", "90s" or plain seconds. */
function duration (raw: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(raw.trim())
  if (m === null) throw new InvalidArgumentError(`invalid duration "${raw}": use e.g. 90s, 45m, 12h or 30d`)
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]]
}

function show (print: Printer, t: TokenInfo): void {
  print.line(`   ID: ${t.id}`)
  print.line(`   Name: ${t.name}${t.email !== undefined ? ` <${t.email}>` : ''}`)
  print.line(`   Scopes: ${t.scopes.join(', ')}`)
  print.line(`   Status: ${t.status}`)
  print.line(`   Created: ${t.created_at}${t.renewed_at !== undefined ? `, renewed ${t.renewed_at}` : ''}`)
  if (t.expires_at !== undefined) print.line(`   Expires: ${t.expires_at}`)
  print.line(`   Used: ${t.usage_count} time${t.usage_count === 1 ? '' : 's'}${t.last_used_at !== undefined ? `, last ${t.last_used_at}` : ''}`)
}

export function register (program: Command): void {
  const token = program.command('token')
    .description('API tokens: create, list, show, revoke, reactivate, renew (through a daemon: needs an admin token when auth is on)')

  token.command('create')
    .description('create a token; it is printed once (only its hash is stored)')
    .option('-n, --name <name>', 'a name for the token (or give --email)')
    .option('-e, --email <email>', 'the owner\'s email')
    .option('-s, --scope <scopes>', 'comma-separated scopes: read, write, admin (admin includes write, write includes read)', 'read')
    .option('--expires <duration>', 'lifetime, e.g. 30d, 12h, 45m (default: no expiry)')
    .action(async (opts: { name?: string, email?: string, scope: string, expires?: string }, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const issued = await node.createToken({ name: opts.name, email: opts.email, scopes: opts.scope, expires_in_s: opts.expires === undefined ? undefined : duration(opts.expires) })
        print.result({ ...issued.info, token: issued.token })
        print.line('🔑 Token created (shown once: store it now):')
        print.line(`   ${issued.token}`)
        show(print, issued.info)
      })
    })

  token.command('list')
    .description('every token, without secrets')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const list = await node.listTokens()
        print.result(list)
        print.line(`🔑 Tokens (${list.length}):`)
        for (const t of list) print.line(`   ${t.id}  ${t.status.padEnd(7)}  ${t.scopes.join(',').padEnd(16)}  ${t.name}${t.email !== undefined ? ` <${t.email}>` : ''}  used ${t.usage_count}×`)
      })
    })

  token.command('show')
    .description('one token\'s details and status (active, revoked, expired)')
    .argument('<id>', 'token id (16 hex characters)')
    .action(async (id: string, _opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const t = await node.getToken(id)
        print.result(t)
        print.line('🔑 Token:')
        show(print, t)
      })
    })

  for (const [name, verb, done] of [['revoke', 'revoke a token: it stops working at once', 'revoked'], ['reactivate', 'reactivate a revoked token', 'reactivated']] as const) {
    token.command(name)
      .description(verb)
      .argument('<id>', 'token id (16 hex characters)')
      .action(async (id: string, _opts, cmd: Command) => {
        await withNode(cmd, async ({ node, print }) => {
          const t = name === 'revoke' ? await node.revokeToken(id) : await node.reactivateToken(id)
          print.result(t)
          print.line(`✅ Token ${done}: ${t.id} (${t.status})`)
        })
      })
  }

  token.command('renew')
    .description('a new secret for a token (same id and scopes); the old secret stops working')
    .argument('<id>', 'token id (16 hex characters)')
    .option('--expires <duration>', 'new lifetime, e.g. 30d (default: the token\'s former lifetime, if it had one)')
    .action(async (id: string, opts: { expires?: string }, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const issued = await node.renewToken(id, { expires_in_s: opts.expires === undefined ? undefined : duration(opts.expires) })
        print.result({ ...issued.info, token: issued.token })
        print.line('🔑 Token renewed (shown once: store it now; the old one no longer works):')
        print.line(`   ${issued.token}`)
        show(print, issued.info)
      })
    })
}
