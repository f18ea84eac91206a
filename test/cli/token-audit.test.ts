/**
 * The CLI's token and audit commands on a data directory, in both modes:
 * in process, and (OPENHASH_TEST_CLI_MODE=api) with --api against the real
 * daemon of that directory, where the token and audit routes need an admin
 * token in every auth mode: the CLI sends `<data-dir>/admin.token` to the
 * daemon that holds its data directory, and to no other URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_MODE, cliJson, expectCleanError, freshDataDir, runCli } from '../helpers/cli.js'
import { startDaemon } from '../helpers/daemon.js'

describe('token and audit commands', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  const opts = (): { dataDir: string } => ({ dataDir: data.path })

  beforeAll(async () => { data = await freshDataDir() })
  afterAll(async () => { await data.cleanup() })

  it('create, list, show, revoke, reactivate, renew', async () => {
    const created = await cliJson(['token', 'create', '-n', 'cli-parity', '-s', 'write'], opts())
    expect(created).toMatchObject({ name: 'cli-parity', scopes: ['write'], status: 'active' })
    expect(created.token).toMatch(/^ohk_[0-9a-f]{16}_/)
    const list = await cliJson<any[]>(['token', 'list'], opts())
    expect(list.map(t => t.id)).toContain(created.id)
    expect((await cliJson(['token', 'show', created.id], opts())).name).toBe('cli-parity')
    expect((await cliJson(['token', 'revoke', created.id], opts())).status).toBe('revoked')
    expect((await cliJson(['token', 'reactivate', created.id], opts())).status).toBe('active')
    const renewed = await cliJson(['token', 'renew', created.id], opts())
    expect(renewed.id).toBe(created.id)
    expect(renewed.token).not.toBe(created.token)
    expectCleanError(await runCli(['token', 'show', '0123456789abcdef'], opts()), /no such token/)
  })

  it('audit lists entries (through a daemon: the token operations above)', async () => {
    const entries = await cliJson<any[]>(['audit', '--limit', '20'], opts())
    expect(Array.isArray(entries)).toBe(true)
    if (API_MODE) {
      expect(entries.map(e => e.action)).toEqual(expect.arrayContaining(['token.create', 'token.revoke', 'token.reactivate', 'token.renew']))
      // the CLI authenticated with the directory's admin token
      expect(entries.find(e => e.action === 'token.create').actor.token_id).toMatch(/^[0-9a-f]{16}$/)
    }
    expectCleanError(await runCli(['audit', '--limit', 'x'], opts()), /invalid --limit/)
  })

  it('the admin token of a data directory is not sent to another daemon\'s --api URL', async () => {
    const other = await freshDataDir('openhash-cli-other-')
    const d = await startDaemon(other.path, { args: ['--no-network'] })
    try {
      // our data directory (whose own daemon, in API mode, has another URL) with someone else's --api
      const r = await runCli(['--api', d.url, 'token', 'list'], { env: { OPENHASH_DATA_DIR: data.path } })
      expectCleanError(r, /admin token/)
    } finally {
      await d.stop()
      await other.cleanup()
    }
  })
})
