import type { HttpCache } from '@edge451/cache';
import type { CountryLocator } from '@edge451/geo';
import type { Policy } from '@edge451/policy';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import type { Metrics } from '../observe/metrics.js';
import type { OriginPools } from '../upstream/origin-pools.js';
import { accept } from './accept.js';
import { answeredHere } from './answered-here.js';
import { serveThroughCache } from './cache-lookup.js';
import { checkCertificate } from './check-certificate.js';
import { makeDecide } from './decide.js';
import { makeIdentifyClient } from './identify-client.js';
import { normalizeHost } from './normalize-host.js';
import { proxy } from './proxy.js';
import { makeRecord } from './record.js';
import { makeRedirectToHttps } from './redirect-to-https.js';
import { createSiteRouter, makeRoute } from './route.js';
import type { Phases } from './run-lifecycle.js';

export type PhaseDeps = {
  config: EdgeConfig;
  /** The shared cache; undefined when `cache: false`. */
  cache: HttpCache | undefined;
  locator: CountryLocator;
  currentPolicy: () => Policy;
  pools: OriginPools;
  logger: Logger;
  metrics: Metrics;
  /** The port `redirectToHttps` sends clients to: the first TLS listener's, once bound; undefined → 443. */
  httpsPort: () => number | undefined;
};

/**
 * Builds every phase for one config, validating and precomputing what it can (router, trusted-proxy
 * list) so the per-request path stays lean. A config reload builds a new set and swaps it in whole.
 */
export function createPhases(deps: PhaseDeps): Phases {
  const { config, pools, cache } = deps;
  const router = createSiteRouter(config.sites);
  // The origin pools follow the sites of the config being put in force (origin-pools.ts).
  pools.useSites(router.sites);
  return {
    accept,
    identifyClient: makeIdentifyClient(config.clientIp, deps.locator),
    normalizeHost,
    route: makeRoute(router),
    decide: makeDecide(deps.currentPolicy, config.legal),
    checkCertificate,
    redirectToHttps: makeRedirectToHttps(deps.httpsPort),
    fetch: (ctx) => {
      const answer = answeredHere(ctx);
      if (answer !== undefined) {
        if (answer.status >= 400) ctx.outcome = 'rejected';
        return answer;
      }
      return cache === undefined ? proxy(ctx, pools) : serveThroughCache(ctx, cache, pools);
    },
    record: makeRecord(deps.logger, deps.metrics, config.log.sampleRate),
  };
}
