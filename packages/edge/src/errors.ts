/** Who is at fault: decides the status a failure maps to (Pingora's `fail_to_proxy`). */
export type ErrorSource = 'client' | 'origin' | 'internal';

/** Stable, greppable error codes. */
export type EdgeErrorCode =
  | 'EDGE_CONFIG_INVALID'
  | 'EDGE_ORIGIN_UNREACHABLE'
  | 'EDGE_ORIGIN_TIMEOUT'
  | 'EDGE_ORIGIN_QUEUE_TIMEOUT'
  | 'EDGE_ORIGIN_PROTOCOL'
  | 'EDGE_CLIENT_ABORTED'
  | 'EDGE_CLIENT_SEND_TIMEOUT'
  | 'EDGE_BAD_REQUEST'
  | 'EDGE_AUDIT_LOG_REFUSED'
  | 'EDGE_INTERNAL';

/**
 * The one error type that leaves a lifecycle phase. `cause` keeps the original error for logs.
 * A 451 is a verdict, never an EdgeError.
 */
export class EdgeError extends Error {
  override readonly name = 'EdgeError';
  constructor(
    readonly code: EdgeErrorCode,
    readonly source: ErrorSource,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const originTimeoutCodes = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const originUnreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Converts anything thrown by upstream or internal code into an EdgeError, keeping `cause`.
 * Called where an error leaves a phase, so the top-level handler only ever sees EdgeErrors.
 */
export function toEdgeError(error: unknown): EdgeError {
  if (error instanceof EdgeError) return error;
  const code = errorCode(error);
  if (code !== undefined && originTimeoutCodes.has(code)) {
    return new EdgeError('EDGE_ORIGIN_TIMEOUT', 'origin', `origin timed out (${code})`, { cause: error });
  }
  if (code !== undefined && originUnreachableCodes.has(code)) {
    return new EdgeError('EDGE_ORIGIN_UNREACHABLE', 'origin', `origin unreachable (${code})`, {
      cause: error,
    });
  }
  if (
    code === 'UND_ERR_ABORTED' ||
    code === 'ABORT_ERR' ||
    code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' ||
    isAbortSignalReason(error)
  ) {
    return new EdgeError('EDGE_CLIENT_ABORTED', 'client', 'client went away', { cause: error });
  }
  if (
    code?.startsWith('HPE_') ||
    code === 'UND_ERR_INFO' ||
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' ||
    code === 'UND_ERR_HEADERS_OVERFLOW' ||
    // undici 7's parser errors often carry no code (it looks the llhttp error name up the wrong way).
    (error instanceof Error && error.name === 'HTTPParserError')
  ) {
    return new EdgeError(
      'EDGE_ORIGIN_PROTOCOL',
      'origin',
      `origin sent an invalid response (${code ?? 'parse error'})`,
      {
        cause: error,
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EdgeError('EDGE_INTERNAL', 'internal', message, { cause: error });
}

/** The status a failed request is answered with; `undefined` when there is nobody left to answer. */
export function statusForError(error: EdgeError): number | undefined {
  switch (error.code) {
    case 'EDGE_ORIGIN_TIMEOUT':
      return 504;
    // No connection to the origin came free in time: the request was never sent (upstream/queue-timed-pool.ts).
    case 'EDGE_ORIGIN_QUEUE_TIMEOUT':
      return 503;
    case 'EDGE_CLIENT_ABORTED':
    case 'EDGE_CLIENT_SEND_TIMEOUT':
      return undefined;
    default:
      return error.source === 'origin' ? 502 : error.source === 'client' ? 400 : 500;
  }
}

/**
 * The reason of an AbortSignal aborted without one: a DOMException named AbortError whose `code` is the
 * legacy number 20. The edge aborts only when its client has gone, so that is what it means.
 */
function isAbortSignalReason(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // undici wraps socket errors: the interesting code is on the cause.
  const cause = (error as { cause?: unknown }).cause;
  return cause === error ? undefined : errorCode(cause);
}
