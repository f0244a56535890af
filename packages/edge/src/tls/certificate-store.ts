import { normalizeHost } from '@edge451/policy';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config/load-config.js';
import type { TlsFilesConfig } from '../config/schema.js';
import { parseSiteHost } from '../config/site-host.js';
import { createSiteRouter, type SiteRouter } from '../lifecycle/route.js';
import { type CertificatePair, describeCertificate } from './certificate-pair.js';
import { LiveCertificate, type RenewalEvent } from './live-certificate.js';

/** How often certificate files are looked at: a renewal is served within two polls (DECISIONS #17: 5 s). */
export const certificatePollIntervalMs = 1_000;

const keyOf = (files: TlsFilesConfig) => `${files.cert}\0${files.key}`;

/**
 * Every certificate of a traffic server: each TLS listener's default pair and each site's own, loaded once
 * per file pair however many sites share it, and followed on disk for renewals. Picks the certificate for a
 * server name by the same host rule that routes requests (exact name, then the longest `*.suffix`).
 */
export class CertificateStore {
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  private constructor(
    private readonly listenerFiles: readonly TlsFilesConfig[],
    private live: Map<string, LiveCertificate>,
    private router: SiteRouter,
    private readonly logger: Logger,
    pollIntervalMs: number,
  ) {
    this.timer = setInterval(() => void this.poll(), pollIntervalMs);
    this.timer.unref();
  }

  /**
   * Loads every pair `config` names (listeners' and sites') and starts following them. Throws
   * CertificateProblem when one cannot be used; the config loader has normally refused that config already.
   */
  static open(
    config: EdgeConfig,
    logger: Logger,
    pollIntervalMs = certificatePollIntervalMs,
  ): CertificateStore {
    const listenerFiles = config.listeners.flatMap((listener) => (listener.tls ? [listener.tls] : []));
    const live = openAll([...listenerFiles, ...siteFiles(config)], new Map());
    warnAboutSiteCoverage(config, live, logger);
    return new CertificateStore(listenerFiles, live, createSiteRouter(config.sites), logger, pollIntervalMs);
  }

  /**
   * The certificate for a connection to `listener` that asked for `serverName`: the site's own when a site
   * with a certificate serves that name, else the listener's (also for no SNI or a name that is not a host).
   */
  select(listener: TlsFilesConfig, serverName: string | undefined): CertificatePair {
    const fallback = this.live.get(keyOf(listener));
    if (fallback === undefined) throw new Error(`no certificate loaded for listener ${listener.cert}`);
    if (serverName === undefined) return fallback.current;
    const normalized = normalizeHost(serverName);
    if (!normalized.ok) return fallback.current;
    const files = this.router.match(normalized.host)?.config.tls;
    return (files && this.live.get(keyOf(files))?.current) ?? fallback.current;
  }

  /**
   * Takes the sites' certificates from a reloaded config (SIGHUP). Listener pairs are kept (`listen` needs a
   * restart). Throws CertificateProblem, changing nothing, when a new pair cannot be used.
   */
  useConfig(config: EdgeConfig): void {
    const live = openAll([...this.listenerFiles, ...siteFiles(config)], this.live);
    warnAboutSiteCoverage(config, live, this.logger);
    this.live = live;
    this.router = createSiteRouter(config.sites);
  }

  /** Looks at every pair's files once and logs what changed (the timer calls this every second). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const certificate of this.live.values()) this.report(await certificate.poll());
    } catch (error) {
      this.logger.error({ err: error }, 'certificate files could not be checked');
    } finally {
      this.polling = false;
    }
  }

  /** Stops following the files. */
  close(): void {
    clearInterval(this.timer);
  }

  private report(event: RenewalEvent | undefined): void {
    if (event === undefined) return;
    if (event.ok) {
      const previous = event.before.leaf.serialNumber;
      this.logger.info(
        { ...describeCertificate(event.after), previous_serial: previous },
        'certificate renewed',
      );
      return;
    }
    this.logger.error(
      {
        code: event.problem.code,
        file: event.problem.file,
        err: event.problem,
        serial: event.current.leaf.serialNumber,
      },
      'certificate renewal refused; the previous certificate stays in use',
    );
  }
}

function siteFiles(config: EdgeConfig): TlsFilesConfig[] {
  return config.sites.flatMap((site) => (site.tls ? [site.tls] : []));
}

// Pairs already followed are kept as they are (with any renewal they took); only new files are loaded.
function openAll(files: readonly TlsFilesConfig[], previous: ReadonlyMap<string, LiveCertificate>) {
  const live = new Map<string, LiveCertificate>();
  for (const pair of files) {
    const key = keyOf(pair);
    if (!live.has(key)) live.set(key, previous.get(key) ?? LiveCertificate.open(pair));
  }
  return live;
}

// A site whose certificate does not cover one of its names answers 421 there over TLS (DECISIONS #16).
function warnAboutSiteCoverage(
  config: EdgeConfig,
  live: ReadonlyMap<string, LiveCertificate>,
  logger: Logger,
) {
  for (const site of config.sites) {
    const pair = site.tls && live.get(keyOf(site.tls))?.current;
    if (pair === undefined) continue;
    for (const raw of site.hosts) {
      const parsed = parseSiteHost(raw);
      // A wildcard site is covered when any one-label subdomain is.
      const sample =
        parsed.ok && parsed.kind === 'wildcard' ? `a.${parsed.host}` : parsed.ok ? parsed.host : '';
      if (sample !== '' && !pair.covers(sample)) {
        logger.warn(
          {
            site: site.name,
            host: raw,
            cert_file: pair.files.cert,
            subject_alt_names: pair.leaf.subjectAltName,
          },
          "a site's certificate does not cover one of its hosts: requests for it over TLS get 421",
        );
      }
    }
  }
}
