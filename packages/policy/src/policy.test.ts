import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLOCK_SKEW_ALLOWANCE_MS } from './change-dating.js';
import { compilePolicy } from './compile.js';
import { diffBlockedHosts } from './diff.js';
import type { OrderDocument, PolicyDocument } from './document.js';
import { PolicyValidationError } from './errors.js';
import { type Policy, stateOf } from './policy.js';
import type { PolicyChange } from './validate-change.js';

const motogp: OrderDocument = {
  id: 'fr-2025-motogp',
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/00000',
  countries: ['FR-ALL'],
  hosts: ['tarjetarojaenvivo.lat', 'motogpstream.me', 'livetv821.me'],
};
const other: OrderDocument = { ...motogp, id: 'other', hosts: ['*.other.example'] };
const documentOf = (fields: Partial<PolicyDocument> = {}): PolicyDocument => ({
  orders: [motogp, other],
  ...fields,
});

const notify = (hosts: string[], at?: string): PolicyChange => ({
  type: 'notify',
  orderId: 'fr-2025-motogp',
  hosts,
  notifiedBy: 'ARCOM',
  reference: 'Notification 2025-04',
  ...(at === undefined ? {} : { at }),
});
const lift = (host: string, at?: string): PolicyChange => ({
  type: 'lift-host',
  orderId: 'fr-2025-motogp',
  host,
  liftedBy: 'Tribunal judiciaire de Paris',
  ...(at === undefined ? {} : { at }),
});
const blocked = (policy: Policy, host: string) => policy.decide({ host, country: 'FR' }).blocked;

function errorOf(action: () => unknown): PolicyValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyValidationError) return error;
    throw error;
  }
  throw new Error('expected a PolicyValidationError');
}

describe('Policy snapshots', () => {
  it('start at the version given (default 1) and count one per change', () => {
    expect(compilePolicy(documentOf()).version).toBe(1);
    const policy = compilePolicy(documentOf(), { version: 41 });
    expect(policy.version).toBe(41);
    expect(policy.apply(notify(['mirror.example'])).version).toBe(42);
  });

  it('never change: apply returns a new snapshot and the old one still decides as before', () => {
    const before = compilePolicy(documentOf());
    const after = before.apply(notify(['mirror.example']));
    expect(blocked(before, 'mirror.example')).toBe(false);
    expect(blocked(after, 'mirror.example')).toBe(true);
    expect(before.hostCount).toBe(4);
    expect(after.hostCount).toBe(5);
    expect(Object.isFrozen(before)).toBe(true);
  });

  it('refuses a bad option with a TypeError', () => {
    expect(() => compilePolicy(documentOf(), { version: -1 })).toThrow(TypeError);
    expect(() => compilePolicy(documentOf(), { unknownCountry: 'maybe' as never })).toThrow(TypeError);
  });
});

describe('notifications and lifts (DECISIONS #6)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a notification adds mirror hosts to an order without a new order', () => {
    const policy = compilePolicy(documentOf()).apply(notify(['motogp-mirror.example', '*.mirrors.example']));
    expect(policy.decide({ host: 'motogp-mirror.example', country: 'FR' })).toMatchObject({
      blocked: true,
      order: { id: 'fr-2025-motogp' },
    });
    expect(blocked(policy, 'a.mirrors.example')).toBe(true);
    expect(policy.orders[0]?.hosts.map((host) => `${host.host} ${host.source}`)).toEqual([
      'tarjetarojaenvivo.lat order',
      'motogpstream.me order',
      'livetv821.me order',
      'motogp-mirror.example notification',
      '*.mirrors.example notification',
    ]);
  });

  it('notified plain names take the order’s includeSubdomains default', () => {
    const policy = compilePolicy({ orders: [{ ...motogp, includeSubdomains: true }] }).apply(
      notify(['mirror.example']),
    );
    expect(blocked(policy, 'www.mirror.example')).toBe(true);
  });

  it('lifting a host the order itself lists unblocks it and is recorded', () => {
    const policy = compilePolicy(documentOf()).apply(lift('MotoGPStream.ME'));
    expect(blocked(policy, 'motogpstream.me')).toBe(false);
    expect(blocked(policy, 'livetv821.me')).toBe(true);
    expect(policy.hostCount).toBe(3);
    expect(policy.toDocument().lifts).toEqual([
      {
        orderId: 'fr-2025-motogp',
        host: 'motogpstream.me',
        liftedBy: 'Tribunal judiciaire de Paris',
        at: expect.any(String),
      },
    ]);
    expect(policy.toDocument().orders[0]?.hosts).toContain('motogpstream.me');
  });

  it('a notification for a lifted host blocks it again', () => {
    const lifted = compilePolicy(documentOf()).apply(lift('motogpstream.me', '2025-05-01T00:00:00Z'));
    const again = lifted.apply(notify(['motogpstream.me'], '2025-05-02T00:00:00Z'));
    expect(blocked(again, 'motogpstream.me')).toBe(true);
    expect(again.hostCount).toBe(4);
    const recompiled = compilePolicy(again.toDocument());
    expect(blocked(recompiled, 'motogpstream.me')).toBe(true);
  });

  it('a re-notification restores exactly what the lift removed (includeSubdomains included)', () => {
    const policy = compilePolicy({
      orders: [{ ...motogp, hosts: [{ host: 'tree.example', includeSubdomains: true }] }],
    })
      .apply(lift('tree.example', '2025-05-01T00:00:00Z'))
      .apply(notify(['tree.example'], '2025-05-02T00:00:00Z'));
    expect(blocked(policy, 'a.tree.example')).toBe(true);
  });

  it('dates an undated change just after the record it follows, so a lift and a re-notification in one millisecond work', () => {
    vi.useFakeTimers({ now: Date.parse('2025-05-01T00:00:00.000Z') });
    const lifted = compilePolicy(documentOf()).apply(lift('motogpstream.me'));
    const again = lifted.apply(notify(['motogpstream.me']));
    expect(blocked(again, 'motogpstream.me')).toBe(true);
    expect(again.toDocument().notifications?.[0]?.at).toBe('2025-05-01T00:00:00.001Z');
    const liftedAgain = again.apply(lift('motogpstream.me'));
    expect(blocked(liftedAgain, 'motogpstream.me')).toBe(false);
    expect(liftedAgain.toDocument().lifts?.[1]?.at).toBe('2025-05-01T00:00:00.001Z');
    expect(blocked(compilePolicy(liftedAgain.toDocument()), 'motogpstream.me')).toBe(false);
  });

  it('refuses a date that could not be stored back as RFC 3339 (year 10000 in UTC once a lift follows it)', () => {
    // The node's clock in the last minute of 9998, so that dates at the very end are not ahead of it.
    vi.useFakeTimers({ now: Date.parse('9998-12-31T23:59:00.000Z') });
    const policy = compilePolicy(documentOf());
    expect(
      errorOf(() => policy.apply(notify(['mirror.example'], '9999-12-31T23:00:00-05:00'))).issues,
    ).toEqual([
      {
        path: 'at',
        message: 'expected a date-time from 1970 to 9998 (UTC), found "9999-12-31T23:00:00-05:00"',
      },
    ]);
    expect(
      errorOf(() => policy.apply(notify(['mirror.example'], '1969-12-31T23:59:59Z'))).issues,
    ).toHaveLength(1);
    // The latest date allowed, then a lift dated with it: stored and loaded back. A notification would have
    // to follow the lift by 1 ms, past the end of 9998: refused rather than stored unreadable.
    const lifted = policy
      .apply(notify(['mirror.example'], '9998-12-31T23:59:59.999Z'))
      .apply(lift('mirror.example'));
    expect(compilePolicy(lifted.toDocument()).toDocument().lifts?.[0]?.at).toBe('9998-12-31T23:59:59.999Z');
    expect(errorOf(() => lifted.apply(notify(['mirror.example']))).issues).toEqual([
      {
        path: 'at',
        message:
          'expected a date from 1970 to 9998 (UTC): this change would have to be dated after the end of 9998 to follow the last one',
      },
    ]);
  });

  it('refuses a notification or lift dated more than 5 minutes after the clock; the allowance and past dates pass', () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-30T10:00:00.000Z') });
    const policy = compilePolicy(documentOf());
    expect(CLOCK_SKEW_ALLOWANCE_MS).toBe(300_000);
    const clockSays = (found: string) =>
      `expected a date-time at most 5 minutes after this node's clock (2026-11-30T10:00:00.000Z), found "${found}": a change is in force as soon as it is applied, so it cannot be dated later`;
    expect(errorOf(() => policy.apply(notify(['mirror.example'], '2026-12-01T10:00:00Z'))).issues).toEqual([
      { path: 'at', message: clockSays('2026-12-01T10:00:00Z') },
    ]);
    // The same instant written with an offset is the same instant.
    expect(
      errorOf(() => policy.apply(notify(['mirror.example'], '2026-11-30T11:05:00.001+01:00'))).issues,
    ).toEqual([{ path: 'at', message: clockSays('2026-11-30T11:05:00.001+01:00') }]);
    expect(errorOf(() => policy.apply(lift('motogpstream.me', '9000-01-01T00:00:00Z'))).issues).toEqual([
      { path: 'at', message: clockSays('9000-01-01T00:00:00Z') },
    ]);
    // Exactly at the allowance, and anything before the clock (a notice entered after it was issued).
    const atAllowance = policy.apply(notify(['mirror.example'], '2026-11-30T10:05:00.000Z'));
    expect(blocked(atAllowance, 'mirror.example')).toBe(true);
    expect(
      blocked(policy.apply(notify(['mirror.example'], '2025-04-02T09:00:00+02:00')), 'mirror.example'),
    ).toBe(true);
    expect(blocked(policy.apply(lift('motogpstream.me', '2025-05-01T00:00:00Z')), 'motogpstream.me')).toBe(
      false,
    );
  });

  it('a lift dated ahead cannot make the node date the next notification of its host ahead', () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-30T10:00:00.000Z') });
    // Within the allowance: the undated re-notification follows it by 1 ms, still within the allowance.
    const lifted = compilePolicy(documentOf()).apply(lift('motogpstream.me', '2026-11-30T10:04:00Z'));
    const again = lifted.apply(notify(['motogpstream.me']));
    expect(again.lastChange).toMatchObject({ at: '2026-11-30T10:04:00.001Z' });
    expect(blocked(again, 'motogpstream.me')).toBe(true);
    // A lift stored before this rule existed, dated in year 9000, replays; the node then refuses to date a
    // notification after it instead of stamping it 9000-01-01T00:00:00.001Z.
    const poisoned = compilePolicy(documentOf()).apply(lift('motogpstream.me', '9000-01-01T00:00:00Z'), {
      replay: true,
    });
    expect(errorOf(() => poisoned.apply(notify(['motogpstream.me']))).issues).toEqual([
      {
        path: 'at',
        message:
          "expected a date at most 5 minutes after this node's clock (2026-11-30T10:00:00.000Z): this change would have to be dated 9000-01-01T00:00:00.001Z to follow the last one",
      },
    ]);
  });

  it('replays a change accepted before without holding its date against the clock (a clock stepped back)', () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-30T10:00:00.000Z') });
    const notified = compilePolicy(documentOf()).apply(notify(['mirror.example']));
    const stored = notified.lastChange;
    if (stored === undefined) throw new Error('expected the applied change');
    vi.setSystemTime(Date.parse('2026-11-30T09:50:00.000Z'));
    expect(errorOf(() => compilePolicy(documentOf()).apply(stored)).issues[0]?.path).toBe('at');
    const replayed = compilePolicy(documentOf()).apply(stored, { replay: true });
    expect(blocked(replayed, 'mirror.example')).toBe(true);
    expect(replayed.lastChange).toEqual(stored);
  });

  it('refuses a notification dated before the lift it would undo, and a lift dated before the notification', () => {
    const lifted = compilePolicy(documentOf()).apply(lift('motogpstream.me', '2025-05-01T00:00:00Z'));
    expect(errorOf(() => lifted.apply(notify(['motogpstream.me'], '2025-05-01T00:00:00Z'))).issues).toEqual([
      {
        path: 'hosts[0]',
        message:
          '"motogpstream.me" was lifted at 2025-05-01T00:00:00Z; only a notification dated after the lift blocks it again, found 2025-05-01T00:00:00Z',
      },
    ]);
    const notified = compilePolicy(documentOf()).apply(notify(['mirror.example'], '2025-06-01T00:00:00Z'));
    expect(errorOf(() => notified.apply(lift('mirror.example', '2025-05-01T00:00:00Z'))).issues).toEqual([
      {
        path: 'at',
        message:
          'expected a date-time not before the notification of "mirror.example" (2025-06-01T00:00:00Z), found "2025-05-01T00:00:00Z"',
      },
    ]);
  });

  it('refuses to lift what the order does not block, or twice', () => {
    const policy = compilePolicy(documentOf());
    expect(errorOf(() => policy.apply(lift('www.motogpstream.me'))).issues).toEqual([
      {
        path: 'host',
        message:
          'order "fr-2025-motogp" does not block "www.motogpstream.me": a lift removes one of the order\'s hosts, it cannot carve an exception out of a wildcard or includeSubdomains host',
      },
    ]);
    const lifted = policy.apply(lift('motogpstream.me', '2025-05-01T00:00:00Z'));
    expect(errorOf(() => lifted.apply(lift('motogpstream.me'))).issues[0]?.message).toBe(
      '"motogpstream.me" of order "fr-2025-motogp" is already lifted (at 2025-05-01T00:00:00Z)',
    );
  });

  it('reads notifications and lifts from documents with the same rule: a later-dated notification wins', () => {
    const lifts = [
      { orderId: 'fr-2025-motogp', host: 'motogpstream.me', liftedBy: 'court', at: '2025-05-01T00:00:00Z' },
    ];
    const notification = (at: string) => ({
      orderId: 'fr-2025-motogp',
      hosts: ['motogpstream.me'],
      notifiedBy: 'ARCOM',
      reference: 'n',
      at,
    });
    const later = compilePolicy(documentOf({ lifts, notifications: [notification('2025-05-02T00:00:00Z')] }));
    const earlier = compilePolicy(
      documentOf({ lifts, notifications: [notification('2025-04-01T00:00:00Z')] }),
    );
    const tie = compilePolicy(documentOf({ lifts, notifications: [notification('2025-05-01T00:00:00Z')] }));
    expect(blocked(later, 'motogpstream.me')).toBe(true);
    expect(blocked(earlier, 'motogpstream.me')).toBe(false);
    expect(blocked(tie, 'motogpstream.me')).toBe(false);
  });

  it('refuses a document lift of a host the order neither lists nor was notified', () => {
    const lifts = [
      { orderId: 'fr-2025-motogp', host: 'nothing.example', liftedBy: 'court', at: '2025-05-01T00:00:00Z' },
    ];
    const error = errorOf(() => compilePolicy(documentOf({ lifts })));
    expect(error.issues).toEqual([
      {
        path: 'lifts[0] (order "fr-2025-motogp").host',
        message: 'order "fr-2025-motogp" neither lists nor was notified the host "nothing.example"',
      },
    ]);
  });
});

describe('lastChange', () => {
  it('gives the change as applied, normalised and dated, so it replays identically', () => {
    vi.useFakeTimers({ now: Date.parse('2025-05-01T00:00:00.000Z') });
    try {
      const start = compilePolicy(documentOf());
      expect(start.lastChange).toBeUndefined();
      const notified = start.apply(notify(['Mirror.Example.', '*.Mirrors.example']));
      expect(notified.lastChange).toEqual({
        type: 'notify',
        orderId: 'fr-2025-motogp',
        notifiedBy: 'ARCOM',
        reference: 'Notification 2025-04',
        at: '2025-05-01T00:00:00.000Z',
        hosts: ['mirror.example', '*.mirrors.example'],
      });
      const lifted = notified.apply(lift('mirror.example'));
      expect(lifted.lastChange).toMatchObject({
        type: 'lift-host',
        host: 'mirror.example',
        at: '2025-05-01T00:00:00.000Z',
      });
      const replayed = start
        .apply(notified.lastChange as PolicyChange)
        .apply(lifted.lastChange as PolicyChange);
      expect(replayed.toDocument()).toEqual(lifted.toDocument());
      expect(start.apply({ type: 'put-order', order: { ...motogp, id: 'x' } }).lastChange).toMatchObject({
        type: 'put-order',
        order: { id: 'x', includeSubdomains: false, purgeCache: true },
      });
      expect(lifted.compact().lastChange).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('put-order and delete-order', () => {
  it('put-order creates an order or replaces one, keeping its notifications and the lifts that still apply', () => {
    const base = compilePolicy(documentOf())
      .apply(notify(['mirror.example'], '2025-04-01T00:00:00Z'))
      .apply(lift('livetv821.me', '2025-05-01T00:00:00Z'))
      .apply(lift('motogpstream.me', '2025-05-01T00:00:00Z'));
    const replaced = base.apply({
      type: 'put-order',
      order: { ...motogp, hosts: ['livetv821.me', 'new.example'] },
    });
    expect(blocked(replaced, 'mirror.example')).toBe(true);
    expect(blocked(replaced, 'new.example')).toBe(true);
    expect(blocked(replaced, 'livetv821.me')).toBe(false);
    expect(blocked(replaced, 'tarjetarojaenvivo.lat')).toBe(false);
    expect(replaced.toDocument().lifts?.map((entry) => entry.host)).toEqual(['livetv821.me']);
    expect(replaced.hostCount).toBe(3);
    const created = replaced.apply({
      type: 'put-order',
      order: { ...motogp, id: 'new-order', hosts: ['x.example'] },
    });
    expect(created.orders.map((order) => order.id)).toEqual(['fr-2025-motogp', 'other', 'new-order']);
  });

  it('delete-order removes an order with its notifications and lifts', () => {
    const policy = compilePolicy(documentOf())
      .apply(notify(['mirror.example']))
      .apply({ type: 'delete-order', orderId: 'fr-2025-motogp' });
    expect(blocked(policy, 'motogpstream.me')).toBe(false);
    expect(blocked(policy, 'mirror.example')).toBe(false);
    expect(policy.toDocument()).toEqual({
      unknownCountry: 'allow',
      orders: [expect.objectContaining({ id: 'other' })],
    });
    const recreated = policy.apply({ type: 'put-order', order: motogp });
    expect(blocked(recreated, 'motogpstream.me')).toBe(true);
    expect(blocked(recreated, 'mirror.example')).toBe(false);
  });
});

describe('a change that fails', () => {
  it('lists every problem, and leaves the previous policy usable', () => {
    const policy = compilePolicy(documentOf());
    const error = errorOf(() =>
      policy.apply({
        type: 'notify',
        orderId: 'fr-2025-motogp',
        hosts: ['ok.example', 'bad host', '10.0.0.1'],
        notifiedBy: '',
        reference: 'r',
      }),
    );
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.issues).toEqual([
      { path: 'notifiedBy', message: 'expected a non-empty text, found ""' },
      { path: 'hosts[1]', message: expect.stringContaining('found "bad host": host contains whitespace') },
      { path: 'hosts[2]', message: expect.stringContaining('IP literals cannot be order hosts') },
    ]);
    expect(blocked(policy, 'motogpstream.me')).toBe(true);
    expect(blocked(policy.apply(notify(['ok.example'])), 'ok.example')).toBe(true);
  });

  it('names the order of an invalid put-order', () => {
    const error = errorOf(() =>
      compilePolicy(documentOf()).apply({
        type: 'put-order',
        order: { ...motogp, countries: ['XX'], hosts: ['*'] },
      }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'order (id "fr-2025-motogp").hosts[0]',
      'order (id "fr-2025-motogp").countries[0]',
    ]);
  });

  it('refuses unknown change types, unknown orders and unknown keys', () => {
    const policy = compilePolicy(documentOf());
    expect(errorOf(() => policy.apply({ type: 'rename' } as never)).issues).toEqual([
      {
        path: 'type',
        message: 'expected one of "put-order", "delete-order", "notify", "lift-host", found "rename"',
      },
    ]);
    expect(errorOf(() => policy.apply(null as never)).issues[0]?.path).toBe('type');
    expect(errorOf(() => policy.apply({ type: 'delete-order', orderId: 'nope' })).issues).toEqual([
      { path: 'orderId', message: 'expected the id of an order, found "nope" (no such order)' },
    ]);
    expect(errorOf(() => policy.apply({ ...notify(['a.example']), extra: true } as never)).issues).toEqual([
      {
        path: 'extra',
        message: 'unknown key: expected one of orderId, hosts, notifiedBy, reference, at, type',
      },
    ]);
  });
});

describe('toDocument', () => {
  it('round-trips: compiling the document of a policy gives the same decisions', () => {
    const policy = compilePolicy(documentOf({ countryGroups: { dom: ['GP', 'MQ'] } }))
      .apply(notify(['mirror.example', '*.mirrors.example'], '2025-04-01T00:00:00Z'))
      .apply(lift('livetv821.me', '2025-05-01T00:00:00Z'))
      .apply({
        type: 'put-order',
        order: {
          ...other,
          countries: ['DOM'],
          includeSubdomains: true,
          hosts: ['o.example', { host: 'p.example', includeSubdomains: false }],
        },
      });
    const document = policy.toDocument();
    const again = compilePolicy(document);
    expect(again.toDocument()).toEqual(document);
    for (const host of [
      'mirror.example',
      'x.mirrors.example',
      'livetv821.me',
      'a.o.example',
      'a.p.example',
      'p.example',
    ]) {
      for (const country of ['FR', 'GP', 'DE']) {
        expect(again.decide({ host, country }).blocked, `${host} ${country}`).toBe(
          policy.decide({ host, country }).blocked,
        );
      }
    }
  });
});

describe('compaction (DECISIONS #14)', () => {
  it('compact() keeps the version and the decisions, and empties the overlay', () => {
    const policy = compilePolicy(documentOf())
      .apply(notify(['mirror.example']))
      .apply(lift('motogpstream.me'));
    expect(policy.stats.overlayNames).toBe(2);
    const compacted = policy.compact();
    expect(compacted.version).toBe(policy.version);
    expect(compacted.stats).toEqual({ baseNames: 4, overlayNames: 0, deadRules: 0 });
    expect(blocked(compacted, 'mirror.example')).toBe(true);
    expect(blocked(compacted, 'motogpstream.me')).toBe(false);
    expect(blocked(compacted.apply(notify(['motogpstream.me'])), 'motogpstream.me')).toBe(true);
  });

  it('a background compaction is adopted by the next apply of a descendant, replaying what came since', async () => {
    const start = compilePolicy(documentOf(), { compaction: 'manual' });
    let policy = start.apply(notify(['one.example']));
    const compacting = policy.compactInBackground();
    policy = policy.apply(notify(['two.example'])).apply({ type: 'delete-order', orderId: 'other' });
    expect((await compacting).stats.overlayNames).toBe(0);
    const adopted = policy.apply(notify(['three.example']));
    expect(adopted.version).toBe(5);
    expect(adopted.stats.overlayNames).toBe(2);
    expect(adopted.stats.deadRules).toBe(1);
    for (const host of ['one.example', 'two.example', 'three.example', 'motogpstream.me'])
      expect(blocked(adopted, host)).toBe(true);
    expect(blocked(adopted, 'a.other.example')).toBe(false);
    expect(blocked(start, 'one.example')).toBe(false);
  });

  it('a change that fails adopts nothing: the next one still gets the compacted base', async () => {
    const policy = compilePolicy(documentOf(), { compaction: 'manual' }).apply(notify(['one.example']));
    await policy.compactInBackground();
    expect(() => policy.apply(lift('nothing.example'))).toThrow(PolicyValidationError);
    expect(policy.apply(notify(['two.example'])).stats).toEqual({
      baseNames: 5,
      overlayNames: 1,
      deadRules: 0,
    });
  });

  it('starts by itself when the overlay grows past its threshold', async () => {
    let policy: Policy = compilePolicy(documentOf());
    const hosts = Array.from({ length: 5000 }, (_, index) => `m${index}.mirror.example`);
    policy = policy.apply(notify(hosts));
    expect(policy.needsCompaction).toBe(true);
    await stateOf(policy).lineage.compacting;
    const adopted = policy.apply(notify(['last.example']));
    expect(adopted.stats.overlayNames).toBe(1);
    expect(adopted.stats.baseNames).toBe(5004);
    expect(blocked(adopted, 'm4999.mirror.example')).toBe(true);
  });
});

describe('diffBlockedHosts', () => {
  it('lists the patterns a descendant started blocking, includeSubdomains as name and wildcard', () => {
    const before = compilePolicy(documentOf());
    const after = before.apply(notify(['mirror.example', '*.wild.example'])).apply({
      type: 'notify',
      orderId: 'other',
      hosts: [{ host: 'tree.example', includeSubdomains: true }] as never,
      notifiedBy: 'ARCOM',
      reference: 'n',
    });
    expect(diffBlockedHosts(before, after)).toEqual([
      '*.tree.example',
      '*.wild.example',
      'mirror.example',
      'tree.example',
    ]);
    expect(diffBlockedHosts(after, before)).toEqual([]);
  });

  it('counts a re-blocked host, skips orders with purgeCache false, and works across unrelated policies', () => {
    const lifted = compilePolicy(documentOf()).apply(lift('motogpstream.me', '2025-05-01T00:00:00Z'));
    const renotified = lifted.apply(notify(['motogpstream.me']));
    expect(diffBlockedHosts(lifted, renotified)).toEqual(['motogpstream.me']);
    const noPurge = compilePolicy({ orders: [{ ...motogp, purgeCache: false }] });
    expect(diffBlockedHosts(noPurge, noPurge.apply(notify(['x.example'])))).toEqual([]);
    const unrelated = compilePolicy({ orders: [other] });
    expect(diffBlockedHosts(unrelated, compilePolicy(documentOf()))).toEqual([
      'livetv821.me',
      'motogpstream.me',
      'tarjetarojaenvivo.lat',
    ]);
  });

  it('gives the same answer from the change log and from a full comparison', () => {
    let policy = compilePolicy(documentOf());
    const start = policy;
    for (let index = 0; index < 80; index++) policy = policy.apply(notify([`m${index}.example`]));
    const fromLog = diffBlockedHosts(policy, policy.apply(notify(['last.example'])));
    expect(fromLog).toEqual(['last.example']);
    // 80 changes is past the kept log: this one is computed by comparing every host.
    expect(diffBlockedHosts(start, policy)).toHaveLength(80);
  });
});
