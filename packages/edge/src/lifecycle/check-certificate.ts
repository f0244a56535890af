import { plainReply } from '../reply/plain-reply.js';
import { certificateServedOn } from '../tls/served-certificate.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

/**
 * Phase `checkCertificate` (DECISIONS #16): on a TLS connection, the certificate the client was shown must
 * cover the request's host, or the answer is 421 Misdirected Request (RFC 9110 §15.5.20: this connection
 * cannot speak for that authority; the client may retry on a new one). A plain-HTTP request passes.
 * Runs after `decide`: a blocked host gets 451 whichever certificate the connection happened to use, so
 * sending Host: blocked.example over a connection made for another name never turns a 451 into a 421.
 */
export function checkCertificate(ctx: RequestContext): Verdict {
  if (ctx.scheme !== 'https') return CONTINUE;
  if (certificateServedOn(ctx.req.socket)?.covers(ctx.host ?? '') === true) return CONTINUE;
  return replyWith(plainReply(421, "This connection's certificate does not cover this host."));
}
