import { describe, expect, it } from 'vitest';
import type { RequestContext } from './context.js';
import { makeRedirectToHttps } from './redirect-to-https.js';

function request(overrides: {
  host?: string;
  path?: string;
  scheme?: 'http' | 'https';
  redirectToHttps?: boolean;
  peerTrusted?: boolean;
  forwardedProto?: string;
}): RequestContext {
  const headers =
    overrides.forwardedProto === undefined ? {} : { 'x-forwarded-proto': overrides.forwardedProto };
  return {
    scheme: overrides.scheme ?? 'http',
    host: overrides.host ?? 'shop.example',
    path: overrides.path ?? '/a?b=1',
    site: { config: { redirectToHttps: overrides.redirectToHttps ?? true } },
    client: { peerTrusted: overrides.peerTrusted ?? false },
    req: { headers },
  } as unknown as RequestContext;
}

const locationOf = (verdict: ReturnType<ReturnType<typeof makeRedirectToHttps>>) =>
  verdict.next === 'reply'
    ? { status: verdict.reply.status, location: verdict.reply.headers.location }
    : undefined;

describe('redirectToHttps', () => {
  it('sends a plain-HTTP request to the same host and path on the TLS port with 308', () => {
    const redirect = makeRedirectToHttps(() => 8443);
    expect(locationOf(redirect(request({})))).toEqual({
      status: 308,
      location: 'https://shop.example:8443/a?b=1',
    });
    expect(locationOf(redirect(request({ host: '2001:db8::1', path: '/' })))).toEqual({
      status: 308,
      location: 'https://[2001:db8::1]:8443/',
    });
  });

  it('leaves the port out when it is 443 or when TLS is terminated in front of the edge', () => {
    expect(locationOf(makeRedirectToHttps(() => 443)(request({})))?.location).toBe(
      'https://shop.example/a?b=1',
    );
    expect(locationOf(makeRedirectToHttps(() => undefined)(request({})))?.location).toBe(
      'https://shop.example/a?b=1',
    );
  });

  it('lets through https requests, sites without the option, OPTIONS *, and what a trusted proxy says came over https', () => {
    const redirect = makeRedirectToHttps(() => 8443);
    expect(redirect(request({ scheme: 'https' })).next).toBe('continue');
    expect(redirect(request({ redirectToHttps: false })).next).toBe('continue');
    expect(redirect(request({ path: '*' })).next).toBe('continue');
    expect(redirect(request({ peerTrusted: true, forwardedProto: 'HTTPS, http' })).next).toBe('continue');
  });

  it('ignores X-Forwarded-Proto from a peer that is not a trusted proxy', () => {
    const redirect = makeRedirectToHttps(() => 8443);
    expect(redirect(request({ peerTrusted: false, forwardedProto: 'https' })).next).toBe('reply');
  });
});
