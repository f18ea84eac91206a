/**
 * The one place where error codes meet HTTP: code → status, the error JSON
 * of the API reference ({ error, code, message, details, timestamp }), plus
 * `error_code`, the stable code the typed client rebuilds errors from, and
 * the headers some statuses need (416 Content-Range, 405 Allow, 401
 * WWW-Authenticate).
 */
import type { ErrorCode } from '../errors.js'
import { isOpenHashError, MethodNotAllowedError, RangeNotSatisfiableError } from '../errors.js'
import { diskFullError, isDiskFull } from '../disk-full.js'
import { CORS_HEADERS } from './middleware/cors.js'
import { logger } from '../logger.js'

const log = logger('api')

export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_HASH: 400,
  INVALID_ARGUMENT: 400,
  INVALID_PRIORITY: 400,
  NOT_FOUND: 404,
  NOT_A_DIRECTORY: 404,
  IS_A_DIRECTORY: 400,
  NOT_ADDED: 409,
  SOURCE_NOT_FOUND: 400,
  SOURCE_UNREADABLE: 400,
  SYMLINK_LOOP: 400,
  UNSUPPORTED_FILE_TYPE: 400,
  STORE_LOCKED: 503,
  STORE_INCOMPATIBLE: 500,
  CORRUPT_DATA: 500,
  CONFIG_INVALID: 400,
  ABORTED: 503,
  PAYLOAD_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  INSUFFICIENT_STORAGE: 507,
  RATE_LIMITED: 429,
  RANGE_NOT_SATISFIABLE: 416,
  METHOD_NOT_ALLOWED: 405,
  ROUTE_NOT_FOUND: 404,
  UNAVAILABLE: 503,
  FETCH_FAILED: 502,
  PROTOCOL_ERROR: 502,
  PEER_UNREACHABLE: 502,
  API_UNREACHABLE: 502,
  BAD_RESPONSE: 502,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INTERNAL: 500
}

/** Reason phrases for the `error` field. */
export const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  507: 'Insufficient Storage'
}

export interface ErrorBody {
  error: string
  code: number
  message: string
  details?: Record<string, unknown>
  timestamp: string
  error_code: ErrorCode
}

/** Status and body for any thrown value. Unknown errors become a 500 without internals. */
export function toErrorResponse (err: unknown): { status: number, body: ErrorBody } {
  // a full disk met by any write (pack, LevelDB, a file) is a 507 that says so, never a 500
  if (!isOpenHashError(err) && isDiskFull(err)) err = diskFullError(err)
  if (isOpenHashError(err)) {
    const status = STATUS_BY_CODE[err.code] ?? 500
    return {
      status,
      body: {
        error: REASON[status] ?? 'Error',
        code: status,
        message: err.message,
        ...(err.details !== undefined ? { details: err.details } : {}),
        timestamp: new Date().toISOString(),
        error_code: err.code
      }
    }
  }
  return {
    status: 500,
    body: { error: REASON[500], code: 500, message: 'internal error', timestamp: new Date().toISOString(), error_code: 'INTERNAL' }
  }
}

/** The reference's error JSON for any thrown value, with CORS and the headers some statuses need. */
export function errorResponse (err: unknown): Response {
  const { status, body } = toErrorResponse(err)
  const headers: Record<string, string> = { ...CORS_HEADERS, 'Content-Type': 'application/json' }
  if (err instanceof RangeNotSatisfiableError && typeof err.details?.size === 'number') headers['Content-Range'] = `bytes */${err.details.size}`
  if (err instanceof MethodNotAllowedError && Array.isArray(err.details?.allow)) headers.Allow = (err.details.allow as string[]).join(', ')
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="openhashdb"'
  // the client gets no internals; the daemon logs them (openhash:api:error, on by default)
  if (status === 500) log.error('internal error answered 500: %e', err)
  return new Response(JSON.stringify(body), { status, headers })
}
