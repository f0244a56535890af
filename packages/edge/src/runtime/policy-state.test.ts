import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuditLog } from './audit-log.js';
import { type PolicySource, PolicyState } from './policy-state.js';

// The node's policy state on a real state directory and policy file: start-up and SIGHUP replay the stored
// changes over the files (DECISIONS #13).

const order = {
  id: 'fr-2025-motogp',
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/00000',
  countries: ['FR'],
  hosts: ['motogpstream.me'],
};

const notify = (host: string, index = 0, orderId = order.id): PolicyChange => ({
  type: 'notify',
  orderId,
  hosts: [host],
  notifiedBy: 'ARCOM',
  reference: `n${index}`,
  at: new Date(Date.parse('2026-01-01T00:00:00Z') + index).toISOString(),
});

async function stateFolder(): Promise<{ dir: string; source: PolicySource }> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-policy-state-'));
  const file = join(dir, 'policy.json');
  await writeFile(file, JSON.stringify({ orders: [order] }));
  return { dir, source: { files: [file], unknownCountry: 'allow' } };
}

/** A logger whose lines go to `onLine` as they are written (synchronously). */
function loggerTo(onLine: (line: { msg: string }) => void) {
  return pino({ level: 'info' }, { write: (text: string) => onLine(JSON.parse(text)) });
}
const silent = loggerTo(() => undefined);

const blocked = (state: PolicyState, host: string) => state.current().decide({ host, country: 'FR' }).blocked;

describe('PolicyState', () => {
  it('numbers a restarted policy after every version the audit log names, even after a SIGHUP', async () => {
    const { dir, source } = await stateFolder();
    const first = await PolicyState.load(source, await AuditLog.open(dir), silent);
    expect(first.current().version).toBe(1);
    await first.apply(notify('a.mirrors.test'), 'test');
    // The reload's policy is numbered past the running one, and its replay numbers on from there.
    await first.reload();
    const before = first.current().version;

    const audit = await AuditLog.open(dir);
    const used = audit.recent(100).map((entry) => entry.versionAfter);
    expect(Math.max(...used)).toBe(before);
    const restarted = await PolicyState.load(source, audit, silent);
    expect(restarted.current().version).toBeGreaterThan(before);
    expect(blocked(restarted, 'a.mirrors.test')).toBe(true);
    const next = await restarted.apply(notify('b.mirrors.test', 1), 'test');
    expect(next.entry.versionBefore).toBeGreaterThan(before);
    expect(used).not.toContain(next.entry.versionAfter);
  });

  it('a SIGHUP replays thousands of stored changes between event-loop turns, the running policy serving meanwhile', async () => {
    const { dir, source } = await stateFolder();
    // First and last: changes that no longer apply, so replay logs a warning at both ends of the log.
    const changes = [
      notify('gone.mirrors.test', 0, 'removed-order'),
      ...Array.from({ length: 12_000 }, (_, index) => notify(`h${index}.mirrors.test`, index + 1)),
      notify('gone-too.mirrors.test', 12_001, 'removed-order'),
    ];
    const lines = changes.map((change, index) =>
      JSON.stringify({
        seq: index + 1,
        at: change.type === 'notify' ? change.at : '',
        actor: 'test',
        action: 'notify',
        change,
        versionBefore: index + 1,
        versionAfter: index + 2,
      }),
    );
    await writeFile(join(dir, 'audit.jsonl'), `${lines.join('\n')}\n`);

    let turns = 0;
    const skips: { turn: number; version: number; blocksLast: boolean }[] = [];
    let state: PolicyState | undefined;
    const logger = loggerTo((line) => {
      if (line.msg !== 'stored policy change no longer applies; skipped' || state === undefined) return;
      skips.push({
        turn: turns,
        version: state.current().version,
        blocksLast: blocked(state, 'h11999.mirrors.test'),
      });
    });
    const audit = await AuditLog.open(dir);
    state = await PolicyState.load(source, audit, logger);
    expect(blocked(state, 'h11999.mirrors.test')).toBe(true);
    const running = state.current();

    const ticker = setInterval(() => turns++, 0);
    try {
      const reloaded = await state.reload();
      // Timers ran between the warnings about the first and the last stored change: the replay yields.
      // A synchronous replay, however fast, could not let one run there.
      expect(skips).toHaveLength(2);
      expect((skips[1] as { turn: number }).turn).toBeGreaterThan((skips[0] as { turn: number }).turn);
      // Meanwhile readers had the running policy, whole.
      expect(skips.map(({ version, blocksLast }) => ({ version, blocksLast }))).toEqual([
        { version: running.version, blocksLast: true },
        { version: running.version, blocksLast: true },
      ]);
      expect(reloaded.version).toBe(running.version + 1 + 12_000);
      expect(blocked(state, 'h11999.mirrors.test')).toBe(true);
    } finally {
      clearInterval(ticker);
    }

    // A reload that fails keeps the policy and the stored changes.
    const current = state.current();
    await writeFile(source.files[0] as string, '{ "orders": [ { "id": 1 } ] }');
    await expect(state.reload()).rejects.toThrow();
    expect(state.current()).toBe(current);
    expect(audit.changes()).toHaveLength(changes.length);
  });
});
