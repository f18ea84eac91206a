/**
 * Docs that must stay true to the code: every error code is in the
 * architecture and API tables, with the status api/errors.ts gives it.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { errorFromCode } from '../src/errors.js'
import { toErrorResponse } from '../src/api/errors.js'

const read = (p: string): string => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8')
const CODES = [...read('src/errors.ts').matchAll(/^ {2}\| '([A-Z_]+)'$/gm)].map(m => m[1])

describe('docs', () => {
  it('finds the error codes in src/errors.ts', () => {
    expect(CODES.length).toBeGreaterThanOrEqual(30)
    expect(CODES).toContain('INSUFFICIENT_STORAGE')
  })

  it('architecture.md lists every error code with the HTTP status the API gives it', () => {
    const doc = read('docs/architecture.md')
    for (const code of CODES) {
      const row = doc.split('\n').find(l => l.startsWith('| `') && l.includes(`\`${code}\``))
      expect(row, `${code} missing from the errors table of docs/architecture.md`).toBeDefined()
      if (code === 'API_UNREACHABLE' || code === 'BAD_RESPONSE') continue // client side only
      const status = toErrorResponse(errorFromCode(code, 'x')).status
      expect(row, `${code}: docs/architecture.md should say ${status}`).toContain(`| ${status} |`)
    }
  })

  it('api.md lists every error code the API can answer', () => {
    const doc = read('docs/api.md')
    for (const code of CODES) {
      if (['API_UNREACHABLE', 'BAD_RESPONSE', 'SOURCE_NOT_FOUND', 'SOURCE_UNREADABLE', 'SYMLINK_LOOP', 'UNSUPPORTED_FILE_TYPE', 'CONFIG_INVALID', 'STORE_INCOMPATIBLE', 'STORE_LOCKED'].includes(code)) continue
      expect(doc, `${code} missing from docs/api.md`).toContain(`\`${code}\``)
    }
  })
})
