/**
 * Content identity: lowercase hex SHA-256, exactly what `sha256sum` prints.
 */
import { createHash, webcrypto } from 'node:crypto'
import { InvalidHashError } from '../errors.js'

const HASH_RE = /^[0-9a-fA-F]{64}$/

export function sha256hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * SHA-256 on the libuv thread pool (WebCrypto), so chunk hashing runs beside
 * the main thread's work (e.g. the whole-file hash) and on the second core.
 */
export async function sha256hexAsync (bytes: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', bytes)
  return Buffer.from(digest).toString('hex')
}

export function isHash (value: unknown): value is string {
  return typeof value === 'string' && HASH_RE.test(value)
}

/** Validate and normalise a user-supplied hash (case-insensitive, returned lowercase). */
export function parseHash (value: unknown): string {
  if (typeof value !== 'string' || !HASH_RE.test(value)) {
    const shown = typeof value === 'string' ? value.slice(0, 80) : String(value)
    throw new InvalidHashError(`invalid hash: "${shown}" (expected 64 hexadecimal characters)`, { hash: shown })
  }
  return value.toLowerCase()
}
