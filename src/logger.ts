/**
 * Loggers for background work, the libp2p idiom: `logger('reprovide')` logs
 * under `openhash:reprovide` (and `.error` under `openhash:reprovide:error`,
 * `.trace` under `…:trace`), shown on stderr for the namespaces enabled with
 * `DEBUG` (e.g. `DEBUG=openhash:*`). The daemon enables every openhash error
 * namespace by default (config.ts `debugNamespaces`), so background errors
 * are never dropped unseen.
 */
import { enable, logger as libp2pLogger } from '@libp2p/logger'
import type { Logger } from '@libp2p/interface'

export type { Logger }

export function logger (component: string): Logger {
  return libp2pLogger(`openhash:${component}`)
}

/** Turn on the given `DEBUG`-style namespaces (replaces what was enabled). */
export function enableLogs (namespaces: string): void {
  enable(namespaces)
}
