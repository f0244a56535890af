import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compilePolicy } from './compile.js';
import { PolicyValidationError } from './errors.js';
import { loadPolicyFiles, parsePolicyText } from './load.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/policy.yaml', import.meta.url));

/** The error a call throws, failing the test if it does not throw one. */
function errorOf(action: () => unknown): PolicyValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyValidationError) return error;
    throw error;
  }
  throw new Error('expected a PolicyValidationError');
}

async function rejectionOf(promise: Promise<unknown>): Promise<PolicyValidationError> {
  const error = await promise.then(
    () => new Error('expected a PolicyValidationError'),
    (reason: unknown) => reason,
  );
  if (error instanceof PolicyValidationError) return error;
  throw error;
}

async function directory(files: Record<string, string>): Promise<(name: string) => string> {
  const path = await mkdtemp(join(tmpdir(), 'edge451-policy-'));
  onTestFinished(() => rm(path, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(path, name), text);
  return (name) => join(path, name);
}

describe('examples/policy.yaml', () => {
  it('parses, and its MotoGP order blocks France only during the 2025 season', async () => {
    const document = await loadPolicyFiles([EXAMPLE]);
    const policy = compilePolicy(document);
    expect(policy.orders.map((order) => order.id)).toEqual(['fr-2025-motogp', 'demo-451']);
    const during = Date.parse('2025-06-01T12:00:00Z');
    for (const host of ['tarjetarojaenvivo.lat', 'MotoGPStream.ME.', 'livetv821.me:443']) {
      expect(policy.decide({ host, country: 'FR', at: during })).toMatchObject({
        blocked: true,
        reason: 'order-match',
      });
      expect(policy.decide({ host, country: 'RE', at: during }).blocked).toBe(true);
      expect(policy.decide({ host, country: 'DE', at: during }).reason).toBe('country-not-covered');
    }
    const today = Date.parse('2026-11-29T12:00:00Z');
    expect(policy.decide({ host: 'motogpstream.me', country: 'FR', at: today }).reason).toBe(
      'outside-window',
    );
  });

  it('blocks the demo hosts today from FR and GB, and nowhere else', async () => {
    const policy = compilePolicy(parsePolicyText(await readFile(EXAMPLE, 'utf8'), { file: EXAMPLE }));
    const today = Date.parse('2026-11-29T12:00:00Z');
    for (const country of ['FR', 'GB']) {
      expect(policy.decide({ host: 'blocked.demo.edge451.test', country, at: today })).toMatchObject({
        blocked: true,
        order: { id: 'demo-451', authority: 'edge451 demo' },
      });
      expect(policy.decide({ host: 'a.b.blocked.demo.edge451.test', country, at: today })).toMatchObject({
        blocked: true,
        matchedHost: '*.blocked.demo.edge451.test',
      });
    }
    expect(policy.decide({ host: 'blocked.demo.edge451.test', country: 'US', at: today }).blocked).toBe(
      false,
    );
    expect(policy.decide({ host: 'demo.edge451.test', country: 'FR', at: today }).reason).toBe('no-order');
  });
});

describe('parsePolicyText', () => {
  it('reports YAML syntax errors with the file and line', () => {
    const error = errorOf(() =>
      parsePolicyText('orders:\n  - id: a\n    id: b\n  - [unclosed\n', { file: 'policy.yaml' }),
    );
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.issues).toEqual([
      { file: 'policy.yaml', line: 3, path: '', message: 'invalid YAML: Map keys must be unique' },
      expect.objectContaining({ file: 'policy.yaml', line: 5, path: '' }),
    ]);
  });

  it('reports JSON syntax errors with the file and line', () => {
    const error = errorOf(() => parsePolicyText('{\n  "orders": [],\n}\n', { file: 'policy.json' }));
    expect(error.issues).toEqual([
      { file: 'policy.json', line: 3, path: '', message: expect.stringMatching(/^invalid JSON: /) },
    ]);
  });

  it('reports every validation problem with its file, line, order and field', () => {
    const text = [
      'unknownCountry: maybe',
      'orders:',
      '  - id: fr-2025-motogp',
      '    authority: Tribunal judiciaire de Paris',
      '    reference: RG 25/00000',
      '    countries: [FR, UK]',
      '    hosts:',
      '      - motogpstream.me',
      '      - "motogp stream.me"',
      '    from: "2025-03-28"',
      '  - id: fr-2025-motogp',
      '    authority: ""',
      '    reference: x',
      '    countries: [FR]',
      '    hosts: []',
      '    colour: blue',
      '',
    ].join('\n');
    const error = errorOf(() => parsePolicyText(text, { file: 'orders.yaml' }));
    expect(error.message).toMatchInlineSnapshot(`
      "policy is invalid (8 problems):
        - orders.yaml:1: unknownCountry: expected one of "allow", "block", found "maybe"
        - orders.yaml:10: orders[0] (id "fr-2025-motogp").from: expected an RFC 3339 date-time with an offset, such as "2025-03-28T00:00:00Z", found "2025-03-28"
        - orders.yaml:9: orders[0] (id "fr-2025-motogp").hosts[1]: expected a host name such as "example.com" or "*.example.com", found "motogp stream.me": host contains whitespace
        - orders.yaml:6: orders[0] (id "fr-2025-motogp").countries[1]: expected an ISO 3166-1 alpha-2 country code, found "UK" (did you mean "GB"?)
        - orders.yaml:12: orders[1] (id "fr-2025-motogp").authority: expected a non-empty text, found ""
        - orders.yaml:16: orders[1] (id "fr-2025-motogp").colour: unknown key: expected one of id, authority, reference, url, countries, hosts, includeSubdomains, from, until, purgeCache
        - orders.yaml:15: orders[1] (id "fr-2025-motogp").hosts: expected at least 1 entry, found none
        - orders.yaml:11: orders[1] (id "fr-2025-motogp").id: duplicate order id: also used by orders.yaml orders[0] (id "fr-2025-motogp")"
    `);
  });

  it('gives validation problems of a JSON file their line too', () => {
    const text =
      '{\n  "orders": [\n    {\n      "id": "a",\n      "hosts": ["ok.example", "bad host"]\n    }\n  ]\n}\n';
    const error = errorOf(() => parsePolicyText(text, { file: 'p.json' }));
    expect(error.issues).toContainEqual({
      file: 'p.json',
      line: 5,
      path: 'orders[0] (id "a").hosts[1]',
      message: expect.stringContaining('found "bad host": host contains whitespace'),
    });
  });

  it('refuses a document that is not a mapping', () => {
    expect(errorOf(() => parsePolicyText('', { file: 'empty.yaml' })).issues).toEqual([
      {
        file: 'empty.yaml',
        path: '',
        message: 'expected a policy document (a mapping with "orders"), found null',
      },
    ]);
    expect(errorOf(() => parsePolicyText('[1, 2]', { file: 'list.json' })).issues).toEqual([
      {
        file: 'list.json',
        line: 1,
        path: '',
        message: 'expected a policy document (a mapping with "orders"), found a list',
      },
    ]);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefghijk'.split('').map((key, index) => {
        const previous = String.fromCharCode(97 + index);
        return `${key}: &${key} [*${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}]`;
      }),
      'orders: []',
    ].join('\n');
    const error = errorOf(() => parsePolicyText(bomb, { file: 'bomb.yaml' }));
    expect(error.issues[0]).toMatchObject({
      file: 'bomb.yaml',
      message: expect.stringMatching(/^invalid YAML: .*alias/i),
    });
  });

  it('keeps YAML 1.2 scalars as written: NO is Norway, dates stay strings', () => {
    const text =
      'orders:\n  - id: no\n    authority: a\n    reference: r\n    countries: [NO]\n    hosts: [x.example]\n    from: 2025-01-01T00:00:00Z\n';
    const document = parsePolicyText(text, { file: 'norway.yaml' });
    expect(document.orders[0]).toMatchObject({ id: 'no', countries: ['NO'], from: '2025-01-01T00:00:00Z' });
  });

  it('reads JSON as YAML when told so, and the extension decides by default', () => {
    const text = '{"orders": []}';
    expect(parsePolicyText(text, { file: 'policy.txt' })).toEqual({ orders: [] });
    expect(parsePolicyText(text, { file: 'policy.yaml', format: 'json' })).toEqual({ orders: [] });
  });
});

describe('loadPolicyFiles', () => {
  const order = (id: string, host: string) =>
    `  - id: ${id}\n    authority: a\n    reference: r\n    countries: [FR]\n    hosts: [${host}]\n`;

  it('merges orders, groups and notifications of several files, in file order', async () => {
    const path = await directory({
      'a.yaml': `countryGroups:\n  BENELUX: [BE, NL, LU]\norders:\n${order('a', 'a.example')}`,
      'b.json': JSON.stringify({
        orders: [{ id: 'b', authority: 'a', reference: 'r', countries: ['benelux'], hosts: ['b.example'] }],
        notifications: [
          {
            orderId: 'a',
            hosts: ['mirror.example'],
            notifiedBy: 'ARCOM',
            reference: 'n1',
            at: '2025-04-01T00:00:00Z',
          },
        ],
      }),
    });
    const document = await loadPolicyFiles([path('a.yaml'), path('b.json')]);
    expect(document.orders.map((entry) => entry.id)).toEqual(['a', 'b']);
    expect(document.countryGroups).toEqual({ BENELUX: ['BE', 'LU', 'NL'] });
    const policy = compilePolicy(document);
    expect(policy.decide({ host: 'mirror.example', country: 'FR' })).toMatchObject({
      blocked: true,
      order: { id: 'a' },
    });
    expect(policy.decide({ host: 'b.example', country: 'LU' })).toMatchObject({
      blocked: true,
      order: { id: 'b' },
    });
  });

  it('refuses an order id used in two files, naming both files, and returns nothing', async () => {
    const path = await directory({
      'a.yaml': `orders:\n${order('fr-2025-motogp', 'a.example')}`,
      'b.yaml': `orders:\n${order('other', 'b.example')}${order('fr-2025-motogp', 'c.example')}`,
    });
    const error = await rejectionOf(loadPolicyFiles([path('a.yaml'), path('b.yaml')]));
    expect(error.issues).toEqual([
      {
        file: path('b.yaml'),
        line: 7,
        path: 'orders[1] (id "fr-2025-motogp").id',
        message: `duplicate order id: also used by ${path('a.yaml')} orders[0] (id "fr-2025-motogp")`,
      },
    ]);
  });

  it('refuses files that disagree on unknownCountry', async () => {
    const path = await directory({
      'a.yaml': 'unknownCountry: block\norders: []\n',
      'b.yaml': 'unknownCountry: allow\norders: []\n',
    });
    const error = await rejectionOf(loadPolicyFiles([path('a.yaml'), path('b.yaml')]));
    expect(error.issues).toEqual([
      {
        file: path('b.yaml'),
        line: 1,
        path: 'unknownCountry',
        message: `"allow" conflicts with "block" at ${path('a.yaml')} unknownCountry`,
      },
    ]);
  });

  it('reports unreadable, unparsable and invalid files together', async () => {
    const path = await directory({ 'bad.yaml': 'orders: [\n', 'invalid.yaml': 'orders: 3\n' });
    const error = await rejectionOf(
      loadPolicyFiles([path('missing.yaml'), path('bad.yaml'), path('invalid.yaml')]),
    );
    expect(error.issues.map((issue) => [issue.file, issue.path, issue.message.split(':')[0]])).toEqual([
      [path('missing.yaml'), '', 'cannot read the policy file (ENOENT)'],
      [path('bad.yaml'), '', 'invalid YAML'],
      [path('invalid.yaml'), 'orders', 'expected a list, found number 3'],
    ]);
  });

  it('refuses an empty list of files', async () => {
    const error = await rejectionOf(loadPolicyFiles([]));
    expect(error.issues).toEqual([{ path: '', message: 'expected at least one policy file, found none' }]);
  });
});
