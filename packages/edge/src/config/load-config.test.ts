import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseConfigText } from './load-config.js';

const minimal = `
sites:
  - hosts: [www.example.com]
    origin: http://10.0.0.5:8080
legal:
  blockedBy: https://edge.example/legal
`;

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, '/etc/edge451/edge451.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

describe('parseConfigText', () => {
  it('fills the defaults and resolves relative paths against the config folder', () => {
    const config = parseConfigText(
      `${minimal}policy:\n  files: [policy.yaml]\n`,
      '/etc/edge451/edge451.yaml',
      {},
    );
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin.port).toBe(9451);
    expect(config.policy.files).toEqual(['/etc/edge451/policy.yaml']);
    expect(config.state.dir).toBe('/etc/edge451/.edge451-state');
    expect(config.cache).toEqual({ maxBytes: 268435456, maxEntryBytes: 8388608 });
    expect(config.clientTimeouts).toEqual({
      handshakeMs: 10_000,
      headersMs: 20_000,
      requestMs: 300_000,
      keepAliveMs: 75_000,
      sendMs: 60_000,
    });
  });

  it('reports every problem with file, line, path and what was expected', () => {
    const text = `
listen:
  port: 99999
colour: blue
sites:
  - hosts: [www.example.com, 'bad host']
    origin: ftp://origin
legal: {}
`;
    expect(issuesOf(text)).toMatchInlineSnapshot(`
      [
        "/etc/edge451/edge451.yaml:3: listen.port: expected a port number from 0 to 65535",
        "/etc/edge451/edge451.yaml:7: sites[0].origin: expected an http:// or https:// origin URL without a path, such as http://10.0.0.5:8080",
        "/etc/edge451/edge451.yaml:8: legal.blockedBy: expected the URL of the page that explains blocks (RFC 7725 blocked-by)",
        "/etc/edge451/edge451.yaml:4: colour: unknown key "colour"",
        "/etc/edge451/edge451.yaml:6: sites[0].hosts[1]: expected a host name, IP literal or *.name: host contains whitespace",
      ]
    `);
  });

  it('rewrites redirects to the origin unless a site turns it off, and wants a boolean', () => {
    const sites = (rewriteRedirects: string) => `
sites:
  - hosts: [a.example]
    origin: http://10.0.0.5:8080
  - hosts: [b.example]
    origin: http://10.0.0.5:8080
    rewriteRedirects: ${rewriteRedirects}
legal:
  blockedBy: https://edge.example/legal
`;
    const config = parseConfigText(sites('false'), '/etc/edge451/edge451.yaml', {});
    expect(config.sites.map((site) => site.rewriteRedirects)).toEqual([true, false]);
    expect(issuesOf(sites('no'))).toEqual([
      '/etc/edge451/edge451.yaml:7: sites[1].rewriteRedirects: Invalid input: expected boolean, received string',
    ]);
  });

  it('checks site hosts with the product host rule and refuses a host served twice', () => {
    const text = `
sites:
  - hosts: [www.example.com, 'bad host']
    origin: http://a
  - hosts: ['WWW.Example.com.']
    origin: http://b
legal:
  blockedBy: https://edge.example/legal
`;
    const issues = issuesOf(text);
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(
      /^\/etc\/edge451\/edge451\.yaml:3: sites\[0\]\.hosts\[1\]: expected a host name/,
    );
    expect(issues[1]).toBe(
      '/etc/edge451/edge451.yaml:5: sites[1].hosts[0]: host "www.example.com" is already served by sites[0].hosts[0]',
    );
  });

  it('interpolates environment variables, with defaults, numbers included', () => {
    const text = `${minimal}listen:\n  port: \${PORT}\n  host: \${HOST:-127.0.0.1}\n`;
    expect(parseConfigText(text, '/x/edge451.yaml', { PORT: '8088' }).listen).toEqual({
      host: '127.0.0.1',
      port: 8088,
    });
  });

  it('takes every numeric field from an environment variable, and says what a bad one should be', () => {
    const text = `
sites:
  - hosts: [www.example.com]
    origin: http://10.0.0.5:8080
    connections: \${CONNECTIONS}
legal:
  blockedBy: https://edge.example/legal
workers: \${WORKERS}
cache:
  maxBytes: \${CACHE_BYTES}
log:
  sampleRate: \${SAMPLE}
`;
    const env = { CONNECTIONS: '16', WORKERS: '2', CACHE_BYTES: '1048576', SAMPLE: '0.25' };
    const config = parseConfigText(text, '/x/edge451.yaml', env);
    expect(config.sites[0]?.connections).toBe(16);
    expect(config.workers).toBe(2);
    expect(config.cache).toEqual({ maxBytes: 1048576, maxEntryBytes: 8388608 });
    expect(config.log.sampleRate).toBe(0.25);
    expect(issuesOf(text, { ...env, WORKERS: 'many', CACHE_BYTES: '-1' })).toEqual([
      '/etc/edge451/edge451.yaml:8: workers: expected a number of workers from 1 to 256, or auto',
      '/etc/edge451/edge451.yaml:10: cache.maxBytes: expected a size in bytes',
    ]);
  });

  it('takes client timeouts from numbers or variables, and refuses 0, fractions, over a day and unknown keys', () => {
    const text = `${minimal}clientTimeouts:\n  headersMs: \${HEADERS_MS}\n  requestMs: 1500\n  keepAliveMs: \${KEEP_ALIVE_MS}\n`;
    const config = parseConfigText(text, '/x/edge451.yaml', { HEADERS_MS: '500', KEEP_ALIVE_MS: '1000' });
    expect(config.clientTimeouts).toEqual({
      handshakeMs: 10_000,
      headersMs: 500,
      requestMs: 1500,
      keepAliveMs: 1000,
      sendMs: 60_000,
    });
    expect(
      parseConfigText(`${minimal}clientTimeouts:\n  sendMs: 2500\n`, '/x.yaml', {}).clientTimeouts.sendMs,
    ).toBe(2_500);
    expect(issuesOf(`${minimal}clientTimeouts:\n  sendMs: 0\n`)).toEqual([
      '/etc/edge451/edge451.yaml:8: clientTimeouts.sendMs: expected a duration in milliseconds from 1 to 86400000 (a day)',
    ]);
    const expected = 'expected a duration in milliseconds from 1 to 86400000 (a day)';
    expect(issuesOf(text, { HEADERS_MS: '0', KEEP_ALIVE_MS: '2.5' })).toEqual([
      `/etc/edge451/edge451.yaml:8: clientTimeouts.headersMs: ${expected}`,
      `/etc/edge451/edge451.yaml:10: clientTimeouts.keepAliveMs: ${expected}`,
    ]);
    expect(issuesOf(`${minimal}clientTimeouts:\n  keepAliveMs: 86400001\n  idleMs: 5\n`)).toEqual([
      `/etc/edge451/edge451.yaml:8: clientTimeouts.keepAliveMs: ${expected}`,
      '/etc/edge451/edge451.yaml:9: clientTimeouts.idleMs: unknown key "idleMs"',
    ]);
  });

  it('takes workerConfirmMs (default 5 s) from 1 s to a day, so a busy worker is not taken for a hung one', () => {
    expect(parseConfigText(minimal, '/x.yaml', {}).workerConfirmMs).toBe(5_000);
    expect(
      parseConfigText(`${minimal}workerConfirmMs: \${MS}\n`, '/x.yaml', { MS: '1000' }).workerConfirmMs,
    ).toBe(1_000);
    const expected = 'expected a duration in milliseconds from 1000 to 86400000 (a day)';
    for (const value of ['999', '86400001', '1500.5', 'soon']) {
      expect(issuesOf(`${minimal}workerConfirmMs: ${value}\n`)).toEqual([
        `/etc/edge451/edge451.yaml:7: workerConfirmMs: ${expected}`,
      ]);
    }
  });

  it('takes workerStartMs (default 30 s, a slow cold fork) with the range of workerConfirmMs', () => {
    expect(parseConfigText(minimal, '/x.yaml', {}).workerStartMs).toBe(30_000);
    expect(parseConfigText(`${minimal}workerStartMs: 2000\n`, '/x.yaml', {}).workerStartMs).toBe(2_000);
    expect(issuesOf(`${minimal}workerStartMs: 999\n`)).toEqual([
      '/etc/edge451/edge451.yaml:7: workerStartMs: expected a duration in milliseconds from 1000 to 86400000 (a day)',
    ]);
  });

  it('refuses a headers timeout longer than the request timeout, the default one included', () => {
    expect(issuesOf(`${minimal}clientTimeouts:\n  headersMs: 2000\n  requestMs: 1500\n`)).toEqual([
      '/etc/edge451/edge451.yaml:8: clientTimeouts.headersMs: expected at most clientTimeouts.requestMs (1500), which includes the headers; it is 2000',
    ]);
    // Lowering only requestMs below the default headers timeout is the same mistake.
    expect(issuesOf(`${minimal}clientTimeouts:\n  requestMs: 10000\n`)).toEqual([
      '/etc/edge451/edge451.yaml:8: clientTimeouts.headersMs: expected at most clientTimeouts.requestMs (10000), which includes the headers; it is 20000',
    ]);
    expect(
      parseConfigText(`${minimal}clientTimeouts:\n  headersMs: 1500\n  requestMs: 1500\n`, '/x.yaml', {}),
    ).toMatchObject({ clientTimeouts: { headersMs: 1500, requestMs: 1500 } });
  });

  it('names the variable an interpolation needed and did not find', () => {
    expect(issuesOf(`${minimal}listen:\n  port: \${PORT}\n`)).toEqual([
      `/etc/edge451/edge451.yaml:8: listen.port: expected environment variable PORT to be set (referenced as \${PORT})`,
    ]);
  });

  it('does not let an environment value inject YAML structure', () => {
    const text = `${minimal}log:\n  level: \${LEVEL}\n`;
    expect(issuesOf(text, { LEVEL: 'info\nworkers: 64' })[0]).toMatch(/log\.level/);
  });

  it('reports invalid YAML with its line', () => {
    expect(issuesOf('sites: [\n')[0]).toMatch(/^\/etc\/edge451\/edge451\.yaml:\d+: \(root\): invalid YAML/);
  });
});
