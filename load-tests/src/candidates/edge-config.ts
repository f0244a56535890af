/** A site of the generated edge config: the hosts it answers for, all fronting the one bench origin. */
export type BenchSite = { name: string; hosts: readonly string[] };

export type EdgeConfigOptions = {
  port: number;
  adminPort: number;
  adminToken: string;
  workers: 1 | 'auto';
  originUrl: string;
  mmdbFile: string;
  policyFile: string;
  stateDir: string;
  sites: readonly BenchSite[];
  /** Memory cache bound; the default (512 MiB) holds every benchmark body without eviction. */
  cacheMaxBytes?: number;
};

/**
 * The edge451 config (JSON, which the loader accepts like YAML) for a benchmark candidate. Logging is at
 * `warn`: blocked requests are always logged at info, and a log line per 451 would measure pino, not the
 * edge (the report says so). Client addresses come from X-Forwarded-For, trusted from loopback only, so the
 * load generator can play clients from several countries.
 */
export function renderEdgeConfig(options: EdgeConfigOptions): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: options.port },
    workers: options.workers,
    admin: {
      host: '127.0.0.1',
      port: options.adminPort,
      tokens: [{ name: 'bench', token: options.adminToken }],
    },
    geoip: { database: options.mmdbFile, watch: false },
    clientIp: { source: 'x-forwarded-for', trustedProxies: ['127.0.0.1/32'] },
    sites: options.sites.map((site) => ({
      name: site.name,
      hosts: site.hosts,
      origin: options.originUrl,
      connections: 128,
    })),
    policy: { files: [options.policyFile] },
    legal: { blockedBy: 'https://bench.edge451.test/legal/blocks', contact: 'legal@bench.edge451.test' },
    cache: { maxBytes: options.cacheMaxBytes ?? 512 * 1024 * 1024, maxEntryBytes: 8 * 1024 * 1024 },
    log: { level: 'warn' },
    state: { dir: options.stateDir },
    shutdown: { drainMs: 2000 },
  };
}

/** A policy document with one order per chunk of `hosts`, all blocking `countries`. */
export function renderPolicy(
  hosts: readonly string[],
  { countries, hostsPerOrder }: { countries: readonly string[]; hostsPerOrder: number },
): Record<string, unknown> {
  const orders: Record<string, unknown>[] = [];
  for (let start = 0; start < hosts.length; start += hostsPerOrder) {
    const index = orders.length;
    orders.push({
      id: `bench-${index}`,
      authority: 'edge451 benchmark',
      reference: `Benchmark order ${index} (not a legal measure)`,
      countries,
      hosts: hosts.slice(start, start + hostsPerOrder),
    });
  }
  return { unknownCountry: 'allow', orders };
}
