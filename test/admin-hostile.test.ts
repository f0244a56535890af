import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type ChangeAnswer,
  callAdmin,
  type ErrorAnswer,
  notification,
  type PolicyView,
  policyVersion,
} from './support/admin.js';
import {
  clientIps,
  motogpHosts,
  motogpOrder,
  startBlockingEdge as startEdgeFor,
  statusThroughEdge,
} from './support/blocking-order.js';
import { answerThroughEdge, discoverWorkers, workerOf } from './support/cluster.js';
import { adminToken, type RunningEdge, reloadEdge, startEdge } from './support/edge.js';
import { sendRaw, statusOf } from './support/http.js';
import { writeBytes } from './support/origin.js';

// Hostile and unusual use of the admin API and of the policy-change path of the real binary: bodies and
// paths no well-behaved client sends, concurrent changes, a damaged or unwritable state directory, and
// what the node answers on traffic meanwhile. test/admin-api.test.ts covers the ordinary use.

const mirrorHost = 'motogpstream2.me';
const unrelatedHost = 'news.example';
const siteHosts = [...motogpHosts, mirrorHost, unrelatedHost, '*.mirrors.test'];
const refusedChange = 'policy change refused; the previous policy stays in force';

/** The blocking edge of these tests (support/blocking-order.ts) for this file's site hosts. */
const startBlockingEdge = (overrides: Record<string, unknown> = {}) => startEdgeFor(siteHosts, overrides);

/** Stops the node (SIGTERM, exit 0) and starts it again on the same folder: config, policy files, state. */
async function restart(edge: RunningEdge, config: Record<string, unknown>): Promise<RunningEdge> {
  expect(await edge.stop('SIGTERM')).toBe(0);
  return startEdge(config, {}, { dir: edge.dir });
}

function stateFile(edge: RunningEdge): string {
  return join(edge.dir, '.edge451-state', 'audit.jsonl');
}

async function auditChanges(edge: RunningEdge): Promise<AuditEntry[]> {
  const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit?limit=10000');
  return audit.json.entries.filter((entry) => entry.change !== undefined);
}

/** What a French client gets for each host, as one object (a diff names the host). */
async function frenchStatuses(edge: RunningEdge, hosts: readonly string[]): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  for (const host of hosts) statuses[host] = await statusThroughEdge(edge.url, host, clientIps.FR);
  return statuses;
}

const blockedAtStart = {
  'tarjetarojaenvivo.lat': 451,
  'motogpstream.me': 451,
  'livetv821.me': 451,
  [mirrorHost]: 200,
  [unrelatedHost]: 200,
};

/** The policy version, the stored changes and the traffic decisions are what they were at start-up. */
/** One accepted notification per host, in order, each to the MotoGP order. */
async function notifyEach(edge: RunningEdge, hosts: readonly string[]): Promise<void> {
  for (const host of hosts) {
    const answer = await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([host]),
    });
    expect(answer.status).toBe(200);
  }
}

/**
 * What a crash while the last change was written leaves: its entry cut 40 bytes before its newline, and
 * nothing after it (its in-force record is written only once the change is applied).
 */
async function tearLastChange(file: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const lastChange = text.lastIndexOf('"change":');
  const end = text.indexOf('\n', lastChange);
  await writeFile(file, text.slice(0, end - 40));
}

async function expectUnchanged(edge: RunningEdge, version: number): Promise<void> {
  expect(await policyVersion(edge)).toBe(version);
  expect(await auditChanges(edge)).toEqual([]);
  expect(await frenchStatuses(edge, Object.keys(blockedAtStart))).toEqual(blockedAtStart);
}

/** The body of a raw HTTP/1.1 response, de-chunked when it is chunked. */
function rawBody(raw: string): string {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  if (!/transfer-encoding: chunked/i.test(head)) return body;
  let text = '';
  let remaining = body;
  for (;;) {
    const newline = remaining.indexOf('\r\n');
    const size = Number.parseInt(remaining.slice(0, newline), 16);
    if (!(size > 0)) return text;
    text += remaining.slice(newline + 2, newline + 2 + size);
    remaining = remaining.slice(newline + 2 + size + 2);
  }
}

/** One raw request line on a new connection to the admin port; the status and the body. */
async function rawAdmin(
  edge: RunningEdge,
  method: string,
  target: string,
  authorized: boolean,
): Promise<{ status: number; body: string }> {
  const authorization = authorized ? `Authorization: Bearer ${adminToken}\r\n` : '';
  const raw = await sendRaw(
    edge.adminUrl,
    `${method} ${target} HTTP/1.1\r\nHost: admin\r\n${authorization}Connection: close\r\n\r\n`,
  );
  return { status: statusOf(raw), body: rawBody(raw) };
}

/** POST with a body of `bytes` bytes through node:http; resolves with the answer even if the upload is cut. */
async function postHuge(url: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': 'application/json',
        'content-length': String(bytes),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', () => undefined); // the server may stop reading once it has answered
    writeBytes(req, bytes, 0x20, 1024 * 1024);
  });
}

describe('hostile bodies', () => {
  it('each hostile body is a 400 saying what was wrong; nothing is stored and traffic is decided as before', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const notifyPath = `/orders/${motogpOrder.id}/notifications`;
    const replacement = { authority: 'x', reference: 'y', countries: ['FR'], hosts: ['motogpstream.me'] };
    const cases: Array<{
      label: string;
      method: string;
      path: string;
      rawBody: string;
      contentType?: string;
      expected: ErrorAnswer;
    }> = [
      {
        label: 'a form-encoded body',
        method: 'PUT',
        path: `/orders/${motogpOrder.id}`,
        rawBody: 'authority=x&reference=y&countries=FR&hosts=motogpstream.me',
        contentType: 'application/x-www-form-urlencoded',
        expected: {
          error: `expected a JSON body: Unexpected token 'a', "authority="... is not valid JSON`,
        },
      },
      {
        label: 'JSON null',
        method: 'POST',
        path: notifyPath,
        rawBody: 'null',
        expected: { error: 'expected a JSON object body' },
      },
      {
        label: 'a JSON string',
        method: 'PUT',
        path: `/orders/${motogpOrder.id}`,
        rawBody: '"motogpstream.me"',
        expected: { error: 'expected a JSON object body' },
      },
      {
        label: 'a lift body that is a list',
        method: 'DELETE',
        path: `/orders/${motogpOrder.id}/hosts/livetv821.me`,
        rawBody: '[]',
        expected: { error: 'expected a JSON object body' },
      },
      {
        label: '200,000 nested lists where a text is expected',
        method: 'POST',
        path: notifyPath,
        rawBody: `{"hosts":["${mirrorHost}"],"notifiedBy":"ARCOM","reference":${deep}}`,
        expected: {
          error: refusedChange,
          issues: [{ path: 'reference', message: 'expected a string, found a list' }],
        },
      },
      {
        label: 'a __proto__ key (which JSON.parse keeps as an own key)',
        method: 'POST',
        path: notifyPath,
        rawBody: `{"hosts":["${mirrorHost}"],"notifiedBy":"ARCOM","reference":"n°7","__proto__":{"at":"2025-01-01T00:00:00Z"}}`,
        expected: {
          error: refusedChange,
          issues: [
            {
              path: '__proto__',
              message: 'unknown key: expected one of orderId, hosts, notifiedBy, reference, at, type',
            },
          ],
        },
      },
      {
        label: 'a constructor key in an order',
        method: 'PUT',
        path: `/orders/${motogpOrder.id}`,
        rawBody: JSON.stringify({ ...replacement, constructor: { name: 'x' } }),
        expected: {
          error: refusedChange,
          issues: [
            {
              path: `order (id "${motogpOrder.id}").constructor`,
              message:
                'unknown key: expected one of id, authority, reference, url, countries, hosts, includeSubdomains, from, until, purgeCache',
            },
          ],
        },
      },
      {
        label: 'numbers where texts are expected',
        method: 'POST',
        path: notifyPath,
        rawBody: '{"hosts":[123],"notifiedBy":123,"reference":"n°7"}',
        expected: {
          error: refusedChange,
          issues: [
            { path: 'notifiedBy', message: 'expected a string, found number 123' },
            {
              path: 'hosts[0]',
              message:
                'expected a host name such as "example.com" or "*.example.com" or { host, includeSubdomains }, found number 123',
            },
          ],
        },
      },
      {
        label: 'one host where a list is expected',
        method: 'POST',
        path: notifyPath,
        rawBody: `{"hosts":"${mirrorHost}","notifiedBy":"ARCOM","reference":"n°7"}`,
        expected: {
          error: refusedChange,
          issues: [{ path: 'hosts', message: `expected a list, found "${mirrorHost}"` }],
        },
      },
      {
        label: 'a lift reference that is a number',
        method: 'DELETE',
        path: `/orders/${motogpOrder.id}/hosts/livetv821.me`,
        rawBody: '{"reference":5}',
        expected: {
          error: refusedChange,
          issues: [{ path: 'reference', message: 'expected a string, found number 5' }],
        },
      },
    ];
    for (const attempt of cases) {
      const answer = await callAdmin<ErrorAnswer>(edge, attempt.method, attempt.path, {
        rawBody: attempt.rawBody,
        ...(attempt.contentType === undefined ? {} : { contentType: attempt.contentType }),
      });
      expect({ label: attempt.label, status: answer.status, json: answer.json }).toEqual({
        label: attempt.label,
        status: 400,
        json: attempt.expected,
      });
    }
    await expectUnchanged(edge, version);
  });

  it('a body over 16 MiB is refused with 413, and the node keeps answering', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const answer = await postHuge(
      `${edge.adminUrl}/orders/${motogpOrder.id}/notifications`,
      16 * 1024 * 1024 + 4096,
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: 'expected a body of at most 16777216 bytes' });
    expect((await callAdmin(edge, 'GET', '/healthz', { token: null })).status).toBe(200);
    await expectUnchanged(edge, version);
  });

  it('a replacement that would unblock hosts is refused whole for any one bad field', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    // Were any of these applied, tarjetarojaenvivo.lat and livetv821.me would be served to France.
    const replacement = {
      authority: motogpOrder.authority,
      reference: motogpOrder.reference,
      countries: ['FR'],
      hosts: ['motogpstream.me'],
    };
    const at = `order (id "${motogpOrder.id}")`;
    const cases: Array<{ label: string; body: Record<string, unknown>; path: string }> = [
      {
        label: 'until equal to from',
        body: { ...replacement, from: '2025-03-28T00:00:00Z', until: '2025-03-28T01:00:00+01:00' },
        path: `${at}.until`,
      },
      {
        label: 'UK, which is no ISO code',
        body: { ...replacement, countries: ['UK'] },
        path: `${at}.countries[0]`,
      },
      {
        label: 'a country group nobody defined',
        body: { ...replacement, countries: ['BENELUX'] },
        path: `${at}.countries[0]`,
      },
      { label: 'no country', body: { ...replacement, countries: [] }, path: `${at}.countries` },
      {
        label: 'an IPv4 literal host',
        body: { ...replacement, hosts: ['motogpstream.me', '127.0.0.1'] },
        path: `${at}.hosts[1]`,
      },
      {
        label: 'an IPv6 literal host',
        body: { ...replacement, hosts: ['motogpstream.me', '[::1]'] },
        path: `${at}.hosts[1]`,
      },
      {
        label: 'a host with a port',
        body: { ...replacement, hosts: ['motogpstream.me', 'livetv821.me:443'] },
        path: `${at}.hosts[1]`,
      },
      {
        label: 'a wildcard over a top-level domain',
        body: { ...replacement, hosts: ['motogpstream.me', '*.me'] },
        path: `${at}.hosts[1]`,
      },
      { label: 'a javascript: url', body: { ...replacement, url: 'javascript:alert(1)' }, path: `${at}.url` },
      {
        label: 'a local time without offset',
        body: { ...replacement, from: '2025-03-28T00:00:00' },
        path: `${at}.from`,
      },
    ];
    for (const attempt of cases) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'PUT', `/orders/${motogpOrder.id}`, {
        body: attempt.body,
      });
      expect({
        label: attempt.label,
        status: answer.status,
        error: answer.json.error,
        paths: (answer.json.issues ?? []).map((issue) => issue.path),
      }).toEqual({ label: attempt.label, status: 400, error: refusedChange, paths: [attempt.path] });
    }
    await expectUnchanged(edge, version);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.GB)).toBe(200);
  });
});

describe('host spellings', () => {
  it('Unicode, punycode, case, trailing dot and a percent-encoded path all name one host of a notification and a lift', async () => {
    const { edge } = await startBlockingEdge();
    const before = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    const punycode = 'xn--bcher-kva.mirrors.test';

    const notified = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification(['Bücher.Mirrors.Test.', punycode, 'BÜCHER.mirrors.test']),
    });
    expect(notified.status).toBe(200);
    expect(notified.json.audit.change?.hosts).toEqual([punycode, punycode, punycode]);
    const afterNotify = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    expect(afterNotify.json.hostCount).toBe(before.json.hostCount + 1);
    expect(await statusThroughEdge(edge.url, punycode, clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(edge.url, `${punycode.toUpperCase()}.`, clientIps.FR)).toBe(451);

    const lifted = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/${encodeURIComponent('B\u00fcCHER.mirrors.TEST.')}`,
    );
    expect(lifted.status).toBe(200);
    expect(lifted.json.audit.change).toMatchObject({ host: punycode });
    expect(await statusThroughEdge(edge.url, punycode, clientIps.FR)).toBe(200);

    const again = await callAdmin<ErrorAnswer>(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/${punycode}`);
    expect(again.status).toBe(400);
    expect(again.json.issues?.map((issue) => issue.path)).toEqual(['host']);
    expect(again.json.issues?.[0]?.message).toMatch(
      new RegExp(`^"${punycode}" of order "${motogpOrder.id}" is already lifted`),
    );
    expect(await policyVersion(edge)).toBe(lifted.json.version);

    // DECISIONS #6: the lifted host can be notified again, under yet another spelling.
    const renotified = await callAdmin<ChangeAnswer>(
      edge,
      'POST',
      `/orders/${motogpOrder.id}/notifications`,
      {
        body: notification(['bücher.mirrors.test']),
      },
    );
    expect(renotified.status).toBe(200);
    expect(await statusThroughEdge(edge.url, punycode, clientIps.FR)).toBe(451);
  });
});

describe('GET /decide with odd values', () => {
  it('refuses what is not a country or an address and normalises what is', async () => {
    const { edge } = await startBlockingEdge();
    const refusals: Array<[string, string]> = [
      ['host=motogpstream.me&country=', 'expected country to be an ISO 3166-1 alpha-2 code, got ""'],
      ['host=motogpstream.me&country=UK', 'expected country to be an ISO 3166-1 alpha-2 code, got "UK"'],
      [
        'host=motogpstream.me&country=FR-ALL',
        'expected country to be an ISO 3166-1 alpha-2 code, got "FR-ALL"',
      ],
      [
        'host=motogpstream.me&country=%00%00',
        'expected country to be an ISO 3166-1 alpha-2 code, got "\u0000\u0000"',
      ],
      ['host=motogpstream.me&ip=0x7f.1', 'expected ip to be an IPv4 or IPv6 address, got "0x7f.1"'],
      [
        'host=motogpstream.me&ip=%20216.160.83.56',
        'expected ip to be an IPv4 or IPv6 address, got " 216.160.83.56"',
      ],
    ];
    for (const [query, error] of refusals) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'GET', `/decide?${query}`);
      expect({ query, status: answer.status, json: answer.json }).toEqual({
        query,
        status: 400,
        json: { error },
      });
    }

    const decide = async (query: string) => {
      const answer = await callAdmin<Record<string, unknown>>(edge, 'GET', `/decide?${query}`);
      expect(answer.status).toBe(200);
      return answer.json;
    };
    expect(await decide('host=MOTOGPSTREAM.ME.%3A443&country=fR')).toMatchObject({
      blocked: true,
      reason: 'order-match',
      host: 'motogpstream.me',
      client: { country: 'FR', countrySource: 'given' },
    });
    // An IPv4-mapped IPv6 address is located as the IPv4 address it carries.
    expect(await decide('host=motogpstream.me&ip=%3A%3Affff%3A81.2.69.160')).toMatchObject({
      blocked: false,
      reason: 'country-not-covered',
      client: { ip: '::ffff:81.2.69.160', country: 'GB', countrySource: 'database' },
    });
    expect(await decide('host=&country=FR')).toMatchObject({
      blocked: false,
      reason: 'invalid-host',
      order: null,
    });
    expect(await decide('host=*.mirrors.test&country=FR')).toMatchObject({
      blocked: false,
      reason: 'invalid-host',
    });
    expect(await decide('host=m%C3%B6togpstream.me&country=FR')).toMatchObject({
      blocked: false,
      reason: 'no-order',
      host: 'xn--mtogpstream-rfb.me',
    });
  });
});

describe('GET /audit?limit edge values', () => {
  it('takes 1 to 10000 and refuses anything else with 400', async () => {
    const { edge } = await startBlockingEdge();
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([mirrorHost]),
        })
      ).status,
    ).toBe(200);
    const most = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit?limit=10000');
    expect(most.status).toBe(200);
    expect(most.json.entries.map((entry) => entry.action)).toEqual(['notify']);
    for (const limit of ['10001', '1.5', '-1', '', '%20', 'abc', 'Infinity', '1,2']) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'GET', `/audit?limit=${limit}`);
      expect({ limit, status: answer.status, json: answer.json }).toEqual({
        limit,
        status: 400,
        json: { error: 'expected limit to be a whole number from 1 to 10000' },
      });
    }
  });
});

describe('tokens and paths', () => {
  it('a token only counts in the Authorization header; the scheme is case-insensitive and spaces around it are tolerated', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const elsewhere: Array<{ label: string; path: string; headers?: Record<string, string> }> = [
      { label: 'query token', path: `/policy?token=${adminToken}` },
      { label: 'query access_token', path: `/policy?access_token=${adminToken}` },
      { label: 'cookie', path: '/policy', headers: { cookie: `token=${adminToken}` } },
      { label: 'X-Admin-Token', path: '/policy', headers: { 'x-admin-token': adminToken } },
      {
        label: 'Proxy-Authorization',
        path: '/policy',
        headers: { 'proxy-authorization': `Bearer ${adminToken}` },
      },
    ];
    for (const attempt of elsewhere) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'GET', attempt.path, {
        token: null,
        ...(attempt.headers === undefined ? {} : { headers: attempt.headers }),
      });
      expect({ label: attempt.label, status: answer.status }).toEqual({ label: attempt.label, status: 401 });
    }
    for (const authorization of [`Bearer ${adminToken} ${adminToken}`, `Bearer${adminToken}`]) {
      const answer = await callAdmin(edge, 'GET', '/policy', { authorization });
      expect({ authorization, status: answer.status }).toEqual({ authorization, status: 401 });
    }
    // RFC 9110 §11.1: the scheme is case-insensitive.
    for (const authorization of [`bearer ${adminToken}`, `BEARER   ${adminToken}  `]) {
      const answer = await callAdmin(edge, 'GET', '/policy', { authorization });
      expect({ authorization, status: answer.status }).toEqual({ authorization, status: 200 });
    }
    expect(await policyVersion(edge)).toBe(version);
  });

  it('dot segments, trailing slashes and encoded slashes never reach another route than the one they spell', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const attempts: Array<{
      method: string;
      target: string;
      authorized: boolean;
      status: number;
      error: string;
    }> = [
      // An open route's prefix does not open a protected route.
      {
        method: 'GET',
        target: '/healthz/../policy',
        authorized: false,
        status: 401,
        error: 'expected Authorization: Bearer <admin token>',
      },
      {
        method: 'GET',
        target: '/healthz/%2e%2e/audit',
        authorized: false,
        status: 401,
        error: 'expected Authorization: Bearer <admin token>',
      },
      { method: 'GET', target: '/policy/', authorized: true, status: 404, error: 'no such admin endpoint' },
      // A lift of ".." must not become a DELETE of the order itself.
      {
        method: 'DELETE',
        target: `/orders/${motogpOrder.id}/hosts/..`,
        authorized: true,
        status: 404,
        error: 'no such admin endpoint',
      },
      {
        method: 'DELETE',
        target: `/orders/${motogpOrder.id}/hosts/%2E%2E`,
        authorized: true,
        status: 404,
        error: 'no such admin endpoint',
      },
      {
        method: 'DELETE',
        target: `/orders/${motogpOrder.id}/`,
        authorized: true,
        status: 404,
        error: 'no such admin endpoint',
      },
      {
        method: 'PUT',
        target: '/orders/%2e%2e',
        authorized: true,
        status: 404,
        error: 'no such admin endpoint',
      },
    ];
    for (const attempt of attempts) {
      const answer = await rawAdmin(edge, attempt.method, attempt.target, attempt.authorized);
      expect({ target: attempt.target, status: answer.status, body: JSON.parse(answer.body) }).toEqual({
        target: attempt.target,
        status: attempt.status,
        body: { error: attempt.error },
      });
    }
    // An encoded slash stays inside its segment: a host "a/b" is no host.
    const slash = await rawAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me%2F..`, true);
    expect(slash.status).toBe(400);
    expect(JSON.parse(slash.body)).toMatchObject({ error: refusedChange, issues: [{ path: 'host' }] });
    await expectUnchanged(edge, version);
  });
});

describe('a request target the URL parser refuses', () => {
  it('GET //[ without a token is a 400, not an internal error', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await rawAdmin(edge, 'GET', '//[', false);
    // Anyone who reaches the admin port can make the node log "admin request failed" at error with a stack.
    const failures = edge.logs().filter((line) => line.msg === 'admin request failed');
    expect({ status: answer.status, failures: failures.length }).toEqual({ status: 400, failures: 0 });
  });
});

describe('concurrent changes', () => {
  it('ten identical lifts at once: exactly one is applied and audited, the others are 400', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        callAdmin<ChangeAnswer & ErrorAnswer>(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    expect(await policyVersion(edge)).toBe(version + 1);
    const changes = await auditChanges(edge);
    expect(changes.map((entry) => [entry.action, entry.versionBefore, entry.versionAfter])).toEqual([
      ['lift-host', version, version + 1],
    ]);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(200);
  });

  it('valid and invalid changes at once, with a SIGHUP and traffic among them: refusals take no version, the audit chain has no gap, and a restart rebuilds the same policy', async () => {
    const { edge, config } = await startBlockingEdge();
    const mirrors = Array.from({ length: 8 }, (_, index) => `m${index}.mirrors.test`);
    const newOrders = Array.from({ length: 4 }, (_, index) => `fr-2025-p${index}`);
    type Attempt = { method: string; path: string; body?: unknown; valid: boolean };
    const attempts: Attempt[] = [
      ...mirrors.map((host) => ({
        method: 'POST',
        path: `/orders/${motogpOrder.id}/notifications`,
        body: notification([host]),
        valid: true,
      })),
      ...newOrders.map((id, index) => ({
        method: 'PUT',
        path: `/orders/${id}`,
        body: {
          authority: 'TJ Paris',
          reference: `RG ${index}`,
          countries: ['fr'],
          hosts: [`${id}.mirrors.test`],
        },
        valid: true,
      })),
      { method: 'DELETE', path: `/orders/${motogpOrder.id}/hosts/livetv821.me`, valid: true },
      ...Array.from({ length: 4 }, () => ({
        method: 'POST',
        path: '/orders/fr-2025-unknown/notifications',
        body: notification(['x.mirrors.test']),
        valid: false,
      })),
      ...Array.from({ length: 2 }, (_, index) => ({
        method: 'PUT',
        path: `/orders/fr-2025-bad${index}`,
        body: { authority: 'TJ Paris', reference: 'RG', countries: ['UK'], hosts: ['bad.mirrors.test'] },
        valid: false,
      })),
    ];
    const traffic: Array<Promise<number>> = [];
    const changes = attempts.map((attempt, index) => {
      if (index % 3 === 0) {
        traffic.push(statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR));
        traffic.push(statusThroughEdge(edge.url, unrelatedHost, clientIps.FR));
      }
      return callAdmin<ChangeAnswer>(edge, attempt.method, attempt.path, {
        ...(attempt.body === undefined ? {} : { body: attempt.body }),
      });
    });
    const reloaded = reloadEdge(edge);
    const answers = await Promise.all(changes);
    await reloaded;

    expect(answers.map((answer) => answer.status)).toEqual(
      attempts.map((attempt) => (attempt.valid ? 200 : 400)),
    );
    expect(await Promise.all(traffic)).toEqual(traffic.map((_, index) => (index % 2 === 0 ? 451 : 200)));

    // Oldest first, every entry (changes and the reload) starts at the version the previous one ended at.
    const audit = (await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit?limit=10000')).json
      .entries;
    const oldestFirst = [...audit].reverse();
    expect(oldestFirst.map((entry) => entry.seq)).toEqual(oldestFirst.map((_, index) => index + 1));
    for (let index = 1; index < oldestFirst.length; index += 1) {
      expect(oldestFirst[index]?.versionBefore).toBe(oldestFirst[index - 1]?.versionAfter);
    }
    expect(oldestFirst.filter((entry) => entry.action === 'reload')).toHaveLength(1);
    // Every change and the reload were recorded in force, after they were recorded.
    for (const entry of oldestFirst) {
      expect(Date.parse(String(entry.inForceAt))).toBeGreaterThanOrEqual(Date.parse(entry.at));
    }
    const applied = answers.filter((answer) => answer.status === 200);
    expect(
      oldestFirst.filter((entry) => entry.change !== undefined).map((entry) => entry.versionAfter),
    ).toEqual(applied.map((answer) => answer.json.version).sort((a, b) => a - b));
    for (const answer of applied) expect(answer.json.version).toBe(answer.json.versionBefore + 1);

    const expected = {
      ...Object.fromEntries(mirrors.map((host) => [host, 451])),
      ...Object.fromEntries(newOrders.map((id) => [`${id}.mirrors.test`, 451])),
      'livetv821.me': 200,
      'motogpstream.me': 451,
      'x.mirrors.test': 200,
      'bad.mirrors.test': 200,
    };
    expect(await frenchStatuses(edge, Object.keys(expected))).toEqual(expected);
    const policyBefore = (await callAdmin<PolicyView>(edge, 'GET', '/policy')).json;

    const restarted = await restart(edge, config);
    expect(await frenchStatuses(restarted, Object.keys(expected))).toEqual(expected);
    const policyAfter = (await callAdmin<PolicyView>(restarted, 'GET', '/policy')).json;
    expect({ hostCount: policyAfter.hostCount, orders: policyAfter.orders }).toEqual({
      hostCount: policyBefore.hostCount,
      orders: policyBefore.orders,
    });
  });
});

describe('stored changes over the policy files (DECISIONS #6, #13)', () => {
  it('an order deleted through the API stays deleted after SIGHUP and restart although the files list it; re-created, it comes back without its old notifications', async () => {
    const { edge, config } = await startBlockingEdge();
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([mirrorHost]),
        })
      ).status,
    ).toBe(200);
    expect((await callAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}`)).status).toBe(200);
    const served = Object.fromEntries(Object.keys(blockedAtStart).map((host) => [host, 200]));
    expect(await frenchStatuses(edge, Object.keys(served))).toEqual(served);

    await reloadEdge(edge);
    expect(await frenchStatuses(edge, Object.keys(served))).toEqual(served);
    const deletedTwice = await callAdmin<ErrorAnswer>(edge, 'DELETE', `/orders/${motogpOrder.id}`);
    expect(deletedTwice.status).toBe(400);
    expect(deletedTwice.json.issues?.map((issue) => issue.path)).toEqual(['orderId']);

    const afterRestart = await restart(edge, config);
    expect(await frenchStatuses(afterRestart, Object.keys(served))).toEqual(served);

    // The same id again: the order's own hosts block, the notification of the deleted order does not.
    const { id: _id, ...orderBody } = motogpOrder;
    expect(
      (await callAdmin(afterRestart, 'PUT', `/orders/${motogpOrder.id}`, { body: orderBody })).status,
    ).toBe(200);
    expect(await frenchStatuses(afterRestart, Object.keys(blockedAtStart))).toEqual(blockedAtStart);
    const again = await restart(afterRestart, config);
    expect(await frenchStatuses(again, Object.keys(blockedAtStart))).toEqual(blockedAtStart);
  });

  it('a replacement of an order keeps its notifications and lifts, also after SIGHUP and restart', async () => {
    const { edge, config } = await startBlockingEdge();
    await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    await callAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`);
    const { id: _id, ...orderBody } = motogpOrder;
    const replaced = await callAdmin<ChangeAnswer>(edge, 'PUT', `/orders/${motogpOrder.id}`, {
      body: { ...orderBody, reference: 'RG 25/00001 (appeal)', countries: ['FR', 'GB'] },
    });
    expect(replaced.status).toBe(200);
    const expected = { 'motogpstream.me': 451, 'livetv821.me': 200, [mirrorHost]: 451 };
    const check = async (node: RunningEdge) => {
      for (const ip of [clientIps.FR, clientIps.GB]) {
        for (const [host, status] of Object.entries(expected)) {
          expect({ host, ip, status: await statusThroughEdge(node.url, host, ip) }).toEqual({
            host,
            ip,
            status,
          });
        }
      }
    };
    await check(edge);
    await reloadEdge(edge);
    await check(edge);
    await check(await restart(edge, config));
  });

  it('a host lifted and notified again twice within milliseconds ends blocked, after SIGHUP and restart too', async () => {
    const { edge, config } = await startBlockingEdge();
    const lift = () => callAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`);
    const notify = () =>
      callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
        body: notification(['livetv821.me']),
      });
    const statuses = [
      (await lift()).status,
      (await notify()).status,
      (await lift()).status,
      (await notify()).status,
    ];
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(451);
    await reloadEdge(edge);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(451);
    const restarted = await restart(edge, config);
    expect(
      restarted.logs().filter((line) => line.msg === 'stored policy change no longer applies; skipped'),
    ).toEqual([]);
    expect(await statusThroughEdge(restarted.url, 'livetv821.me', clientIps.FR)).toBe(451);
  });
});

describe('the state directory', () => {
  it('when the audit log cannot be written, the change is refused and not applied in memory; it works again once it can', async () => {
    const { edge, config } = await startBlockingEdge();
    const first = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification(['first.mirrors.test']),
    });
    expect(first.status).toBe(200);
    const file = stateFile(edge);
    const saved = `${file}.saved`;
    await rename(file, saved);
    await mkdir(file); // root ignores file modes; a folder in the file's place cannot be appended to

    const refused = await callAdmin<ErrorAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    expect(refused.status).toBe(500);
    expect(refused.json.error).toEqual(expect.any(String));
    expect(await policyVersion(edge)).toBe(first.json.version);
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);
    expect((await auditChanges(edge)).map((entry) => entry.versionAfter)).toEqual([first.json.version]);

    await rm(file, { recursive: true });
    await rename(saved, file);
    const retried = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    expect(retried.status).toBe(200);
    expect(retried.json.versionBefore).toBe(first.json.version);
    expect(retried.json.audit.seq).toBe(first.json.audit.seq + 1);
    const restarted = await restart(edge, config);
    expect(await statusThroughEdge(restarted.url, mirrorHost, clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(restarted.url, 'first.mirrors.test', clientIps.FR)).toBe(451);
  });

  it('a last line torn by a crash mid-write is ignored at start-up; the complete entries before it stay in force', async () => {
    const { edge, config } = await startBlockingEdge();
    await notifyEach(edge, ['a.mirrors.test', 'b.mirrors.test']);
    expect(await edge.stop('SIGTERM')).toBe(0);
    await tearLastChange(stateFile(edge));

    const restarted = await startEdge(config, {}, { dir: edge.dir });
    expect(await frenchStatuses(restarted, ['a.mirrors.test', 'b.mirrors.test'])).toEqual({
      'a.mirrors.test': 451,
      'b.mirrors.test': 200,
    });
  });
});

describe('a damaged audit log', () => {
  it('after a torn last line, the next acknowledged change starts a line of its own and survives the next restart', async () => {
    const { edge, config } = await startBlockingEdge();
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification(['a.mirrors.test']),
        })
      ).status,
    ).toBe(200);
    expect(await edge.stop('SIGTERM')).toBe(0);
    // A crash mid-write: the line is cut before its newline.
    await tearLastChange(stateFile(edge));

    const restarted = await startEdge(config, {}, { dir: edge.dir });
    expect(
      restarted
        .logs()
        .some((line) => String(line.msg).startsWith('audit log ended in a line a crash cut short')),
    ).toBe(true);
    const acknowledged = await callAdmin<ChangeAnswer>(
      restarted,
      'POST',
      `/orders/${motogpOrder.id}/notifications`,
      { body: notification(['c.mirrors.test']) },
    );
    expect(acknowledged.status).toBe(200);
    expect(await statusThroughEdge(restarted.url, 'c.mirrors.test', clientIps.FR)).toBe(451);

    // Appended onto the torn bytes, the acknowledged notification would no longer parse.
    const again = await restart(restarted, config);
    expect(await statusThroughEdge(again.url, 'c.mirrors.test', clientIps.FR)).toBe(451);
    expect((await auditChanges(again)).map((entry) => entry.seq)).toContain(acknowledged.json.audit.seq);
  });

  it('an unreadable line in the middle of the log stops start-up, naming the file and line', async () => {
    const { edge, config } = await startBlockingEdge();
    await notifyEach(edge, ['a.mirrors.test', 'b.mirrors.test']);
    expect(await edge.stop('SIGTERM')).toBe(0);
    const lines = (await readFile(stateFile(edge), 'utf8')).split('\n');
    lines[0] = `#${lines[0]}`; // one damaged byte in the first, complete, line
    await writeFile(stateFile(edge), lines.join('\n'));

    // Replaying the changes around a damaged line could undo blocks: the node refuses to start, naming it.
    const refusal = await startEdge(config, {}, { dir: edge.dir }).then(
      () => 'started',
      (error: unknown) => String(error),
    );
    expect(refusal).toMatch(/audit\.jsonl:1: \(root\): expected an audit entry/);
  });

  it('a line that is valid JSON but no entry (null) stops start-up, naming the file and line', async () => {
    const { edge, config } = await startBlockingEdge();
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification(['a.mirrors.test']),
        })
      ).status,
    ).toBe(200);
    expect(await edge.stop('SIGTERM')).toBe(0);
    await writeFile(stateFile(edge), `${await readFile(stateFile(edge), 'utf8')}null\n`);
    const refusal = await startEdge(config, {}, { dir: edge.dir }).then(
      () => 'started',
      (error: unknown) => String(error),
    );
    expect(refusal).not.toContain('Cannot read properties of null');
    expect(refusal).toMatch(/audit\.jsonl:\d+: \(root\): expected an audit entry/);
  });
});

// 9999-12-31T23:00:00-05:00 is a valid RFC 3339 instant, but in year 10000 UTC: stored back in UTC it has
// no RFC 3339 form, and the stored change would not load again (every worker of a cluster died on it).
const farFuture = '9999-12-31T23:00:00-05:00';

describe('a date the node could not store back', () => {
  it('a notification dated in year 10000 UTC is refused with 400, and the policy stays as it was', async () => {
    const { edge } = await startBlockingEdge();
    const before = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    const refused = await callAdmin<ErrorAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost], { at: farFuture }),
    });
    expect(refused.status).toBe(400);
    expect(refused.json.issues).toEqual([
      { path: 'at', message: `expected a date-time from 1970 to 9998 (UTC), found "${farFuture}"` },
    ]);
    expect((await callAdmin<PolicyView>(edge, 'GET', '/policy')).json.version).toBe(before.json.version);
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(200);
  });
});

/** An instant `ms` from now, as the admin API receives dates. */
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();
const aheadOfClock =
  /^expected a date-time at most 5 minutes after this node's clock \(\d{4}-\d\d-\d\dT[\d:.]+Z\), found "/;

describe("a date ahead of the node's clock", () => {
  it('a notification dated tomorrow is refused with 400 naming the clock; nothing is stored or blocked', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const tomorrow = fromNow(86_400_000);
    const refused = await callAdmin<ErrorAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost], { at: tomorrow }),
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe(refusedChange);
    expect(refused.json.issues).toEqual([{ path: 'at', message: expect.stringMatching(aheadOfClock) }]);
    expect(refused.json.issues?.[0]?.message).toContain(`found "${tomorrow}"`);
    await expectUnchanged(edge, version);
  });

  it('a lift dated in year 9000 is refused, so the node never dates a later notification of the host after it', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const refused = await callAdmin<ErrorAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/motogpstream.me`,
      {
        body: { at: '9000-01-01T00:00:00Z', reference: 'RG 25/00100' },
      },
    );
    expect(refused.status).toBe(400);
    expect(refused.json.issues).toEqual([{ path: 'at', message: expect.stringMatching(aheadOfClock) }]);
    await expectUnchanged(edge, version);

    // Within the allowance (a caller's clock a little ahead): accepted, and the undated re-notification
    // that follows it is dated just after it, this year, not years ahead.
    const lift = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/motogpstream.me`,
      {
        body: { at: fromNow(60_000) },
      },
    );
    expect(lift.status).toBe(200);
    const undated = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification(['motogpstream.me']),
    });
    expect(undated.status).toBe(200);
    const datedAt = Date.parse(String(undated.json.audit.change?.at));
    expect(datedAt).toBe(Date.parse(String(lift.json.audit.change?.at)) + 1);
    expect(datedAt).toBeLessThan(Date.now() + 5 * 60_000);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);
  });

  it('a notification dated in the past (a notice entered after it was issued) is accepted as dated', async () => {
    const { edge } = await startBlockingEdge();
    const accepted = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost], { at: '2025-04-02T09:00:00+02:00' }),
    });
    expect(accepted.status).toBe(200);
    expect(accepted.json.audit.change?.at).toBe('2025-04-02T09:00:00+02:00');
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(451);
  });

  it('a stored change dated ahead of the clock (written before the rule, or the clock was stepped back) is still replayed at start-up', async () => {
    const { edge, config } = await startBlockingEdge();
    await notifyEach(edge, [mirrorHost]);
    expect(await edge.stop('SIGTERM')).toBe(0);
    const lines = (await readFile(stateFile(edge), 'utf8')).split('\n');
    const dated = lines.map((line) => {
      if (line === '') return line;
      const record = JSON.parse(line) as { change?: { at?: string } };
      if (record.change?.at !== undefined) record.change.at = '2099-01-01T00:00:00.000Z';
      return JSON.stringify(record);
    });
    await writeFile(stateFile(edge), dated.join('\n'));

    const restarted = await startEdge(config, {}, { dir: edge.dir });
    expect(await statusThroughEdge(restarted.url, mirrorHost, clientIps.FR)).toBe(451);
    expect(restarted.logs().filter((line) => String(line.msg).startsWith('stored policy change'))).toEqual(
      [],
    );
  });
});

describe('workers: 2 convergence', () => {
  it('20 notifications sent at once are in force on every worker, and both workers answer', async () => {
    const { edge } = await startBlockingEdge({ workers: 2 });
    const workers = await discoverWorkers(edge, { host: 'motogpstream.me', ip: clientIps.FR }, 2);
    const before = await policyVersion(edge);
    const hosts = Array.from({ length: 20 }, (_, index) => `c${index}.mirrors.test`);
    const answers = await Promise.all(
      hosts.map((host) =>
        callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([host]),
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(hosts.map(() => 200));
    expect(answers.map((answer) => answer.json.version).sort((a, b) => a - b)).toEqual(
      hosts.map((_, index) => before + index + 1),
    );
    const seen = new Set<string>();
    for (const host of hosts) {
      for (let sent = 0; sent < 3; sent += 1) {
        const answer = await answerThroughEdge(edge.url, host, clientIps.FR);
        expect({ host, status: answer.status }).toEqual({ host, status: 451 });
        if (answer.requestId !== undefined) seen.add(workerOf(answer.requestId));
      }
    }
    expect([...seen].sort()).toEqual([...workers.keys()].sort());
    expect(
      edge
        .logs()
        .filter((line) => line.msg === 'policy change did not apply on this worker; asking for a snapshot'),
    ).toEqual([]);
  });
});
