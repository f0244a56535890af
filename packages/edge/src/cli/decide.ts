import { openCountryLocator } from '@edge451/geo';
import { loadConfig } from '../config/load-config.js';
import { EdgeError } from '../errors.js';
import { AuditLog } from '../runtime/audit-log.js';
import { explainDecision } from '../runtime/explain-decision.js';
import { PolicyState } from '../runtime/policy-state.js';
import { createLogger } from './logger.js';
import { issuesOf, reportIssues } from './report-issues.js';

type DecideOptions = { config?: string; host?: string; ip?: string; country?: string; at?: string };

/**
 * `edge451 decide`: the decision the node would take for (host, ip | country, at), as JSON, with the order
 * that matched and where the country came from. Uses the files and the stored admin changes, like `start`.
 */
export async function runDecide(options: DecideOptions): Promise<number> {
  const { config: configFile, host, ip, country } = options;
  if (configFile === undefined || host === undefined || (ip === undefined) === (country === undefined)) {
    process.stderr.write(
      'edge451 decide: expected --config FILE --host HOST and one of --ip IP or --country CC\n',
    );
    return 2;
  }
  const at = options.at === undefined ? Date.now() : Date.parse(options.at);
  if (Number.isNaN(at)) {
    process.stderr.write(`edge451 decide: expected --at to be an RFC 3339 instant, got "${options.at}"\n`);
    return 2;
  }
  try {
    const config = await loadConfig(configFile);
    const logger = createLogger('warn');
    const locator = await openCountryLocator({
      path: config.geoip.database,
      overrides: config.geoip.overrides,
      watch: false,
    });
    const state = await PolicyState.load(
      config.policy,
      await AuditLog.open(config.state.dir, { readOnly: true }),
      logger,
    );
    const result = explainDecision(state.current(), locator, { host, ip, country, at });
    locator.close();
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof EdgeError && error.source === 'client') {
      process.stderr.write(`edge451 decide: ${error.message}\n`);
      return 2;
    }
    const issues = issuesOf(error);
    if (issues === undefined) throw error;
    reportIssues(issues);
    return 1;
  }
}
