import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  clientIps,
  forwardedClientIp,
  motogpHosts,
  motogpOrder,
  statusThroughEdge,
} from './support/blocking-order.js';
import { adminToken, countryTestDatabase, runCli, startEdge, tempDir, testConfig } from './support/edge.js';
import { send } from './support/http.js';
import { startOrigin } from './support/origin.js';

// The `edge451` binary as an operator runs it: check, decide, start, and its signals.

/** A folder holding a valid config (`edge451.yaml`) and a policy file with the MotoGP order. */
async function validSetup(policy: object = { orders: [motogpOrder] }) {
  const config = testConfig({
    sites: [{ name: 'streams', hosts: [...motogpHosts, 'news.example'], origin: 'http://127.0.0.1:9' }],
    policy: { files: ['policy.yaml'] },
  });
  const dir = await tempDir({ 'edge451.yaml': config, 'policy.yaml': policy });
  return { dir, configFile: join(dir, 'edge451.yaml') };
}

/** Replaces the temporary folder in a report so snapshots do not depend on it. */
function exampleAbsolute(path: string): string {
  return fileURLToPath(new URL(`../${path}`, import.meta.url));
}

function withoutDir(text: string, dir: string): string {
  return text.replaceAll(dir, '<dir>');
}

describe('edge451 check', () => {
  it('exits 0 with a one-line summary on a valid config', async () => {
    const { dir, configFile } = await validSetup();
    const result = await runCli(['check', '--config', configFile]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(withoutDir(result.stdout, dir)).toBe(
      '<dir>/edge451.yaml: OK (1 site(s), 1 order(s), 3 blocked host(s) from 1 policy file(s))\n',
    );
  });

  it('validates policy files alone with --policy, as compliance staff do before deploying', async () => {
    const valid = await runCli(['check', '--policy', exampleAbsolute('examples/policy.yaml')]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/OK \(2 order\(s\), 5 blocked host\(s\)\)/);

    const dir = await tempDir({
      'bad.yaml': {
        orders: [{ id: 'o1', authority: 'Court', reference: 'R', countries: ['FRA'], hosts: ['a.example'] }],
      },
    });
    const invalid = await runCli(['check', '--policy', join(dir, 'bad.yaml')]);
    expect(invalid.code).toBe(1);
    expect(withoutDir(invalid.stderr, dir)).toContain('<dir>/bad.yaml');
    expect(invalid.stderr).toContain('countries[0]');
  });

  it('exits 1 listing every config error with its file, line, path and expected value', async () => {
    const dir = await tempDir({
      'edge451.yaml': `listn:
  port: 8080
listen:
  host: 127.0.0.1
  port: 70000
sites:
  - hosts: [news.example]
    origin: ftp://origin.example/path
legal:
  contact: legal@edge.example
`,
    });
    const result = await runCli(['check', '--config', join(dir, 'edge451.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(withoutDir(result.stderr, dir)).toMatchInlineSnapshot(`
      "<dir>/edge451.yaml:5: listen.port: expected a port number from 0 to 65535
      <dir>/edge451.yaml:8: sites[0].origin: expected an http:// or https:// origin URL without a path, such as http://10.0.0.5:8080
      <dir>/edge451.yaml:10: legal.blockedBy: expected the URL of the page that explains blocks (RFC 7725 blocked-by)
      <dir>/edge451.yaml:2: listn: unknown key "listn"
      4 problem(s) found
      "
    `);
  });

  it('exits 1 naming the policy file, the order and the field for a bad policy file', async () => {
    const { dir, configFile } = await validSetup();
    await writeFile(
      join(dir, 'policy.yaml'),
      `orders:
  - id: fr-2025-motogp
    authority: Tribunal judiciaire de Paris
    reference: RG 25/00001
    countries: [FR, FRANCE]
    hosts: [motogpstream.me, 'not a host/']
`,
    );
    const result = await runCli(['check', '--config', configFile]);
    expect(result.code).toBe(1);
    const report = withoutDir(result.stderr, dir);
    expect(report).toContain('<dir>/policy.yaml');
    expect(report).toMatch(
      /^<dir>\/policy\.yaml:5: orders\[0\] \(id "fr-2025-motogp"\)\.countries\[1\]: expected .*"FRANCE"$/m,
    );
    expect(report).toMatch(
      /^<dir>\/policy\.yaml:6: orders\[0\] \(id "fr-2025-motogp"\)\.hosts\[1\]: expected .*"not a host\/"/m,
    );
    expect(report).toMatch(/^2 problem\(s\) found$/m);
  });

  it('exits 1 with a clear message when the config file does not exist', async () => {
    const dir = await tempDir();
    const result = await runCli(['check', '--config', join(dir, 'absent.yaml')]);
    expect(result.code).toBe(1);
    expect(withoutDir(result.stderr, dir)).toBe(
      '<dir>/absent.yaml: (root): cannot read the config file (ENOENT)\n1 problem(s) found\n',
    );
  });

  it('exits 1 naming a policy file the config lists but that does not exist', async () => {
    const { dir, configFile } = await validSetup();
    await writeFile(
      configFile,
      stringify({
        ...testConfig({}),
        sites: [{ hosts: ['news.example'], origin: 'http://127.0.0.1:9' }],
        policy: { files: ['absent-policy.yaml'] },
      }),
    );
    const result = await runCli(['check', '--config', configFile]);
    expect(result.code).toBe(1);
    expect(withoutDir(result.stderr, dir)).toContain('<dir>/absent-policy.yaml');
  });

  it(`interpolates \${ENV} and \${ENV:-default} from the environment`, async () => {
    const { dir } = await validSetup();
    await writeFile(
      join(dir, 'edge451.yaml'),
      `listen:
  host: 127.0.0.1
  port: \${EDGE451_TEST_PORT}
geoip:
  database: ${countryTestDatabase}
sites:
  - hosts: [news.example]
    origin: \${EDGE451_TEST_ORIGIN:-http://127.0.0.1:9}
policy:
  files: ['\${EDGE451_TEST_POLICY_FILE}']
legal:
  blockedBy: https://edge.example/legal
`,
    );
    const result = await runCli(['check', '--config', join(dir, 'edge451.yaml')], {
      EDGE451_TEST_PORT: '8080',
      EDGE451_TEST_POLICY_FILE: 'policy.yaml',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The order count proves the policy file named by the variable was read.
    expect(withoutDir(result.stdout, dir)).toBe(
      '<dir>/edge451.yaml: OK (1 site(s), 1 order(s), 3 blocked host(s) from 1 policy file(s))\n',
    );
  });

  it('names a variable the environment does not set, with the path and line that use it', async () => {
    const { dir } = await validSetup();
    await writeFile(
      join(dir, 'edge451.yaml'),
      `sites:
  - hosts: [news.example]
    origin: http://127.0.0.1:9
    headers:
      response:
        x-operator: \${EDGE451_TEST_UNSET_VARIABLE}
legal:
  blockedBy: https://edge.example/legal
`,
    );
    const result = await runCli(['check', '--config', join(dir, 'edge451.yaml')], {
      EDGE451_TEST_UNSET_VARIABLE: undefined,
    });
    expect(result.code).toBe(1);
    expect(withoutDir(result.stderr, dir)).toBe(
      '<dir>/edge451.yaml:6: sites[0].headers.response.x-operator: expected environment variable ' +
        `EDGE451_TEST_UNSET_VARIABLE to be set (referenced as \${EDGE451_TEST_UNSET_VARIABLE})\n1 problem(s) found\n`,
    );
  });

  it('an environment value cannot inject YAML structure', async () => {
    const { dir, configFile } = await validSetup();
    await writeFile(
      configFile,
      `sites:
  - hosts: [news.example]
    origin: http://127.0.0.1:9
legal:
  blockedBy: https://edge.example/legal
  contact: \${EDGE451_TEST_CONTACT}
policy:
  files: [policy.yaml]
`,
    );
    const result = await runCli(['check', '--config', configFile], {
      // Were the value pasted into the YAML text, `injected` would be an unknown top-level key (exit 1).
      EDGE451_TEST_CONTACT: 'legal@edge.example\ninjected: true',
    });
    expect(result.code).toBe(0);
    expect(withoutDir(result.stdout, dir)).toMatch(/^<dir>\/edge451\.yaml: OK/);
  });
});

describe('edge451 decide', () => {
  it('prints the decision for an IP as JSON with the order and countrySource "database"', async () => {
    const { configFile } = await validSetup();
    const result = await runCli([
      'decide',
      '--config',
      configFile,
      '--host',
      'motogpstream.me',
      '--ip',
      clientIps.FR,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      blocked: true,
      host: 'motogpstream.me',
      order: { id: motogpOrder.id, authority: motogpOrder.authority, reference: motogpOrder.reference },
      client: { ip: clientIps.FR, country: 'FR', countrySource: 'database' },
    });
  });

  it('prints the decision for a given country, normalising the host', async () => {
    const { configFile } = await validSetup();
    const blocked = await runCli([
      'decide',
      '--config',
      configFile,
      '--host',
      'LiveTV821.me.',
      '--country',
      'fr',
    ]);
    expect(blocked.code).toBe(0);
    expect(JSON.parse(blocked.stdout)).toMatchObject({
      blocked: true,
      host: 'livetv821.me',
      order: { id: motogpOrder.id },
      client: { ip: null, country: 'FR', countrySource: 'given' },
    });
    const allowed = await runCli([
      'decide',
      '--config',
      configFile,
      '--host',
      'livetv821.me',
      '--country',
      'GB',
    ]);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      blocked: false,
      reason: 'country-not-covered',
      client: { country: 'GB', countrySource: 'given' },
    });
  });

  it('--at decides at another instant: before the order starts nothing is blocked', async () => {
    const { configFile } = await validSetup();
    const args = ['decide', '--config', configFile, '--host', 'motogpstream.me', '--country', 'FR'];
    const before = await runCli([...args, '--at', '2025-03-27T23:59:59Z']);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ blocked: false, at: '2025-03-27T23:59:59.000Z' });
    const onTheDay = await runCli([...args, '--at', '2025-03-28T00:00:00Z']);
    expect(JSON.parse(onTheDay.stdout)).toMatchObject({ blocked: true, order: { id: motogpOrder.id } });
  });

  it('decides with the admin changes stored in the state directory, like a running node', async () => {
    const origin = await startOrigin();
    const config = testConfig({
      sites: [{ hosts: [...motogpHosts, 'motogpstream2.me'], origin: origin.url }],
      policy: { files: ['policy.yaml'] },
    });
    const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
    const notified = await send(`${edge.adminUrl}/orders/${motogpOrder.id}/notifications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hosts: ['motogpstream2.me'], notifiedBy: 'ARCOM', reference: 'n°7' }),
    });
    expect(notified.status).toBe(200);
    expect(await edge.stop('SIGTERM')).toBe(0);

    const result = await runCli([
      'decide',
      '--config',
      edge.configFile,
      '--host',
      'motogpstream2.me',
      '--country',
      'FR',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ blocked: true, order: { id: motogpOrder.id } });
  });

  it('exits 2 on bad arguments, saying what was expected', async () => {
    const { configFile } = await validSetup();
    const decide = ['decide', '--config', configFile, '--host', 'motogpstream.me'];
    const cases: Array<{ label: string; args: string[]; stderr: RegExp }> = [
      { label: 'decide without --ip or --country', args: decide, stderr: /one of --ip IP or --country CC/ },
      {
        label: 'decide with both --ip and --country',
        args: [...decide, '--ip', clientIps.FR, '--country', 'FR'],
        stderr: /one of --ip IP or --country CC/,
      },
      {
        label: 'decide without --config',
        args: ['decide', '--host', 'motogpstream.me', '--country', 'FR'],
        stderr: /expected --config FILE/,
      },
      {
        label: 'decide with a bad --at',
        args: [...decide, '--country', 'FR', '--at', 'yesterday'],
        stderr: /expected --at to be an RFC 3339 instant, got "yesterday"/,
      },
      { label: 'check without --config', args: ['check'], stderr: /expected --config FILE/ },
      {
        label: 'an unknown option',
        args: ['check', '--config', configFile, '--verbose'],
        stderr: /--verbose/,
      },
      { label: 'an unknown command', args: ['frobnicate'], stderr: /unknown command "frobnicate"/ },
    ];
    for (const { label, args, stderr } of cases) {
      const result = await runCli(args);
      expect({ label, code: result.code }).toEqual({ label, code: 2 });
      expect(result.stderr).toMatch(stderr);
    }
  });
});

describe('edge451 start', () => {
  it('exits 1 with every config issue on stderr when the config is invalid', async () => {
    const dir = await tempDir({
      'edge451.yaml': `listen:
  port: not-a-port
sites: []
legal:
  blockedBy: not a url
`,
    });
    const result = await runCli(['start', '--config', join(dir, 'edge451.yaml')]);
    expect(result.code).toBe(1);
    const report = withoutDir(result.stderr, dir);
    expect(report).toContain('<dir>/edge451.yaml:2: listen.port: expected a port number');
    expect(report).toContain('<dir>/edge451.yaml:3: sites: expected at least one site');
    expect(report).toContain(
      '<dir>/edge451.yaml:5: legal.blockedBy: expected the URL of the page that explains blocks',
    );
    expect(report).toMatch(/^3 problem\(s\) found$/m);
  });

  it('exits 1 with the policy issues on stderr when a policy file is invalid', async () => {
    const { dir, configFile } = await validSetup({ orders: [{ ...motogpOrder, countries: ['FRANCE'] }] });
    const result = await runCli(['start', '--config', configFile], {}, 10_000);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(withoutDir(result.stderr, dir)).toMatch(
      /<dir>\/policy\.yaml(:\d+)?: orders\[0\] \(id "fr-2025-motogp"\)\.countries\[0\]/,
    );
  });

  it('a config that names no policy file is valid: the node starts with an empty policy', async () => {
    const origin = await startOrigin();
    // policy.files defaults to [] in the config schema, and orders can come from the admin API alone.
    const config = testConfig({ sites: [{ hosts: ['news.example'], origin: origin.url }] });
    const dir = await tempDir({ 'edge451.yaml': config });
    const check = await runCli(['check', '--config', join(dir, 'edge451.yaml')]);
    expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: '' });
    const edge = await startEdge(config);
    expect((await send(`${edge.url}/`, { headers: { host: 'news.example' } })).status).toBe(200);
  });

  it('SIGHUP reloads the policy files; an invalid reload is refused and the running policy stays', async () => {
    const origin = await startOrigin();
    const config = testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'streams', hosts: [...motogpHosts, 'news.example'], origin: origin.url }],
      policy: { files: ['policy.yaml'] },
    });
    const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
    const policyFile = join(edge.dir, 'policy.yaml');
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.FR)).toBe(200);

    const newsOrder = {
      ...motogpOrder,
      id: 'fr-2025-news',
      reference: 'RG 25/00003',
      hosts: ['news.example'],
    };
    await writeFile(policyFile, stringify({ orders: [motogpOrder, newsOrder] }));
    edge.process.kill('SIGHUP');
    await edge.waitForLog((line) => line.msg === 'reloaded');
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.GB)).toBe(200);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);

    // Were it applied, this file would unblock every MotoGP host and news.example.
    await writeFile(policyFile, stringify({ orders: [{ ...newsOrder, countries: ['FRANCE'] }] }));
    edge.process.kill('SIGHUP');
    const refused = await edge.waitForLog((line) => line.msg === 'reload refused; the running config stays');
    expect(refused.level).toBe(50);
    expect(JSON.stringify(refused.issues)).toContain(policyFile);
    expect(JSON.stringify(refused.issues)).toContain('countries[0]');
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.GB)).toBe(200);
    for (const host of motogpHosts) expect(await statusThroughEdge(edge.url, host, clientIps.FR)).toBe(451);
  });

  it('SIGHUP with an invalid config file is refused and the node keeps serving with the running config', async () => {
    const origin = await startOrigin();
    const config = testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'streams', hosts: [...motogpHosts, 'news.example'], origin: origin.url }],
      policy: { files: ['policy.yaml'] },
    });
    const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
    await writeFile(edge.configFile, stringify({ ...config, sites: [], policy: { files: [] } }));
    edge.process.kill('SIGHUP');
    const refused = await edge.waitForLog((line) => line.msg === 'reload refused; the running config stays');
    expect(JSON.stringify(refused.issues)).toContain('expected at least one site');
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);
  });

  it('SIGHUP names the changes that wait for a restart: listeners, and whether they read PROXY headers', async () => {
    const origin = await startOrigin();
    const config = testConfig({
      clientIp: forwardedClientIp,
      sites: [{ name: 'streams', hosts: ['news.example'], origin: origin.url }],
      policy: { files: ['policy.yaml'] },
    });
    const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
    const reloaded = {
      ...config,
      listen: { host: '127.0.0.1', port: 1 },
      clientIp: { ...forwardedClientIp, source: 'proxy-protocol' },
    };
    await writeFile(edge.configFile, stringify(reloaded));
    edge.process.kill('SIGHUP');
    const warning = await edge.waitForLog(
      (line) => line.msg === 'these config changes take effect on restart only',
    );
    expect(warning.keys).toEqual(['listen', 'clientIp.source']);
    expect(await statusThroughEdge(edge.url, 'news.example', clientIps.US)).toBe(200);
  });

  it('SIGTERM stops accepting, lets a request in flight to a slow origin finish with 200, and exits 0', async () => {
    let originReceived: () => void = () => undefined;
    const received = new Promise<void>((resolve) => {
      originReceived = resolve;
    });
    const origin = await startOrigin((_req, res) => {
      originReceived();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow but complete\n');
      }, 500);
    });
    const edge = await startEdge(
      testConfig({
        sites: [{ hosts: ['news.example'], origin: origin.url }],
        policy: { files: ['policy.yaml'] },
        shutdown: { drainMs: 5_000 },
      }),
      { 'policy.yaml': { orders: [motogpOrder] } },
    );

    const inFlight = send(`${edge.url}/slow`, { headers: { host: 'news.example' } });
    await received;
    const exited = edge.stop('SIGTERM');
    await edge.waitForLog((line) => line.msg === 'draining');
    // The listener is closed: a new client is refused while the old request drains.
    await expect(send(`${edge.url}/late`, { headers: { host: 'news.example' } })).rejects.toThrow();

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.body).toBe('slow but complete\n');
    expect(await exited).toBe(0);
    expect(origin.requests.map((request) => request.url)).toEqual(['/slow']);
  });
});
