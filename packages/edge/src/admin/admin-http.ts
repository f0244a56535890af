import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CacheError } from '@edge451/cache';
import { PolicyValidationError } from '@edge451/policy';
import type { Logger } from 'pino';
import { EdgeError } from '../errors.js';
import { AdminHttpError, type AdminResponse, json } from './admin-reply.js';
import { type AdminDeps, adminRoutes } from './admin-routes.js';
import { type AdminToken, createTokenCheck } from './auth.js';

const maxBodyBytes = 16 * 1024 * 1024;

/**
 * The admin listener: `/healthz`, `/readyz`, `/metrics` open; everything else needs a named bearer token.
 * Every failure is an answer (400/401/404/405/413/500 with a JSON body), never a crash.
 */
export function createAdminServer(deps: AdminDeps, tokens: readonly AdminToken[], logger: Logger): Server {
  const tokenName = createTokenCheck(tokens);
  return createServer((req, res) => {
    handle(req, deps, tokenName)
      .then((response) => send(res, response))
      .catch((error: unknown) => send(res, errorResponse(error, logger)));
  });
}

async function handle(
  req: IncomingMessage,
  deps: AdminDeps,
  tokenName: (authorization: string | undefined) => string | undefined,
): Promise<AdminResponse> {
  const url = parseTarget(req.url ?? '/');
  const matching = adminRoutes.filter((route) => route.pattern.test(url.pathname));
  const open = matching.length > 0 && matching.every((route) => route.open);
  // Authenticate before routing: without a token, the API's shape (404 vs 405) stays private.
  const actor = open ? 'anonymous' : tokenName(req.headers.authorization);
  if (actor === undefined) {
    throw new AdminHttpError(401, 'expected Authorization: Bearer <admin token>', {
      'www-authenticate': 'Bearer realm="edge451-admin"',
    });
  }
  if (matching.length === 0) throw new AdminHttpError(404, 'no such admin endpoint');
  // HEAD is a GET without the body (load balancers probe /healthz with it); node:http drops the body.
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const route = matching.find((candidate) => candidate.method === method);
  if (route === undefined) {
    const allowed = matching.flatMap((candidate) =>
      candidate.method === 'GET' ? ['GET', 'HEAD'] : [candidate.method],
    );
    throw new AdminHttpError(405, `expected ${allowed.join(' or ')}`, { allow: allowed.join(', ') });
  }
  const params = decodeParams(route.pattern.exec(url.pathname)?.slice(1) ?? []);
  // A GET takes no body: it is neither read nor parsed (the open routes would otherwise buffer up to
  // 16 MiB for anyone who can reach the listener).
  const body = route.method === 'GET' ? undefined : await readJsonBody(req);
  return route.handle({ method: req.method ?? 'GET', query: url.searchParams, body, actor }, params, deps);
}

/** The request target as a URL; one the URL parser refuses (`//[`, `http://[/`) is the client's 400. */
function parseTarget(target: string): URL {
  try {
    return new URL(target, 'http://admin');
  } catch {
    throw new AdminHttpError(400, 'malformed request target');
  }
}

function decodeParams(raw: string[]): string[] {
  try {
    return raw.map((value) => decodeURIComponent(value));
  } catch {
    throw new AdminHttpError(400, 'malformed percent-encoding in the path');
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes)
      throw new AdminHttpError(413, `expected a body of at most ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new AdminHttpError(400, `expected a JSON body: ${(error as Error).message}`);
  }
}

function errorResponse(error: unknown, logger: Logger): AdminResponse {
  if (error instanceof AdminHttpError) {
    const response = json(error.status, { error: error.message });
    return { ...response, headers: { ...response.headers, ...error.headers } };
  }
  if ((error instanceof EdgeError || error instanceof CacheError) && error.source === 'client') {
    return json(400, { error: error.message });
  }
  if (error instanceof PolicyValidationError) {
    return json(400, {
      error: 'policy change refused; the previous policy stays in force',
      issues: error.issues,
    });
  }
  logger.error({ err: error }, 'admin request failed');
  // The state directory's reason is the operator's to act on (a full disk, a rotated log): said, not hidden.
  if (error instanceof EdgeError && error.code === 'EDGE_AUDIT_LOG_REFUSED') {
    return json(500, {
      error: `policy change refused; the previous policy stays in force: ${error.message}`,
    });
  }
  return json(500, { error: 'internal error' });
}

function send(res: ServerResponse, response: AdminResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(response.status, { ...response.headers, 'cache-control': 'no-store' });
  res.end(response.body);
}
