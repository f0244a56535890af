import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
  forwardedClientIp,
  motogpHosts,
  motogpOrder,
  statusThroughEdge,
} from './support/blocking-order.js';
import { adminToken, type RunningEdge, startEdge, testConfig } from './support/edge.js';
import { send } from './support/http.js';
import { keepRequesting, servedAfter } from './support/in-force.js';
import { startOrigin, type TestOrigin } from './support/origin.js';

// The admin API of the real binary: a scripted origin, the edge with one order (the Paris MotoGP order),
// a client whose country comes from X-Forwarded-For via loopback, and the admin client under test.

const opsToken = 'ops-token-abcdefghijklmnop';
const mirrorHost = 'motogpstream2.me';
const unrelatedHost = 'news.example';
const siteHosts = [...motogpHosts, mirrorHost, unrelatedHost, '*.mirrors.test'];

type DecisionAnswer = {
  blocked: boolean;
  reason: string;
  host: string;
  order: { id: string } | null;
  client: { ip: string | null; country: string | null; countrySource: string };
  policyVersion: number;
};

async function startBlockingEdge(): Promise<{
  edge: RunningEdge;
  origin: TestOrigin;
  config: Record<string, unknown>;
}> {
  const origin = await startOrigin();
  const config = testConfig({
    admin: {
      host: '127.0.0.1',
      port: 0,
      tokens: [
        { name: 'compliance', token: adminToken },
        { name: 'ops', token: opsToken },
      ],
    },
    clientIp: forwardedClientIp,
    sites: [{ name: 'streams', hosts: siteHosts, origin: origin.url }],
    policy: { files: ['policy.yaml'] },
  });
  const edge = await startEdge(config, { 'policy.yaml': { orders: [motogpOrder] } });
  return { edge, origin, config };
}

describe('open endpoints', () => {
  it('answers /healthz, /readyz and /metrics without a token', async () => {
    const { edge } = await startBlockingEdge();
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);

    const health = await callAdmin<unknown>(edge, 'GET', '/healthz', { token: null });
    expect(health).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ready = await callAdmin<unknown>(edge, 'GET', '/readyz', { token: null });
    expect(ready).toMatchObject({ status: 200, json: { status: 'ready' } });

    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('edge451_requests_total{outcome="blocked"} 1');
    expect(metrics.body).toContain('edge451_blocks_total{order_id="fr-2025-motogp",country="FR"} 1');
    expect(metrics.body).toContain('# TYPE edge451_request_duration_seconds histogram');
    expect(metrics.body).toContain('edge451_request_duration_seconds_count{outcome="blocked"} 1');
    expect(metrics.body).toContain('edge451_request_duration_seconds_bucket{le="+Inf",outcome="blocked"} 1');
    expect(metrics.body).toMatch(new RegExp(`^edge451_policy_version ${await policyVersion(edge)}$`, 'm'));
  });

  it('the policy version gauge follows admin changes', async () => {
    const { edge } = await startBlockingEdge();
    const change = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      body: notification([mirrorHost]),
    });
    expect(change.status).toBe(200);
    const metrics = await send(`${edge.adminUrl}/metrics`);
    expect(metrics.body).toMatch(new RegExp(`^edge451_policy_version ${change.json.version}$`, 'm'));
  });
});

describe('authentication', () => {
  const protectedEndpoints: Array<{ method: string; path: string; body?: unknown }> = [
    { method: 'GET', path: '/policy' },
    { method: 'PUT', path: '/orders/fr-2025-intruder', body: { ...motogpOrder, id: 'fr-2025-intruder' } },
    { method: 'DELETE', path: '/orders/fr-2025-motogp' },
    { method: 'POST', path: '/orders/fr-2025-motogp/notifications', body: notification([mirrorHost]) },
    { method: 'DELETE', path: '/orders/fr-2025-motogp/hosts/motogpstream.me' },
    { method: 'GET', path: '/decide?host=motogpstream.me&country=FR' },
    { method: 'GET', path: '/audit' },
  ];
  const wrongSameLength = `${adminToken.slice(0, -1)}${adminToken.endsWith('x') ? 'y' : 'x'}`;
  const badAuthorizations: Array<{ label: string; authorization?: string }> = [
    { label: 'no Authorization header' },
    { label: 'a wrong token of the same length', authorization: `Bearer ${wrongSameLength}` },
    {
      label: 'a shorter token (a prefix of the real one)',
      authorization: `Bearer ${adminToken.slice(0, 8)}`,
    },
    { label: 'a longer token (the real one plus a suffix)', authorization: `Bearer ${adminToken}0` },
    { label: 'the real token without the Bearer scheme', authorization: adminToken },
    { label: 'the real token as Basic credentials', authorization: `Basic ${adminToken}` },
    { label: 'an empty Bearer token', authorization: 'Bearer ' },
  ];

  it('refuses every other endpoint with 401 without a token, with a wrong token and with one of another length', async () => {
    const { edge } = await startBlockingEdge();
    const versionBefore = await policyVersion(edge);
    for (const endpoint of protectedEndpoints) {
      for (const attempt of badAuthorizations) {
        const answer = await callAdmin<ErrorAnswer>(edge, endpoint.method, endpoint.path, {
          token: null,
          body: endpoint.body,
          ...(attempt.authorization === undefined ? {} : { authorization: attempt.authorization }),
        });
        expect({
          endpoint: `${endpoint.method} ${endpoint.path}`,
          attempt: attempt.label,
          status: answer.status,
        }).toEqual({
          endpoint: `${endpoint.method} ${endpoint.path}`,
          attempt: attempt.label,
          status: 401,
        });
        expect(answer.json.error).toBe('expected Authorization: Bearer <admin token>');
      }
    }
    // Nothing the refused requests asked for happened.
    expect(await policyVersion(edge)).toBe(versionBefore);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(200);
    const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit');
    expect(audit.json.entries.filter((entry) => entry.action !== 'start')).toEqual([]);
  });

  it('a 401 names the Bearer scheme in WWW-Authenticate (RFC 9110 §11.6.1)', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<ErrorAnswer>(edge, 'GET', '/policy', { token: null });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });

  it('accepts every configured token and records each under its own name', async () => {
    const { edge } = await startBlockingEdge();
    const byOps = await callAdmin<ChangeAnswer>(edge, 'POST', '/orders/fr-2025-motogp/notifications', {
      token: opsToken,
      body: notification([mirrorHost]),
    });
    expect(byOps.status).toBe(200);
    expect(byOps.json.audit.actor).toBe('ops');
    const byCompliance = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      '/orders/fr-2025-motogp/hosts/livetv821.me',
    );
    expect(byCompliance.status).toBe(200);
    expect(byCompliance.json.audit.actor).toBe('compliance');
  });
});

describe('reading the policy', () => {
  it('GET /policy lists the version and the orders in force', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.json.version).toEqual(expect.any(Number));
    expect(answer.json.hostCount).toBe(3);
    expect(answer.json.orders).toHaveLength(1);
    expect(answer.json.orders[0]).toMatchObject({
      id: motogpOrder.id,
      authority: motogpOrder.authority,
      reference: motogpOrder.reference,
      url: motogpOrder.url,
      countries: ['FR'],
    });
    // Orders are listed without their (possibly millions of) hosts; hostCount follows notifications.
    expect(answer.json.orders[0]?.hostCount).toBe(3);
    await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    const after = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    expect(after.json.version).toBe(answer.json.version + 1);
    expect(after.json.hostCount).toBe(4);
    expect(after.json.orders[0]?.hostCount).toBe(4);
  });
});

describe('changing orders', () => {
  const f1Order = {
    authority: 'Tribunal judiciaire de Paris',
    reference: 'RG 25/00002',
    countries: ['FR'],
    hosts: ['f1.mirrors.test'],
  };

  it('PUT /orders/{id} creates an order that blocks the next request and answers the new version', async () => {
    const { edge, origin } = await startBlockingEdge();
    expect(await statusThroughEdge(edge.url, 'f1.mirrors.test', clientIps.FR)).toBe(200);
    const before = await policyVersion(edge);

    const answer = await callAdmin<ChangeAnswer>(edge, 'PUT', '/orders/fr-2025-f1', { body: f1Order });
    expect(answer.status).toBe(200);
    expect(answer.json.versionBefore).toBe(before);
    expect(answer.json.version).toBeGreaterThan(before);

    const requestsBefore = origin.requests.length;
    expect(await statusThroughEdge(edge.url, 'f1.mirrors.test', clientIps.FR)).toBe(451);
    expect(origin.requests.length).toBe(requestsBefore);
    expect(await statusThroughEdge(edge.url, 'f1.mirrors.test', clientIps.GB)).toBe(200);

    const policy = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    expect(policy.json.version).toBe(answer.json.version);
    expect(policy.json.orders.map((order) => order.id).sort()).toEqual(['fr-2025-f1', 'fr-2025-motogp']);
  });

  it('an invalid order is refused with 400 naming every bad field, and the previous policy stays in force', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    // Were it applied, this replacement would unblock tarjetarojaenvivo.lat and livetv821.me.
    const answer = await callAdmin<ErrorAnswer>(edge, 'PUT', `/orders/${motogpOrder.id}`, {
      body: { reference: 'RG 25/00001', countries: ['France'], hosts: ['motogpstream.me', 'not a host/'] },
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('policy change refused; the previous policy stays in force');
    const paths = (answer.json.issues ?? []).map((issue) => issue.path).join('\n');
    expect(paths).toContain('authority');
    expect(paths).toContain('countries[0]');
    expect(paths).toContain('hosts[1]');

    expect(await policyVersion(edge)).toBe(before);
    for (const host of motogpHosts) expect(await statusThroughEdge(edge.url, host, clientIps.FR)).toBe(451);
  });

  it('an order whose body id differs from the URL id is refused with 400', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    const answer = await callAdmin<ErrorAnswer>(edge, 'PUT', '/orders/fr-2025-f1', {
      body: { ...f1Order, id: 'fr-2025-other' },
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe(
      'order id in the body ("fr-2025-other") differs from the URL ("fr-2025-f1")',
    );
    expect(await policyVersion(edge)).toBe(before);
    expect(await statusThroughEdge(edge.url, 'f1.mirrors.test', clientIps.FR)).toBe(200);
  });

  it('an order id that is not a valid id is refused with 400, even percent-encoded', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'FR-2025-UPPER', '%E0%A4%A']) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'PUT', `/orders/${id}`, { body: f1Order });
      expect({ id, status: answer.status }).toEqual({ id, status: 400 });
    }
    expect(await policyVersion(edge)).toBe(before);
  });

  it('DELETE /orders/{id} removes the order: its hosts are served again', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<ChangeAnswer>(edge, 'DELETE', `/orders/${motogpOrder.id}`);
    expect(answer.status).toBe(200);
    expect(answer.json.version).toBe(answer.json.versionBefore + 1);
    for (const host of motogpHosts) expect(await statusThroughEdge(edge.url, host, clientIps.FR)).toBe(200);
    const policy = await callAdmin<PolicyView>(edge, 'GET', '/policy');
    expect(policy.json.orders).toEqual([]);
  });
});

describe('notifications and lifts', () => {
  it('an ARCOM notification blocks a new mirror host from the next request', async () => {
    const { edge, origin } = await startBlockingEdge();
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(200);
    const before = await policyVersion(edge);

    const answer = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    expect(answer.status).toBe(200);
    expect(answer.json.version).toBe(before + 1);

    const requestsBefore = origin.requests.length;
    const blocked = await send(`${edge.url}/`, {
      headers: { host: mirrorHost, 'x-forwarded-for': clientIps.FR, accept: 'application/json' },
    });
    expect(blocked.status).toBe(451);
    expect(JSON.parse(blocked.body)).toMatchObject({
      host: mirrorHost,
      country: 'FR',
      order: { id: motogpOrder.id },
    });
    expect(origin.requests.length).toBe(requestsBefore);
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.GB)).toBe(200);
  });

  it('a notification for an unknown order is refused with 400 and changes nothing', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    const answer = await callAdmin<ErrorAnswer>(edge, 'POST', '/orders/fr-2025-unknown/notifications', {
      body: notification([mirrorHost]),
    });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.json)).toContain('fr-2025-unknown');
    expect(await policyVersion(edge)).toBe(before);
    expect(await statusThroughEdge(edge.url, mirrorHost, clientIps.FR)).toBe(200);
  });

  it('a notification without hosts or without notifiedBy is refused with 400', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    const noHosts = await callAdmin<ErrorAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: { hosts: [], notifiedBy: 'ARCOM', reference: 'n°8' },
    });
    expect(noHosts.status).toBe(400);
    expect((noHosts.json.issues ?? []).map((issue) => issue.path).join('\n')).toContain('hosts');
    const noNotifier = await callAdmin<ErrorAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: { hosts: [mirrorHost], reference: 'n°8' },
    });
    expect(noNotifier.status).toBe(400);
    expect((noNotifier.json.issues ?? []).map((issue) => issue.path).join('\n')).toContain('notifiedBy');
    expect(await policyVersion(edge)).toBe(before);
  });

  it("lifting one host unblocks it while the order's other hosts stay blocked", async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/livetv821.me`,
    );
    expect(answer.status).toBe(200);
    expect(answer.json.version).toBe(answer.json.versionBefore + 1);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(edge.url, 'motogpstream.me', clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(edge.url, 'tarjetarojaenvivo.lat', clientIps.FR)).toBe(451);
  });

  it('a lift names the host however it is written, and a host the order does not name is refused with 400', async () => {
    const { edge } = await startBlockingEdge();
    const lifted = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/LiveTV821.ME.`,
    );
    expect(lifted.status).toBe(200);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(200);
    const before = await policyVersion(edge);
    const unknown = await callAdmin<ErrorAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/${unrelatedHost}`,
    );
    expect(unknown.status).toBe(400);
    expect(await policyVersion(edge)).toBe(before);
  });

  it('a notification blocks again a host that was lifted (DECISIONS #6)', async () => {
    const { edge } = await startBlockingEdge();
    expect((await callAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`)).status).toBe(
      200,
    );
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(200);
    const again = await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification(['livetv821.me']),
    });
    expect(again.status).toBe(200);
    expect(await statusThroughEdge(edge.url, 'livetv821.me', clientIps.FR)).toBe(451);
  });
});

describe('GET /decide', () => {
  it('answers the decision with the order and where the country came from', async () => {
    const { edge } = await startBlockingEdge();
    const version = await policyVersion(edge);
    const decide = (query: Record<string, string>) =>
      callAdmin<DecisionAnswer>(edge, 'GET', `/decide?${new URLSearchParams(query)}`);

    const byIp = await decide({ host: 'motogpstream.me', ip: clientIps.FR });
    expect(byIp.status).toBe(200);
    expect(byIp.json).toMatchObject({
      blocked: true,
      host: 'motogpstream.me',
      order: { id: motogpOrder.id, authority: motogpOrder.authority },
      client: { ip: clientIps.FR, country: 'FR', countrySource: 'database' },
      policyVersion: version,
    });

    const byCountry = await decide({ host: 'MotoGPStream.ME.', country: 'fr' });
    expect(byCountry.json).toMatchObject({
      blocked: true,
      host: 'motogpstream.me',
      order: { id: motogpOrder.id },
      client: { ip: null, country: 'FR', countrySource: 'given' },
    });

    // Not blocked, but the answer still names the order that covers the host and says why it did not apply.
    const fromUs = await decide({ host: 'motogpstream.me', ip: clientIps.US });
    expect(fromUs.json).toMatchObject({
      blocked: false,
      reason: 'country-not-covered',
      order: { id: motogpOrder.id },
      client: { country: 'US', countrySource: 'database' },
    });

    const unrelated = await decide({ host: unrelatedHost, ip: clientIps.FR });
    expect(unrelated.json).toMatchObject({ blocked: false, reason: 'no-order', order: null });
  });

  it('a query without a host, without ip or country, or with a malformed one is refused with 400', async () => {
    const { edge } = await startBlockingEdge();
    const refusals: Array<[string, string]> = [
      ['/decide?ip=2a02%3Acfc0%3A%3A1', 'expected a host query parameter'],
      ['/decide?host=motogpstream.me', 'expected ip or country'],
      [
        '/decide?host=motogpstream.me&country=FRA',
        'expected country to be an ISO 3166-1 alpha-2 code, got "FRA"',
      ],
    ];
    for (const [path, message] of refusals) {
      const answer = await callAdmin<ErrorAnswer>(edge, 'GET', path);
      expect({ path, status: answer.status, error: answer.json.error }).toEqual({
        path,
        status: 400,
        error: message,
      });
    }
  });

  it('an ip that is not an IP address is refused with 400 rather than answered as an unknown country', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<ErrorAnswer>(edge, 'GET', '/decide?host=motogpstream.me&ip=999.1.2.3');
    expect(answer.status).toBe(400);
  });
});

describe('audit', () => {
  it('GET /audit shows who, what, when and the versions before and after each change, newest first', async () => {
    const { edge } = await startBlockingEdge();
    const startedAt = Date.now();
    const put = await callAdmin<ChangeAnswer>(edge, 'PUT', '/orders/fr-2025-f1', {
      body: {
        authority: 'Tribunal judiciaire de Paris',
        reference: 'RG 25/00002',
        countries: ['FR'],
        hosts: ['f1.mirrors.test'],
      },
    });
    const notify = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      token: opsToken,
      body: notification([mirrorHost]),
    });
    const lift = await callAdmin<ChangeAnswer>(
      edge,
      'DELETE',
      `/orders/${motogpOrder.id}/hosts/livetv821.me`,
    );
    const finishedAt = Date.now();
    expect([put.status, notify.status, lift.status]).toEqual([200, 200, 200]);

    const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit');
    expect(audit.status).toBe(200);
    const changes = audit.json.entries.filter((entry) => entry.change !== undefined);
    expect(changes.map((entry) => [entry.actor, entry.action])).toEqual([
      ['compliance', 'lift-host'],
      ['ops', 'notify'],
      ['compliance', 'put-order'],
    ]);
    expect(changes[0]?.change).toMatchObject({ orderId: motogpOrder.id, host: 'livetv821.me' });
    expect(changes[1]?.change).toMatchObject({ orderId: motogpOrder.id, notifiedBy: 'ARCOM' });
    expect(JSON.stringify(changes[1]?.change)).toContain(mirrorHost);
    expect(changes[2]?.change).toMatchObject({ order: { id: 'fr-2025-f1' } });
    for (const entry of changes) {
      const at = Date.parse(entry.at);
      expect(at).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(at).toBeLessThanOrEqual(finishedAt + 1000);
      expect(entry.versionAfter).toBe(entry.versionBefore + 1);
    }
    // Each answer's version is the one its audit entry records, and the chain has no gap.
    expect(changes.map((entry) => entry.versionAfter)).toEqual([
      lift.json.version,
      notify.json.version,
      put.json.version,
    ]);
    expect(changes[0]?.versionBefore).toBe(changes[1]?.versionAfter);
    expect(changes[1]?.versionBefore).toBe(changes[2]?.versionAfter);

    const newest = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit?limit=1');
    expect(newest.json.entries).toEqual([audit.json.entries[0]]);
    expect((await callAdmin(edge, 'GET', '/audit?limit=0')).status).toBe(400);
  });

  it('a change is answered once it is in force, with that instant; GET /audit, the file and a restart keep both instants', async () => {
    const { edge, config } = await startBlockingEdge();
    const sent = Date.now();
    const notified = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
      body: notification([mirrorHost]),
    });
    const answered = Date.now();
    expect(notified.status).toBe(200);
    const { inForceAt, audit } = notified.json;
    if (inForceAt === null) throw new Error('expected an in-force instant');
    // Recorded first (write-ahead), in force after: both within the request.
    expect(audit.inForceAt).toBe(inForceAt);
    expect(Date.parse(audit.at)).toBeGreaterThanOrEqual(sent - 5);
    expect(Date.parse(inForceAt)).toBeGreaterThanOrEqual(Date.parse(audit.at));
    expect(Date.parse(inForceAt)).toBeLessThanOrEqual(answered + 5);

    const listed = (await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit')).json.entries;
    expect(listed).toEqual([audit]);
    const lines = (await readFile(join(edge.dir, '.edge451-state', 'audit.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const { inForceAt: _shownOnly, ...stored } = audit;
    expect(lines).toEqual([
      stored,
      { kind: 'in-force', seq: audit.seq, version: audit.versionAfter, at: inForceAt },
    ]);

    expect(await edge.stop('SIGTERM')).toBe(0);
    const restarted = await startEdge(config, {}, { dir: edge.dir });
    expect((await callAdmin<{ entries: AuditEntry[] }>(restarted, 'GET', '/audit')).json.entries).toEqual([
      audit,
    ]);
    expect(await statusThroughEdge(restarted.url, mirrorHost, clientIps.FR)).toBe(451);
  });

  it('no request decided after the in-force instant of a notification is served the newly blocked host', async () => {
    const { edge } = await startBlockingEdge();
    for (let trial = 0; trial < 3; trial += 1) {
      const host = `during${trial}.mirrors.test`;
      const traffic = keepRequesting(edge.url, host, clientIps.FR);
      await sleep(150);
      const change = await callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
        body: notification([host]),
      });
      expect(change.status).toBe(200);
      await sleep(150);
      await traffic.stop();
      await sleep(100);
      expect({ trial, late: servedAfter(edge, host, String(change.json.inForceAt)) }).toEqual({
        trial,
        late: [],
      });
      // The traffic did reach the node on both sides of the change (requests open at the change were cut:
      // their lines carry no status).
      const logged = edge.logs().filter((line) => line.host === host && line.status !== undefined);
      expect(new Set(logged.map((line) => line.status))).toEqual(new Set([200, 451]));
    }
  });

  it('a refused change leaves no audit entry', async () => {
    const { edge } = await startBlockingEdge();
    await callAdmin(edge, 'POST', '/orders/fr-2025-unknown/notifications', {
      body: notification([mirrorHost]),
    });
    await callAdmin(edge, 'PUT', '/orders/fr-2025-f1', { body: { countries: ['FR'] } });
    const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit');
    expect(audit.json.entries.filter((entry) => entry.change !== undefined)).toEqual([]);
  });
});

describe('persistence', () => {
  it('changes and the audit log survive a restart of the binary', async () => {
    const { edge, config } = await startBlockingEdge();
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([mirrorHost]),
        })
      ).status,
    ).toBe(200);
    expect((await callAdmin(edge, 'DELETE', `/orders/${motogpOrder.id}/hosts/livetv821.me`)).status).toBe(
      200,
    );
    const versionBefore = await policyVersion(edge);
    const auditBefore = (await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit')).json.entries;

    expect(await edge.stop('SIGTERM')).toBe(0);
    const restarted = await startEdge(
      config,
      { 'policy.yaml': { orders: [motogpOrder] } },
      { dir: edge.dir },
    );

    expect(await statusThroughEdge(restarted.url, mirrorHost, clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(restarted.url, 'livetv821.me', clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(restarted.url, 'motogpstream.me', clientIps.FR)).toBe(451);
    // A version that went backwards would make "the response says the new version" ambiguous.
    expect(await policyVersion(restarted)).toBeGreaterThanOrEqual(versionBefore);
    const auditAfter = (await callAdmin<{ entries: AuditEntry[] }>(restarted, 'GET', '/audit')).json.entries;
    expect(auditAfter).toEqual(expect.arrayContaining(auditBefore));
  });
});

describe('persistence when the files move on', () => {
  it('a stored change that no longer applies to the policy files is skipped with a warning; the rest stays', async () => {
    const { edge, config } = await startBlockingEdge();
    const f1 = {
      authority: 'Tribunal judiciaire de Paris',
      reference: 'RG 25/00002',
      countries: ['FR'],
      hosts: ['f1.mirrors.test'],
    };
    expect((await callAdmin(edge, 'PUT', '/orders/fr-2025-f1', { body: f1 })).status).toBe(200);
    expect(
      (
        await callAdmin(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([mirrorHost]),
        })
      ).status,
    ).toBe(200);
    expect(await edge.stop('SIGTERM')).toBe(0);

    // The operator removes the MotoGP order from the files: its stored notification has nothing to apply to.
    const otherOrder = { ...motogpOrder, id: 'fr-2025-other', hosts: ['livetv821.me'] };
    const restarted = await startEdge(config, { 'policy.yaml': { orders: [otherOrder] } }, { dir: edge.dir });
    await restarted.waitForLog((line) => line.msg === 'stored policy change no longer applies; skipped');
    expect(await statusThroughEdge(restarted.url, mirrorHost, clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(restarted.url, 'motogpstream.me', clientIps.FR)).toBe(200);
    expect(await statusThroughEdge(restarted.url, 'livetv821.me', clientIps.FR)).toBe(451);
    expect(await statusThroughEdge(restarted.url, 'f1.mirrors.test', clientIps.FR)).toBe(451);
  });
});

describe('malformed requests', () => {
  it('malformed JSON is refused with 400 and changes nothing', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    const truncated = await callAdmin<ErrorAnswer>(edge, 'PUT', '/orders/fr-2025-f1', {
      rawBody: '{"authority": ',
    });
    expect(truncated.status).toBe(400);
    expect(truncated.json.error).toMatch(/^expected a JSON body: /);
    const notAnObject = await callAdmin<ErrorAnswer>(
      edge,
      'POST',
      `/orders/${motogpOrder.id}/notifications`,
      {
        rawBody: '["motogpstream2.me"]',
      },
    );
    expect(notAnObject.status).toBe(400);
    expect(notAnObject.json.error).toBe('expected a JSON object body');
    const noBody = await callAdmin<ErrorAnswer>(edge, 'PUT', '/orders/fr-2025-f1');
    expect(noBody.status).toBe(400);
    expect(await policyVersion(edge)).toBe(before);
  });

  it('an unknown endpoint is 404 and a known one with the wrong method is 405', async () => {
    const { edge } = await startBlockingEdge();
    const unknown = await callAdmin<ErrorAnswer>(edge, 'GET', '/orders');
    expect(unknown).toMatchObject({ status: 404, json: { error: 'no such admin endpoint' } });
    const wrongMethod = await callAdmin<ErrorAnswer>(edge, 'POST', '/policy', { body: {} });
    expect(wrongMethod).toMatchObject({ status: 405, json: { error: 'expected GET or HEAD' } });
    const patch = await callAdmin<ErrorAnswer>(edge, 'PATCH', `/orders/${motogpOrder.id}`, { body: {} });
    expect(patch).toMatchObject({ status: 405, json: { error: 'expected PUT or DELETE' } });
  });

  it('a 405 lists the allowed methods in Allow (RFC 9110 §15.5.6)', async () => {
    const { edge } = await startBlockingEdge();
    const answer = await callAdmin<ErrorAnswer>(edge, 'PATCH', `/orders/${motogpOrder.id}`, { body: {} });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('PUT, DELETE');
    const onPolicy = await callAdmin<ErrorAnswer>(edge, 'POST', '/policy', { body: {} });
    expect(onPolicy.headers.allow).toBe('GET, HEAD');
  });

  it('HEAD is answered like GET without a body, and a GET ignores any body it carries', async () => {
    const { edge } = await startBlockingEdge();
    const head = await callAdmin<string>(edge, 'HEAD', '/healthz', { token: null });
    expect(head).toMatchObject({ status: 200, json: '' });
    const withBody = await callAdmin<unknown>(edge, 'GET', '/healthz', {
      token: null,
      rawBody: 'not json at all',
    });
    expect(withBody.status).toBe(200);
  });
});

describe('concurrent changes', () => {
  it('20 notifications sent at once all land, each with its own increasing version', async () => {
    const { edge } = await startBlockingEdge();
    const before = await policyVersion(edge);
    const hosts = Array.from({ length: 20 }, (_, index) => `mirror-${index}.mirrors.test`);

    const answers = await Promise.all(
      hosts.map((host) =>
        callAdmin<ChangeAnswer>(edge, 'POST', `/orders/${motogpOrder.id}/notifications`, {
          body: notification([host]),
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(hosts.map(() => 200));
    const versions = answers.map((answer) => answer.json.version).sort((a, b) => a - b);
    expect(versions).toEqual(hosts.map((_, index) => before + index + 1));
    for (const answer of answers) expect(answer.json.versionBefore).toBe(answer.json.version - 1);

    expect(await policyVersion(edge)).toBe(before + hosts.length);
    const statuses = await Promise.all(hosts.map((host) => statusThroughEdge(edge.url, host, clientIps.FR)));
    expect(statuses).toEqual(hosts.map(() => 451));

    // The audit log, in file order, climbs one version at a time.
    const audit = await callAdmin<{ entries: AuditEntry[] }>(edge, 'GET', '/audit');
    const oldestFirst = audit.json.entries.filter((entry) => entry.action === 'notify').reverse();
    expect(oldestFirst.map((entry) => entry.versionAfter)).toEqual(versions);
    expect(oldestFirst.map((entry) => entry.seq)).toEqual(
      [...oldestFirst.map((entry) => entry.seq)].sort((a, b) => a - b),
    );
  });
});
