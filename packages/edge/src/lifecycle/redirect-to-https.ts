import { isIPv6 } from 'node:net';
import { plainReply } from '../reply/plain-reply.js';
import { clientScheme } from '../upstream/forward-headers.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

/**
 * Phase `redirectToHttps`: a request that reached a `redirectToHttps` site over plain HTTP gets
 * 308 Permanent Redirect (RFC 9110 §15.4.9: the method and body are kept) to the same host and path on
 * https. Runs after `decide`, so a blocked client gets its 451 here and now, not a redirect to a 451.
 * `httpsPort` is the first TLS listener's port, left out of the URL when it is 443 or there is none (TLS
 * terminated in front of the edge). A request a trusted proxy marks `X-Forwarded-Proto: https` already
 * arrived over TLS: redirecting it would loop.
 */
export function makeRedirectToHttps(httpsPort: () => number | undefined) {
  return function redirectToHttps(ctx: RequestContext): Verdict {
    if (ctx.site?.config.redirectToHttps !== true || clientScheme(ctx) === 'https') return CONTINUE;
    // `OPTIONS *` names the server, not a resource: nothing to redirect to.
    if (ctx.path === '*') return CONTINUE;
    const host = ctx.host ?? '';
    const port = httpsPort();
    const authority = `${isIPv6(host) ? `[${host}]` : host}${port === undefined || port === 443 ? '' : `:${port}`}`;
    const location = `https://${authority}${ctx.path}`;
    return replyWith(plainReply(308, `This site is served over https: ${location}`, { location }));
  };
}
