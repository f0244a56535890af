import { isIP } from 'node:net';
import type { EdgeConfig } from '../config/load-config.js';
import { parseSiteHost } from '../config/site-host.js';
import { plainReply } from '../reply/plain-reply.js';
import { boundedMemo } from '../support/bounded-memo.js';
import { CONTINUE, type RequestContext, replyWith, type Verdict } from './context.js';

export type SiteConfig = EdgeConfig['sites'][number];

/** A configured site, ready for the hot path. */
export type Site = {
  readonly name: string;
  readonly config: SiteConfig;
  readonly origin: URL;
};

/** Host → site, by exact name first, then the longest `*.suffix` wildcard. */
export type SiteRouter = { match(host: string): Site | undefined; readonly sites: readonly Site[] };

/**
 * Builds the router once per config. Hosts were validated by the config loader, so a bad one here is a bug.
 * Lookup walks the host's label suffixes: cost grows with the host's depth, not the number of sites.
 */
export function createSiteRouter(configs: readonly SiteConfig[]): SiteRouter {
  const exact = new Map<string, Site>();
  const wildcard = new Map<string, Site>();
  const sites = configs.map((config, index) => {
    const site: Site = { name: config.name ?? `site-${index}`, config, origin: new URL(config.origin) };
    for (const raw of config.hosts) {
      const parsed = parseSiteHost(raw);
      if (!parsed.ok) throw new Error(`invalid site host ${JSON.stringify(raw)}: ${parsed.reason}`);
      (parsed.kind === 'exact' ? exact : wildcard).set(parsed.host, site);
    }
    return site;
  });
  // A wildcard's hosts come back on every request: each one's suffix walk is done once (null: no site).
  const byWildcard = boundedMemo((host): Site | null => {
    // An IP literal is never under a wildcard: `*.2.3.4` must not catch 1.2.3.4.
    if (isIP(host) !== 0) return null;
    let dot = host.indexOf('.');
    while (dot !== -1) {
      const bySuffix = wildcard.get(host.slice(dot + 1));
      if (bySuffix !== undefined) return bySuffix;
      dot = host.indexOf('.', dot + 1);
    }
    return null;
  }, 4096);
  return {
    sites,
    match(host) {
      const found = exact.get(host);
      if (found !== undefined || wildcard.size === 0) return found;
      return byWildcard(host) ?? undefined;
    },
  };
}

/** Phase `route`: host → site, or 421 Misdirected Request (RFC 9110 §15.5.20) when no site serves it. */
export function makeRoute(router: SiteRouter) {
  return function route(ctx: RequestContext): Verdict {
    const site = router.match(ctx.host ?? '');
    if (site === undefined) return replyWith(plainReply(421, 'No site is configured for this host.'));
    ctx.site = site;
    return CONTINUE;
  };
}
