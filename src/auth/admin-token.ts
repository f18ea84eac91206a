/**
 * The admin token of the local CLI, kept in `<data-dir>/admin.token` with
 * mode 0600 so that the CLI (the same user) can reach the daemon's token and
 * audit routes, which need an admin token in every auth mode.
 *
 * The daemon ensures at every start that the file holds an active admin
 * token of this store: on the store's first start (no token at all) it
 * issues one, shown once in the banner; when the file is missing, or its
 * token is unknown, revoked, expired or not admin, it issues a new one
 * ("local CLI admin") and saves it without printing its secret.
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TokenStore } from './tokens.js'
import { grants } from './tokens.js'

export const ADMIN_TOKEN_FILE = 'admin.token'

export interface EnsuredAdminToken {
  token: string
  file: string
  /** The store had no token at all: this is its first admin token (printed once). */
  first: boolean
}

/** Make `<dataDir>/admin.token` hold an active admin token; what was issued, or undefined when the file was fine. */
export async function ensureAdminToken (tokens: TokenStore, dataDir: string): Promise<EnsuredAdminToken | undefined> {
  const first = await tokens.count() === 0
  if (!first) {
    const saved = await readAdminToken(dataDir)
    const info = saved === undefined ? undefined : await tokens.verify(saved)
    if (info !== undefined && grants(info.scopes, 'admin')) return undefined
  }
  const issued = await tokens.create({ name: first ? 'admin' : 'local CLI admin', scopes: ['admin'] })
  const file = join(dataDir, ADMIN_TOKEN_FILE)
  const tmp = `${file}.tmp`
  await writeFile(tmp, issued.token + '\n', { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, file)
  return { token: issued.token, file, first }
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
