import { compilePolicy } from '@edge451/policy';
import { loadConfig } from '../config/load-config.js';
import { loadPolicySource } from '../runtime/policy-state.js';
import { issuesOf, reportIssues } from './report-issues.js';

/**
 * `edge451 check --config FILE`, like `nginx -t`: validates the config and every policy file it names.
 * `edge451 check --policy FILE...` validates policy files alone, for compliance staff editing orders.
 * Prints every problem (file, path, expected value) and returns 1, or a one-line summary and 0.
 */
export async function runCheck(configFile: string | undefined, policyFiles: string[] = []): Promise<number> {
  if ((configFile === undefined) === (policyFiles.length === 0)) {
    process.stderr.write('edge451 check: expected --config FILE or --policy FILE...\n');
    return 2;
  }
  try {
    if (configFile === undefined) {
      const policy = compilePolicy(await loadPolicySource(policyFiles));
      process.stdout.write(
        `${policyFiles.join(', ')}: OK (${policy.orders.length} order(s), ${policy.hostCount} blocked host(s))\n`,
      );
      return 0;
    }
    const config = await loadConfig(configFile);
    const document = await loadPolicySource(config.policy.files);
    const policy = compilePolicy(document, { unknownCountry: config.policy.unknownCountry });
    process.stdout.write(
      `${config.file}: OK (${config.sites.length} site(s), ${policy.orders.length} order(s), ` +
        `${policy.hostCount} blocked host(s) from ${config.policy.files.length} policy file(s))\n`,
    );
    return 0;
  } catch (error) {
    const issues = issuesOf(error);
    if (issues === undefined) throw error;
    reportIssues(issues);
    return 1;
  }
}
