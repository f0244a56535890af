import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compilePolicy } from './compile.js';
import type { OrderDocument, PolicyDocument } from './document.js';
import { PolicyValidationError } from './errors.js';
import { HostTable } from './host-table.js';
import type { Policy } from './policy.js';
import type { SkippedChange } from './replay.js';
import type { PolicyChange } from './validate-change.js';

// Policy.replay() folds stored changes into one private overlay instead of making a snapshot per change.
// The reference it must match is the loop it replaces: apply(change, { replay: true }) one by one,
// skipping what throws.

const order = (id: string, hosts: string[], fields: Partial<OrderDocument> = {}): OrderDocument => ({
  id,
  authority: 'Tribunal judiciaire de Paris',
  reference: `RG ${id}`,
  countries: ['FR'],
  hosts,
  ...fields,
});
const baseDocument: PolicyDocument = {
  orders: [
    order('o1', ['a.test', 'b.test']),
    order('o2', ['*.w.test', 'c.test'], { includeSubdomains: true }),
    order('o3', ['d.test'], { countries: ['DE'], from: '2025-04-10T00:00:00Z' }),
  ],
};

const HOSTS = ['a.test', 'b.test', 'c.test', 'd.test', 'e.test', 'x.w.test', '*.w.test', '*.e.test'];
const IDS = ['o1', 'o2', 'o3', 'o4'];
const day = (n: number) => new Date(Date.parse('2025-04-01T00:00:00Z') + n * 86_400_000).toISOString();

const change: fc.Arbitrary<PolicyChange> = fc.oneof(
  fc.record({
    type: fc.constant('notify' as const),
    orderId: fc.constantFrom(...IDS),
    hosts: fc.array(fc.constantFrom(...HOSTS), { minLength: 1, maxLength: 2 }),
    notifiedBy: fc.constant('ARCOM'),
    reference: fc.constant('n'),
    at: fc.nat(20).map(day),
  }),
  fc.record({
    type: fc.constant('lift-host' as const),
    orderId: fc.constantFrom(...IDS),
    host: fc.constantFrom(...HOSTS),
    liftedBy: fc.constant('court'),
    at: fc.nat(20).map(day),
  }),
  fc.record({ type: fc.constant('delete-order' as const), orderId: fc.constantFrom(...IDS) }),
  fc.record({
    type: fc.constant('put-order' as const),
    order: fc
      .tuple(fc.constantFrom(...IDS), fc.array(fc.constantFrom(...HOSTS), { minLength: 1, maxLength: 3 }))
      .map(([id, hosts]) => order(id, [...new Set(hosts)])),
  }),
  // Damaged or meaningless: skipped by both.
  fc.constant({ type: 'notifx', orderId: 'o1' } as unknown as PolicyChange),
  fc.constant({ type: 'notify', orderId: 'o1', hosts: [] } as unknown as PolicyChange),
);

/** The loop replay() replaces. */
function replayByApply(start: Policy, changes: readonly PolicyChange[]) {
  let policy = start;
  const skipped: number[] = [];
  changes.forEach((stored, index) => {
    try {
      policy = policy.apply(stored, { replay: true });
    } catch {
      skipped.push(index);
    }
  });
  return { policy, skipped };
}

function replayByFold(start: Policy, changes: readonly PolicyChange[]) {
  const skipped: SkippedChange[] = [];
  const policy = start.replay(changes, { onSkipped: (skip) => skipped.push(skip) });
  return { policy, skipped };
}

const QUERY_HOSTS = [...HOSTS.filter((host) => !host.startsWith('*')), 'y.x.w.test', 'z.e.test', 'q.c.test'];

/** Everything a reader can see of a snapshot. */
function observable(policy: Policy) {
  return {
    version: policy.version,
    hostCount: policy.hostCount,
    document: policy.toDocument(),
    orders: policy.orders.map((o) => ({ ...JSON.parse(JSON.stringify(o)), hosts: o.hosts })),
    decisions: QUERY_HOSTS.flatMap((host) =>
      ['FR', 'DE', null].flatMap((country) =>
        [day(0), day(15)].map((at) => {
          const decision = policy.decide({ host, country, at: Date.parse(at) });
          return [decision.blocked, decision.reason, decision.order?.id, decision.matchedHost];
        }),
      ),
    ),
    boundaries: [0, 9, 10, 30].map((n) => policy.nextBoundaryAfter(Date.parse(day(n)))),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Policy.replay()', () => {
  it('ends where apply() one by one ends, skipping the same changes, on random change sequences', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 30 }), fc.boolean(), (changes, manual) => {
        const start = compilePolicy(baseDocument, { version: 7, compaction: manual ? 'manual' : undefined });
        const startSeen = observable(start);
        const byApply = replayByApply(start, changes);
        const byFold = replayByFold(start, changes);
        expect(observable(byFold.policy)).toEqual(observable(byApply.policy));
        expect(byFold.skipped.map((skip) => skip.index)).toEqual(byApply.skipped);
        for (const skip of byFold.skipped) {
          expect(skip.change).toBe(changes[skip.index]);
          expect(skip.error).toBeInstanceOf(PolicyValidationError);
        }
        // The snapshot replayed over is untouched, and the result goes on like any snapshot.
        expect(observable(start)).toEqual(startSeen);
        const next = changes.at(0);
        if (next !== undefined) {
          expect(replayByFold(byFold.policy, [next]).policy.toDocument()).toEqual(
            replayByApply(byApply.policy, [next]).policy.toDocument(),
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('in the background, ends where replay() ends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 30 }), async (changes) => {
        const start = compilePolicy(baseDocument);
        const skipped: number[] = [];
        const background = await start.replayInBackground(changes, {
          onSkipped: (skip) => skipped.push(skip.index),
          sliceMs: 0,
        });
        const byApply = replayByApply(start, changes);
        expect(observable(background)).toEqual(observable(byApply.policy));
        expect(skipped).toEqual(byApply.skipped);
      }),
      { numRuns: 100 },
    );
  });

  // Why it is linear: apply() copies the overlay on its first write (OverlayWriter), so a loop of N
  // notifications copied tables of 1, 2, … N names. replay() copies it once.
  it('copies the overlay once for any number of changes, where apply() copies it per change', () => {
    const changes = Array.from({ length: 500 }, (_, index) => notifyOne(`h${index}.mirrors.test`, index));
    const clone = vi.spyOn(HostTable.prototype, 'clone');
    compilePolicy(baseDocument).replay(changes);
    expect(clone).toHaveBeenCalledTimes(1);
    clone.mockClear();
    replayByApply(compilePolicy(baseDocument), changes);
    expect(clone).toHaveBeenCalledTimes(500);
  });

  it('folds a large overlay into a new base, as background compaction would, unless compaction is manual', () => {
    const changes = Array.from({ length: 5000 }, (_, index) => notifyOne(`h${index}.mirrors.test`, index));
    changes.push(
      { type: 'lift-host', orderId: 'o1', host: 'h17.mirrors.test', liftedBy: 'court', at: day(30) },
      { type: 'delete-order', orderId: 'o2' },
    );
    const start = compilePolicy(baseDocument);
    const replayed = start.replay(changes);
    expect(replayed.stats).toEqual({ baseNames: 5002, overlayNames: 0, deadRules: 0 });
    expect(observable(replayed)).toEqual(observable(replayByApply(start, changes).policy));
    expect(replayed.decide({ host: 'h4999.mirrors.test', country: 'FR' }).blocked).toBe(true);
    expect(replayed.decide({ host: 'h17.mirrors.test', country: 'FR' }).blocked).toBe(false);

    const manual = compilePolicy(baseDocument, { compaction: 'manual' }).replay(changes);
    expect(manual.stats.overlayNames).toBe(5000);
    expect(manual.toDocument()).toEqual(replayed.toDocument());
  });

  it('answers the snapshot itself when no change applies, and stops with what onSkipped throws', () => {
    const start = compilePolicy(baseDocument);
    const notifyMissing = { ...notifyOne('x.test', 0), orderId: 'o9' };
    expect(start.replay([notifyMissing])).toBe(start);
    expect(start.replay([])).toBe(start);
    const stop = new Error('damaged');
    expect(() =>
      start.replay([notifyOne('x.test', 0), notifyMissing], {
        onSkipped: () => {
          throw stop;
        },
      }),
    ).toThrow(stop);
  });

  it('in the background, yields to the event loop between changes, and readers keep the snapshot they hold', async () => {
    // Two changes that do not apply, first and last: the loop must turn between the two skips. A
    // synchronous replay could not let a timer run there, however fast it is.
    const missing = (index: number) => ({ ...notifyOne(`m${index}.test`, index), orderId: 'o9' });
    const changes = [
      missing(0),
      ...Array.from({ length: 2000 }, (_, index) => notifyOne(`h${index}.mirrors.test`, index)),
      missing(1),
    ];
    const start = compilePolicy(baseDocument);
    const turns: number[] = [];
    let turn = 0;
    const ticker = setInterval(() => turn++, 0);
    try {
      const replayed = await start.replayInBackground(changes, {
        sliceMs: 1,
        onSkipped: () => turns.push(turn),
      });
      expect(turns).toHaveLength(2);
      expect(turns[1]).toBeGreaterThan(turns[0] as number);
      expect(replayed.version).toBe(start.version + 2000);
      expect(start.decide({ host: 'h0.mirrors.test', country: 'FR' }).blocked).toBe(false);
    } finally {
      clearInterval(ticker);
    }
  });
});

function notifyOne(host: string, index: number): PolicyChange {
  return {
    type: 'notify',
    orderId: 'o1',
    hosts: [host],
    notifiedBy: 'ARCOM',
    reference: `n${index}`,
    at: new Date(Date.parse('2025-04-01T00:00:00Z') + index).toISOString(),
  };
}
