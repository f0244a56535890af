import { Writable } from 'node:stream';
import { compilePolicy, type Policy } from '@edge451/policy';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { OpenExchanges, RequestContext } from '../lifecycle/context.js';
import { createMetrics } from '../observe/metrics.js';
import type { RecheckListener, RecheckReason, Rechecks } from './block-rechecks.js';
import { cutWhenBlocked } from './cut-when-blocked.js';

const order = {
  id: 'fr-order',
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 1',
  countries: ['FR'],
  hosts: ['blocked.example'],
};
const before = compilePolicy({ orders: [] }, { version: 1 });
const after = compilePolicy({ orders: [order] }, { version: 2 });

/** `after`, counting its decisions (snapshots are frozen: no spying on them in place). */
function counting(policy: Policy) {
  const counted = { decisions: 0 };
  const view = new Proxy(policy, {
    get(target, key) {
      if (key === 'decide') {
        return (query: Parameters<Policy['decide']>[0]) => {
          counted.decisions += 1;
          return target.decide(query);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { policy: view, counted };
}

/** Rechecks the test fires by hand: by default a change to `next`, now. */
function handFired() {
  const listeners: RecheckListener[] = [];
  const rechecks: Rechecks = { onRecheck: (listener) => listeners.push(listener) };
  const change = (next: Policy, reason: RecheckReason = 'policy-change', at = Date.now()) => {
    for (const listener of listeners) listener({ reason, policy: next, at, before, beforeAt: 0 });
  };
  return { rechecks, change };
}

/** A request as the gate leaves it: decided (allowed unless told), with its host and client country. */
function decided(host: string, country: string | null, blocked = false): RequestContext {
  return {
    id: `${host}-${country}`,
    host,
    client: { country },
    decision: { blocked, reason: blocked ? 'order-match' : 'no-order' },
  } as RequestContext;
}

function openOf(kind: OpenExchanges['kind'], requests: RequestContext[]) {
  const cut: RequestContext[] = [];
  const exchanges: OpenExchanges = {
    kind,
    get size() {
      return requests.length;
    },
    requests: () => requests,
    cut: (ctx) => {
      cut.push(ctx);
      return true;
    },
  };
  return { exchanges, cut };
}

function setUp(open: OpenExchanges[]) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      callback();
    },
  });
  const metrics = createMetrics();
  const fired = handFired();
  cutWhenBlocked(fired.rechecks, open, pino({ level: 'info' }, sink), metrics);
  return { ...fired, lines, metrics };
}

describe('cutWhenBlocked', () => {
  it('with nothing open, a change decides nothing', () => {
    const { change } = setUp([openOf('websocket', []).exchanges, openOf('response', []).exchanges]);
    const { policy, counted } = counting(after);
    change(policy);
    expect(counted.decisions).toBe(0);
  });

  it('cuts what the new policy blocks, once per host and country decided, and leaves the rest', async () => {
    const french = [decided('blocked.example', 'FR'), decided('blocked.example', 'FR')];
    const tunnels = openOf('websocket', [
      ...french,
      decided('blocked.example', 'GB'),
      decided('other.example', 'FR'),
      // Being answered 451 already, and not decided yet (it will be, by the new policy): not touched.
      decided('blocked.example', 'FR', true),
      { id: 'undecided', host: 'blocked.example', client: { country: 'FR' } } as RequestContext,
    ]);
    const responses = openOf('response', [decided('blocked.example', 'FR')]);
    const { change, lines, metrics } = setUp([tunnels.exchanges, responses.exchanges]);
    const { policy, counted } = counting(after);
    change(policy);
    expect(counted.decisions).toBe(3);

    expect(tunnels.cut).toEqual(french);
    expect(responses.cut).toHaveLength(1);
    for (const ctx of [...french, ...responses.cut]) expect(ctx.decision?.order?.id).toBe('fr-order');
    await new Promise((resolve) => setImmediate(resolve));
    expect(
      lines.map((line) => [
        line.msg,
        line.kind,
        line.order_id,
        line.country,
        line.policy_version,
        line.reason,
      ]),
    ).toEqual([
      ['cut: its host is now blocked for the client', 'websocket', 'fr-order', 'FR', 2, 'policy-change'],
      ['cut: its host is now blocked for the client', 'websocket', 'fr-order', 'FR', 2, 'policy-change'],
      ['cut: its host is now blocked for the client', 'response', 'fr-order', 'FR', 2, 'policy-change'],
    ]);
    const exposed = await metrics.registry.getSingleMetricAsString('edge451_cut_by_block_total');
    expect(exposed).toContain(
      'edge451_cut_by_block_total{kind="websocket",order_id="fr-order",country="FR"} 2',
    );
    expect(exposed).toContain(
      'edge451_cut_by_block_total{kind="response",order_id="fr-order",country="FR"} 1',
    );
  });

  it("at a window boundary, decides at the recheck's instant and says a window opened", async () => {
    const from = Date.parse('2026-11-30T10:00:00Z');
    const later = compilePolicy(
      { orders: [{ ...order, from: new Date(from).toISOString() }] },
      { version: 3 },
    );
    const tunnels = openOf('websocket', [decided('blocked.example', 'FR')]);
    const { change, lines } = setUp([tunnels.exchanges]);
    change(later, 'window-boundary', from - 1);
    expect(tunnels.cut).toEqual([]);
    change(later, 'window-boundary', from);
    expect(tunnels.cut).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      expect.objectContaining({ order_id: 'fr-order', policy_version: 3, reason: 'window-opened' }),
    ]);
  });

  it('a failure while cutting is logged and never fails the change', () => {
    const failing: OpenExchanges = {
      ...openOf('websocket', [decided('blocked.example', 'FR')]).exchanges,
      cut: () => {
        throw new Error('socket trouble');
      },
    };
    const { change, lines } = setUp([failing]);
    expect(() => change(after)).not.toThrow();
    expect(lines.at(-1)?.msg).toBe('open connections not re-decided');
  });
});
