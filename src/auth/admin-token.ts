/**
 * The admin token a data directory starts with: created on the daemon's
 * first start (when the store has no token at all), shown once, and kept in
 * `<data-dir>/admin.token` with mode 0600 so that the local CLI (the same
 * user) can reach a daemon that requires tokens.
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TokenStore } from './tokens.js'

export const ADMIN_TOKEN_FILE = 'admin.token'

export async function ensureAdminToken (tokens: TokenStore, dataDir: string): Promise<{ token: string, file: string } | undefined> {
  if (await tokens.count() > 0) return undefined
  const issued = await tokens.create({ name: 'admin', scopes: ['admin'] })
  const file = join(dataDir, ADMIN_TOKEN_FILE)
  const tmp = `${file}.tmp`
  await writeFile(tmp, issued.token + '\n', { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, file)
  return { token: issued.token, file }
}

/** The admin token saved in a data directory, if any (and readable). */
export async function readAdminToken (dataDir: string): Promise<string | undefined> {
  try {
    const t = (await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim()
    return t === '' ? undefined : t
  } catch {
    return undefined
  }
}
