import type { Socket } from 'node:net';
import type { ClientIpConfig, CountryLocator } from '@edge451/geo';
import { createClientIpResolver } from '@edge451/geo';
import { CONTINUE, type RequestContext, type Verdict } from './context.js';

/** Source addresses read off PROXY protocol headers, per connection (set by the listener). */
export const proxyProtocolAddresses = new WeakMap<Socket, string>();

/**
 * Phase `identifyClient`: the client's IP (socket, or trusted forwarding headers / PROXY header) and its
 * country. Never ends the request: an unknown country is a value the policy decides on.
 * Built once per config; the client-IP rule itself lives in @edge451/geo (`createClientIpResolver`).
 */
export function makeIdentifyClient(clientIp: ClientIpConfig, locator: CountryLocator) {
  const resolveClientIp = createClientIpResolver(clientIp);
  return function identifyClient(ctx: RequestContext): Verdict {
    const socket = ctx.req.socket;
    const resolved = resolveClientIp({
      peerAddress: socket.remoteAddress ?? '',
      rawHeaders: ctx.req.rawHeaders,
      proxyProtocolAddress: proxyProtocolAddresses.get(socket),
    });
    const located = locator.lookupCountry(resolved.ip);
    ctx.client = {
      ip: resolved.ip,
      country: located.country,
      countrySource: located.source,
      ipFrom: resolved.from,
      peerTrusted: resolved.peerTrusted,
      peerIp: resolved.peerIp,
      malformedForwarding: resolved.malformed === true,
    };
    return CONTINUE;
  };
}
