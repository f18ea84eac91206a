/**
 * Typed errors with stable codes. Callers (CLI, HTTP API, HTTP client) match on
 * `code`, never on message text. `src/api/errors.ts` (HTTP) maps codes to status.
 */
export type ErrorCode =
  | 'INVALID_HASH'
  | 'INVALID_ARGUMENT'
  | 'INVALID_PRIORITY'
  | 'NOT_FOUND'
  | 'NOT_A_DIRECTORY'
  | 'IS_A_DIRECTORY'
  | 'NOT_ADDED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_UNREADABLE'
  | 'SYMLINK_LOOP'
  | 'UNSUPPORTED_FILE_TYPE'
  | 'STORE_LOCKED'
  | 'STORE_INCOMPATIBLE'
  | 'CORRUPT_DATA'
  | 'CONFIG_INVALID'
  | 'ABORTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'INSUFFICIENT_STORAGE'
  | 'RATE_LIMITED'
  | 'RANGE_NOT_SATISFIABLE'
  | 'METHOD_NOT_ALLOWED'
  | 'ROUTE_NOT_FOUND'
  | 'UNAVAILABLE'
  | 'FETCH_FAILED'
  | 'PROTOCOL_ERROR'
  | 'PEER_UNREACHABLE'
  | 'API_UNREACHABLE'
  | 'BAD_RESPONSE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'INTERNAL'

export class OpenHashError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>

  constructor (code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.details = details
    this.name = 'OpenHashError'
  }
}

function define (code: ErrorCode, name: string) {
  const Cls = class extends OpenHashError {
    static readonly code: ErrorCode = code
    constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
      super(code, message, details, options)
      this.name = name
    }
  }
  Object.defineProperty(Cls, 'name', { value: name })
  return Cls
}

export const InvalidHashError = define('INVALID_HASH', 'InvalidHashError')
export const InvalidArgumentError = define('INVALID_ARGUMENT', 'InvalidArgumentError')
export const InvalidPriorityError = define('INVALID_PRIORITY', 'InvalidPriorityError')
export const NotFoundError = define('NOT_FOUND', 'NotFoundError')
export const NotADirectoryError = define('NOT_A_DIRECTORY', 'NotADirectoryError')
export const IsADirectoryError = define('IS_A_DIRECTORY', 'IsADirectoryError')
export const NotAddedError = define('NOT_ADDED', 'NotAddedError')
export const SourceNotFoundError = define('SOURCE_NOT_FOUND', 'SourceNotFoundError')
export const SourceUnreadableError = define('SOURCE_UNREADABLE', 'SourceUnreadableError')
export const SymlinkLoopError = define('SYMLINK_LOOP', 'SymlinkLoopError')
export const UnsupportedFileTypeError = define('UNSUPPORTED_FILE_TYPE', 'UnsupportedFileTypeError')
export const StoreLockedError = define('STORE_LOCKED', 'StoreLockedError')
export const StoreIncompatibleError = define('STORE_INCOMPATIBLE', 'StoreIncompatibleError')
export const CorruptDataError = define('CORRUPT_DATA', 'CorruptDataError')
export const ConfigInvalidError = define('CONFIG_INVALID', 'ConfigInvalidError')
export const AbortedError = define('ABORTED', 'AbortedError')
export const PayloadTooLargeError = define('PAYLOAD_TOO_LARGE', 'PayloadTooLargeError')
/** The client sent no byte of its request body for `api.idle_timeout_ms` (HTTP 408; the upload rolls back). */
export const RequestTimeoutError = define('REQUEST_TIMEOUT', 'RequestTimeoutError')
/** A write does not fit in `storage.max_bytes`, even after evicting every unpinned cached object; or the disk is full (details.reason "disk_full", disk-full.ts). */
export const InsufficientStorageError = define('INSUFFICIENT_STORAGE', 'InsufficientStorageError')
/** Too many requests from one token or client address in one class (HTTP 429 with Retry-After). */
export const RateLimitedError = define('RATE_LIMITED', 'RateLimitedError')
export const RangeNotSatisfiableError = define('RANGE_NOT_SATISFIABLE', 'RangeNotSatisfiableError')
export const MethodNotAllowedError = define('METHOD_NOT_ALLOWED', 'MethodNotAllowedError')
export const RouteNotFoundError = define('ROUTE_NOT_FOUND', 'RouteNotFoundError')
/** The node cannot serve right now (shutting down, or a store problem it reports as unhealthy). */
export const UnavailableError = define('UNAVAILABLE', 'UnavailableError')
/** Providers were found but none delivered the content intact (they vanished, timed out or sent bad data). */
export const FetchFailedError = define('FETCH_FAILED', 'FetchFailedError')
/** A peer broke the exchange protocol (oversized or malformed frame, data that fails verification). */
export const ProtocolError = define('PROTOCOL_ERROR', 'ProtocolError')
/** A dial to a peer's multiaddr failed: refused, timed out, or the peer is not who the address says (POST /network/connect). */
export const PeerUnreachableError = define('PEER_UNREACHABLE', 'PeerUnreachableError')
/** The HTTP client could not reach the daemon (connection refused, timeout, DNS). */
export const ApiUnreachableError = define('API_UNREACHABLE', 'ApiUnreachableError')
/** The daemon answered something that is not what the API promises. */
export const BadResponseError = define('BAD_RESPONSE', 'BadResponseError')
/** No valid token: missing, unknown, revoked or expired (HTTP 401). */
export const UnauthorizedError = define('UNAUTHORIZED', 'UnauthorizedError')
/** A valid token without the scope the operation needs, or a refused cross-origin request (HTTP 403). */
export const ForbiddenError = define('FORBIDDEN', 'ForbiddenError')
export const InternalError = define('INTERNAL', 'InternalError')

const CLASSES = [
  InvalidHashError, InvalidArgumentError, InvalidPriorityError, NotFoundError, NotADirectoryError,
  IsADirectoryError, NotAddedError, SourceNotFoundError, SourceUnreadableError, SymlinkLoopError,
  UnsupportedFileTypeError, StoreLockedError, StoreIncompatibleError, CorruptDataError,
  ConfigInvalidError, AbortedError, PayloadTooLargeError, RequestTimeoutError, InsufficientStorageError, RateLimitedError, RangeNotSatisfiableError,
  MethodNotAllowedError, RouteNotFoundError, UnavailableError, FetchFailedError, ProtocolError, PeerUnreachableError, ApiUnreachableError,
  BadResponseError, UnauthorizedError, ForbiddenError, InternalError
]

/** Rebuild the typed error for a stable code (e.g. from an HTTP error body). */
export function errorFromCode (code: string, message: string, details?: Record<string, unknown>): OpenHashError {
  const Cls = CLASSES.find(c => c.code === code)
  return Cls === undefined ? new OpenHashError('INTERNAL', message, details) : new Cls(message, details)
}

export function isOpenHashError (err: unknown): err is OpenHashError {
  return err instanceof OpenHashError
}

/** Turn an abort reason into our typed error. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    throw new AbortedError('operation aborted', undefined, { cause: signal.reason })
  }
}
