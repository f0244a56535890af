import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isIPv6 } from 'node:net';
import { normalizeIp } from '@edge451/geo';
import { maxForwards } from '../lifecycle/answered-here.js';
import type { RequestContext } from '../lifecycle/context.js';
import { rewriteOriginUrl } from './rewrite-location.js';

export type HeaderRecord = Record<string, string | string[]>;

// RFC 9110 §7.6.1: connection-specific fields a proxy must not forward, plus the proxy-auth pair, which is
// meant for the proxy (we are none) and `expect`, which node:http already answered with 100 Continue.
const hopByHop = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);
const requestOnlyDropped = new Set(['expect', 'host']);
const forwardingHeaders = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
// Other names by which clients claim an address, scheme, port, path prefix or host: origins and the
// frameworks in front of them believe them (nginx's real_ip, Express's `trust proxy`, Spring's
// ForwardedHeaderFilter, IIS ARR's X-Original-Host…), so from an untrusted peer they are dropped with the
// rest (DECISIONS #8). Every `X-Forwarded-*` is such a claim (`-Port`, `-Prefix`, `-Ssl`, `-Server`,
// `-Scheme`…); these are the common ones without the prefix. From a trusted proxy the host claims are
// decided like the Host itself (lifecycle/normalize-host.ts).
const clientClaims = new Set([
  'x-real-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-host',
  'x-original-host',
]);

export const VIA = '1.1 edge451';

/**
 * Request headers for the origin: hop-by-hop fields removed (including every name listed in `Connection`),
 * forwarding headers rebuilt from the resolved client (DECISIONS #8), `Via` appended, site extras set.
 * The client's own `X-Forwarded-*` / `Forwarded` survive only when its peer is a trusted proxy.
 */
export function upstreamRequestHeaders(ctx: RequestContext): HeaderRecord {
  const { req, site, client } = ctx;
  const incoming = req.headers;
  const trusted = client?.peerTrusted === true;
  const out = copyEndToEnd(
    incoming,
    namedInConnection(incoming.connection),
    trusted ? isDroppedFromAnyPeer : isDroppedFromUntrustedPeer,
  );
  const peer = forwardedPeer(ctx);
  // Each forwarding header is set below, from the trusted peer's value or without it: copying them first
  // only to overwrite them cost four megamorphic reads per request.
  out['x-forwarded-for'] = appendList(trusted ? incoming['x-forwarded-for'] : undefined, peer);
  out['x-forwarded-proto'] = (trusted && single(incoming['x-forwarded-proto'])) || ctx.scheme;
  out['x-forwarded-host'] = (trusted && single(incoming['x-forwarded-host'])) || forwardedHost(ctx);
  if (trusted && incoming.forwarded !== undefined) {
    out.forwarded = appendList(incoming.forwarded, `for=${forwardedNode(peer)}`);
  }
  out.via = appendList(incoming.via, VIA);
  // RFC 9110 §7.6.2; a 0 never gets here (answered-here.ts). Defined for OPTIONS and TRACE only.
  if (req.method === 'OPTIONS') {
    const hops = maxForwards(incoming);
    if (hops !== undefined) out['max-forwards'] = String(hops - 1);
  }
  out.host = site?.config.preserveHost ? hostHeaderFor(ctx.host ?? '') : (site?.origin.host ?? '');
  for (const [name, value] of Object.entries(site?.config.headers.request ?? {}))
    out[name.toLowerCase()] = value;
  return out;
}

/**
 * The scheme the client used to reach the front of the chain: ours, or the first `X-Forwarded-Proto`
 * entry when the peer is a trusted proxy (it terminated TLS for us). Never believed from anyone else.
 */
export function clientScheme(ctx: RequestContext): string {
  if (ctx.scheme === 'https' || ctx.client?.peerTrusted !== true) return ctx.scheme;
  const forwarded = single(ctx.req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  return forwarded === 'https' || forwarded === 'http' ? forwarded : ctx.scheme;
}

/**
 * Makes a response's headers (the origin's or the cache's) the client's: hop-by-hop fields removed, `Via`
 * appended, a `Location` on the origin's own address pointed at the client's, and site extras set.
 * `headers` must be the caller's own object, one per response (undici's and the cache's replies are). When
 * no field has to go, as in a cache's reply, it is changed in place (copying ~10 headers cost ~2,600
 * instructions of a hit). Otherwise it is copied, because deleting fields from it made every later use
 * slower (~6,000 instructions more per pass-through than the copy).
 */
export function toClientResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  ctx: RequestContext,
): OutgoingHttpHeaders {
  const connectionNamed = namedInConnection(headers.connection);
  const out = everyEndToEnd(headers, connectionNamed) ? headers : copyEndToEnd(headers, connectionNamed);
  out.via = appendList(headers.via, VIA);
  // Two property reads for every response. The work happens only when there is a URL to look at.
  if (out.location !== undefined || out['content-location'] !== undefined) pointAtClient(out, ctx);
  for (const [name, value] of Object.entries(ctx.site?.config.headers.response ?? {}))
    out[name.toLowerCase()] = value;
  return out;
}

const urlFields = ['location', 'content-location'] as const;

/**
 * `Location` and `Content-Location` naming the site's origin → the same URL on the scheme and host the
 * client used (`rewriteRedirects`). This runs for each reply, after the cache, which stores the origin's
 * own value. A stored redirect can reach clients that came in on other ports or the other scheme (when a
 * trusted proxy's forwarding headers put them on the same variant). Rewriting it once for the first client
 * would send the next ones to the wrong place.
 */
function pointAtClient(headers: Record<string, string | string[] | undefined>, ctx: RequestContext): void {
  const site = ctx.site;
  if (site === undefined || !site.config.rewriteRedirects || ctx.host === undefined) return;
  const origin = site.origin.origin;
  const clientOrigin = `${clientScheme(ctx)}://${forwardedHost(ctx)}`;
  for (const name of urlFields) {
    const value = headers[name];
    if (value === undefined) continue;
    // A repeated field is malformed, but each copy would leak the address all the same.
    headers[name] = Array.isArray(value)
      ? value.map((each) => rewriteOriginUrl(each, origin, clientOrigin))
      : rewriteOriginUrl(value, origin, clientOrigin);
  }
}

function everyEndToEnd(
  headers: Record<string, string | string[] | undefined>,
  connectionNamed: readonly string[] | undefined,
): boolean {
  for (const name in headers) {
    if (headers[name] === undefined || !isEndToEnd(name, connectionNamed)) return false;
  }
  return true;
}

function copyEndToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  connectionNamed: readonly string[] | undefined,
  alsoDrop?: (name: string) => boolean,
): HeaderRecord {
  const out: HeaderRecord = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !isEndToEnd(name, connectionNamed) || alsoDrop?.(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Request fields never sent on, whoever the peer: `Expect` (answered here), `Host` (set per site), and a
 * claim spelled with underscores (`X_Forwarded_Host`, `X_Real_IP`): CGI-style origins (PHP, WSGI) read
 * `_` and `-` alike, as HTTP_X_FORWARDED_HOST, so it would pass for the real one or stand in for an
 * absent one. No proxy writes these spellings; nginx drops every underscored field by default.
 */
function isDroppedFromAnyPeer(name: string): boolean {
  return requestOnlyDropped.has(name) || (name.includes('_') && isClaim(name.replaceAll('_', '-')));
}

/** From a peer that is not a trusted proxy, also every claim about the client's address or URL. */
function isDroppedFromUntrustedPeer(name: string): boolean {
  return requestOnlyDropped.has(name) || isClaim(name.includes('_') ? name.replaceAll('_', '-') : name);
}

function isClaim(name: string): boolean {
  return name.startsWith('x-forwarded-') || forwardingHeaders.has(name) || clientClaims.has(name);
}

/** Whether a field goes on to the next hop: not hop-by-hop, not named in `Connection`, not a forwarding header we rebuild. */
function isEndToEnd(name: string, connectionNamed: readonly string[] | undefined): boolean {
  return !hopByHop.has(name) && !forwardingHeaders.has(name) && connectionNamed?.includes(name) !== true;
}

/**
 * The field names `Connection` lists besides the hop-by-hop ones dropped anyway, lower case; undefined for
 * none. The usual single `keep-alive` is answered without splitting the value (a split and a Set were ~2,300
 * instructions of every cache hit).
 */
function namedInConnection(value: string | string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  if (!joined.includes(',')) {
    const name = joined.trim().toLowerCase();
    return name === '' || hopByHop.has(name) ? undefined : [name];
  }
  const names = joined
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && !hopByHop.has(name));
  return names.length === 0 ? undefined : names;
}

function appendList(existing: string | string[] | undefined, item: string): string {
  if (existing === undefined || existing === '') return item;
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${item}`;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The hop the edge appends to the forwarding headers: the address that reached it, as client identification
 * normalised it (`::ffff:a.b.c.d` → a.b.c.d, which origins expect). With the PROXY protocol the TCP peer is
 * the load balancer, and the address that reached it comes from the PROXY header.
 */
function forwardedPeer({ client, req }: RequestContext): string {
  if (client === undefined) {
    const address = req.socket.remoteAddress ?? '';
    return normalizeIp(address) ?? address;
  }
  return client.ipFrom === 'proxy-protocol' ? client.ip : client.peerIp;
}

function forwardedNode(address: string): string {
  return isIPv6Literal(address) ? `"[${address}]"` : address;
}

/**
 * The host the client asked for, in its normalised spelling (`NEWS.Example.:80` → `news.example`), with
 * the port only when it is not the scheme's default. One spelling per host keeps origins' absolute URLs
 * and the cache's variants (which vary on this header) from multiplying with clients' typing. A rewritten
 * `Location` uses the same spelling.
 */
function forwardedHost(ctx: RequestContext): string {
  const port = trailingPort(ctx.authority ?? '');
  const host = hostHeaderFor(ctx.host ?? '');
  const defaultPort = ctx.scheme === 'https' ? '443' : '80';
  const bracketless = !(ctx.authority ?? '').startsWith('[') && isIPv6Literal(ctx.host ?? '');
  return port === undefined || port === defaultPort || bracketless ? host : `${host}:${port}`;
}

/**
 * The digits that end the authority when a colon comes right before them (`:8080`), else undefined: what
 * `/:(\d+)$/` matched, scanned from the end (the regular expression cost ~270 instructions per request,
 * `lastIndexOf` more: it leaves V8's fast builtins).
 */
function trailingPort(authority: string): string | undefined {
  let start = authority.length;
  while (start > 0) {
    const code = authority.charCodeAt(start - 1);
    if (code < 48 || code > 57) break;
    start--;
  }
  if (start === authority.length || start === 0 || authority.charCodeAt(start - 1) !== 58) return undefined;
  return authority.slice(start);
}

function hostHeaderFor(host: string): string {
  return isIPv6Literal(host) ? `[${host}]` : host;
}

/** `isIPv6` after a colon check: names (nearly every request) skip node:net's long regular expression. */
function isIPv6Literal(address: string): boolean {
  return address.includes(':') && isIPv6(address);
}
