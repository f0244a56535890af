import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHost as normalizeHostRule } from '@edge451/policy';
import { plainReply } from '../reply/plain-reply.js';
import { boundedMemo } from '../support/bounded-memo.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

// Visible ASCII only: Node decodes header bytes as latin1, so a raw UTF-8 Host would otherwise reach
// IDNA mapping and be "helpfully" converted. Clients send IDNs as A-labels (DECISIONS #10).
const visibleAscii = /^[\x21-\x7e]+$/;

type HostOrProblem = { host: string } | { problem: string };

/** The authority → normalised host, or why it is not one. A few authorities come back on every request. */
const hostOf = boundedMemo((authority): HostOrProblem => {
  if (!visibleAscii.test(authority)) return { problem: 'Invalid Host.' };
  const normalized = normalizeHostRule(authority);
  return normalized.ok ? { host: normalized.host } : { problem: `Invalid Host: ${normalized.reason}` };
}, 1024);

/**
 * Phase `normalizeHost`: the authority from `accept` → the normalised host every later phase uses
 * (routing, policy, cache key). 400 for anything that is not a valid host. From a trusted proxy, also the
 * other hosts its headers name (`ctx.claimedHosts`, decided too), 400 when one is not a valid host.
 */
export function normalizeHost(ctx: RequestContext): Verdict {
  const found = hostOf(ctx.authority ?? '');
  if ('problem' in found) return replyWith(plainReply(400, found.problem));
  ctx.host = found.host;
  if (ctx.client?.peerTrusted !== true) return CONTINUE;
  const claims = hostsClaimedBy(ctx.req.headers, found.host);
  if (claims === undefined) return CONTINUE;
  if ('problem' in claims) return replyWith(plainReply(400, claims.problem));
  ctx.claimedHosts = claims.hosts;
  return CONTINUE;
}

// Fields by which a trusted proxy tells the origin which host the client asked for, each a list. Front
// proxies pass a client's own value through (nginx forwards every field it is not told to change), and
// origins route by them (Rails, Express with `trust proxy`, Django's USE_X_FORWARDED_HOST, IIS ARR's
// X-Original-Host): were only Host decided, `Host: allowed.example` with `X-Forwarded-Host: blocked.example`
// would get the blocked site served. So every host they name is decided as well, in every spelling an
// origin might read: each list entry, and every `host=` of `Forwarded` (read leniently, so that a value an
// origin's parser would find is never missed). From other peers these fields never reach the origin
// (forward-headers.ts), so they need no decision.
const hostClaimFields = ['x-forwarded-host', 'x-host', 'x-original-host'] as const;
const forwardedHostPairs = /(?:^|[\s;,])host[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"?|[^\s;,]*)/gi;

/**
 * The normalised hosts other than `host` that the host fields of `headers` name; undefined when there are
 * none (nearly every request: four property reads), a problem when one is not a valid host.
 */
function hostsClaimedBy(
  headers: IncomingHttpHeaders,
  host: string,
): { hosts: string[] } | { problem: string } | undefined {
  let named: string[] | undefined;
  for (const field of hostClaimFields) {
    const value = headers[field];
    if (value === undefined) continue;
    named ??= [];
    for (const entry of (Array.isArray(value) ? value.join(',') : value).split(',')) {
      if (entry.trim() !== '') named.push(entry.trim());
    }
  }
  const forwarded = headers.forwarded;
  if (forwarded !== undefined) {
    for (const [, value = ''] of forwarded.matchAll(forwardedHostPairs)) {
      named ??= [];
      named.push(value.startsWith('"') ? unquote(value) : value);
    }
  }
  if (named === undefined) return undefined;
  const hosts: string[] = [];
  for (const name of named) {
    const found = hostOf(name);
    if ('problem' in found) return { problem: `Invalid forwarded host: ${JSON.stringify(name)}.` };
    if (found.host !== host && !hosts.includes(found.host)) hosts.push(found.host);
  }
  return { hosts };
}

/** A quoted-string's content (RFC 9110 §5.6.4); an unterminated one runs to the end of the field. */
function unquote(quoted: string): string {
  const end = quoted.length > 1 && quoted.endsWith('"') ? -1 : undefined;
  return quoted.slice(1, end).replace(/\\(.)/g, '$1');
}
