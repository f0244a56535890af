import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { CertificateProblem, loadCertificatePair } from '../tls/certificate-pair.js';
import { ConfigError, type ConfigIssue, formatPath } from './config-error.js';
import { interpolateEnv } from './interpolate.js';
import { type ConfigInput, configSchema, type ListenerConfig, type TlsFilesConfig } from './schema.js';
import { parseSiteHost } from './site-host.js';

/** A validated config with every relative path resolved against the config file's folder. */
export type EdgeConfig = ConfigInput & {
  /** Absolute path of the file it came from. */
  file: string;
  state: { dir: string };
  /** `listen` as a list, whether it was written as one listener or several; certificate paths absolute. */
  listeners: ListenerConfig[];
};

/**
 * Reads, interpolates (`${ENV}`, `${ENV:-default}`) and validates a YAML or JSON config file.
 * Throws ConfigError listing every problem with file, path, line and the expected value;
 * nothing is returned half-valid.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<EdgeConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError([{ file: path, path: '', message: `cannot read the config file (${reason})` }]);
  }
  return parseConfigText(text, path, env);
}

/**
 * As loadConfig, for text already in memory; `file` names it in messages and anchors relative paths.
 * Certificate and key files named by `tls` keys are read and checked here (small files, read synchronously).
 */
export function parseConfigText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): EdgeConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  // The line of the value at `path`, or of its nearest parent that exists (a missing key points at its parent).
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const node = document.getIn(path.slice(0, depth) as (string | number)[], true) as
        | { range?: [number] }
        | undefined;
      const offset = node?.range?.[0];
      if (offset !== undefined && depth > 0) return lineCounter.linePos(offset).line;
    }
    return undefined;
  };
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => ({
        file,
        path: '',
        line: error.linePos?.[0].line,
        message: `invalid YAML: ${error.message.split('\n')[0]}`,
      })),
    );
  }
  const interpolated = interpolateEnv(document.toJS(), env);
  const issues: ConfigIssue[] = interpolated.problems.map((problem) => ({
    file,
    path: formatPath(problem.path),
    line: lineOf(problem.path),
    message: problem.message,
  }));
  const parsed = configSchema.safeParse(interpolated.value ?? {});
  // A missing variable already explains why its value is invalid: one message per problem.
  const explained = new Set(issues.map((issue) => issue.path));
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, file, lineOf).filter((issue) => !explained.has(issue.path)));
  }
  issues.push(...siteHostIssues(interpolated.value, file, lineOf));
  issues.push(...tlsFileIssues(interpolated.value, file, lineOf));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return resolvePaths(parsed.data, file);
}

function zodIssues(
  error: z.ZodError,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      // One issue per key, at the key's own line: the operator deletes or renames exactly that line.
      return issue.keys.map((key) => ({
        file,
        path: formatPath([...issue.path, key]),
        line: lineOf([...issue.path, key]),
        message: `unknown key "${key}"`,
      }));
    }
    return [{ file, path: formatPath(issue.path), line: lineOf(issue.path), message: issue.message }];
  });
}

// Runs on the raw document, so host problems are reported even when other keys are invalid too.
function siteHostIssues(
  document: unknown,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  const sites = (document as { sites?: unknown } | null)?.sites;
  if (!Array.isArray(sites)) return issues;
  sites.forEach((site: { hosts?: unknown } | null, siteIndex) => {
    if (!Array.isArray(site?.hosts)) return;
    site.hosts.forEach((raw: unknown, hostIndex) => {
      if (typeof raw !== 'string') return;
      const path = ['sites', siteIndex, 'hosts', hostIndex];
      const parsed = parseSiteHost(raw);
      if (!parsed.ok) {
        issues.push({ file, path: formatPath(path), line: lineOf(path), message: parsed.reason });
        return;
      }
      const previous = seen.get(parsed.pattern);
      if (previous !== undefined) {
        const message = `host "${parsed.pattern}" is already served by ${previous}`;
        issues.push({ file, path: formatPath(path), line: lineOf(path), message });
      }
      seen.set(parsed.pattern, formatPath(path));
    });
  });
  return issues;
}

// Every certificate pair is loaded as the edge will load it, so `edge451 check` and a SIGHUP refuse a
// missing file, a garbage PEM or a key of another certificate before a handshake would fail on it.
function tlsFileIssues(
  document: unknown,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): ConfigIssue[] {
  const root = document as { listen?: unknown; sites?: unknown } | null;
  const listeners = Array.isArray(root?.listen) ? root.listen : [root?.listen];
  const sites = Array.isArray(root?.sites) ? root.sites : [];
  const places = [
    ...listeners.map((value, index) => ({
      path: Array.isArray(root?.listen) ? ['listen', index] : ['listen'],
      value,
    })),
    ...sites.map((value, index) => ({ path: ['sites', index], value })),
  ];
  const base = dirname(file);
  return places.flatMap(({ path, value }): ConfigIssue[] => {
    const tls = (value as { tls?: { cert?: unknown; key?: unknown } } | null)?.tls;
    if (typeof tls?.cert !== 'string' || typeof tls.key !== 'string' || tls.cert === '' || tls.key === '') {
      return [];
    }
    try {
      loadCertificatePair({ cert: resolve(base, tls.cert), key: resolve(base, tls.key) });
      return [];
    } catch (error) {
      if (!(error instanceof CertificateProblem)) throw error;
      const at = [...path, 'tls', error.field];
      return [{ file, path: formatPath(at), line: lineOf(at), message: error.message }];
    }
  });
}

function resolvePaths(config: ConfigInput, file: string): EdgeConfig {
  const base = dirname(file);
  const resolveTls = (tls: TlsFilesConfig): TlsFilesConfig => ({
    cert: resolve(base, tls.cert),
    key: resolve(base, tls.key),
  });
  const resolveListener = (listener: ListenerConfig): ListenerConfig =>
    listener.tls === undefined ? listener : { ...listener, tls: resolveTls(listener.tls) };
  const listeners = (Array.isArray(config.listen) ? config.listen : [config.listen]).map(resolveListener);
  return {
    ...config,
    file,
    listen: Array.isArray(config.listen) ? listeners : (listeners[0] as ListenerConfig),
    listeners,
    sites: config.sites.map((site) =>
      site.tls === undefined ? site : { ...site, tls: resolveTls(site.tls) },
    ),
    geoip: { ...config.geoip, database: config.geoip.database && resolve(base, config.geoip.database) },
    policy: { ...config.policy, files: config.policy.files.map((policyFile) => resolve(base, policyFile)) },
    state: { dir: resolve(base, config.state.dir ?? '.edge451-state') },
  };
}
