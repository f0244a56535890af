import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config-error.js';
import { AuditLog } from './audit-log.js';

// The audit log on a real file in a fresh folder: what start-up reads back is what was appended.

const notify = (host: string): PolicyChange => ({
  type: 'notify',
  orderId: 'fr-2025-motogp',
  hosts: [host],
  notifiedBy: 'ARCOM',
  reference: 'n°7',
  at: '2026-11-30T10:00:00.000Z',
});

const entry = (host: string, versionBefore: number) => ({
  at: '2026-11-30T10:00:00.000Z',
  actor: 'compliance',
  action: 'notify' as const,
  change: notify(host),
  versionBefore,
  versionAfter: versionBefore + 1,
});

async function folderWith(lines?: readonly unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge451-audit-'));
  if (lines !== undefined) {
    const text = lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');
    await writeFile(join(dir, 'audit.jsonl'), `${text}\n`);
  }
  return dir;
}

async function openError(dir: string): Promise<ConfigError> {
  const error = await AuditLog.open(dir).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

describe('in-force records', () => {
  it('a log written before in-force records existed loads as before: every entry without an instant', async () => {
    const dir = await folderWith([
      { seq: 1, ...entry('a.example', 1) },
      { seq: 2, ...entry('b.example', 2) },
    ]);
    const log = await AuditLog.open(dir);
    expect(log.changes()).toEqual([notify('a.example'), notify('b.example')]);
    expect(log.recent(10).map((view) => [view.seq, view.inForceAt])).toEqual([
      [2, null],
      [1, null],
    ]);
  });

  it('an in-force record gives its entry its instant, survives a reopen and is not replayed as a change', async () => {
    const dir = await folderWith();
    const log = await AuditLog.open(dir);
    const first = await log.append(entry('a.example', 1));
    const second = await log.append(entry('b.example', 2));
    const record = await log.appendInForce(
      first.seq,
      first.versionAfter,
      Date.parse('2026-11-30T10:00:00.007Z'),
    );
    expect(record).toEqual({ kind: 'in-force', seq: 1, version: 2, at: '2026-11-30T10:00:00.007Z' });
    const expected = [
      { ...second, inForceAt: null },
      { ...first, inForceAt: '2026-11-30T10:00:00.007Z' },
    ];
    expect(log.recent(10)).toEqual(expected);

    const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([first, second, record]);
    const reopened = await AuditLog.open(dir);
    expect(reopened.recent(10)).toEqual(expected);
    expect(reopened.changes()).toEqual([notify('a.example'), notify('b.example')]);
    // Seq numbers count entries only.
    expect((await reopened.append(entry('c.example', 3))).seq).toBe(3);
  });

  it('appends made at once keep their order and numbering', async () => {
    const log = await AuditLog.open(await folderWith());
    const [first, record, second] = await Promise.all([
      log.append(entry('a.example', 1)),
      log.appendInForce(1, 2, Date.parse('2026-11-30T10:00:01Z')),
      log.append(entry('b.example', 2)),
    ]);
    expect([first.seq, record.seq, second.seq]).toEqual([1, 1, 2]);
    expect(log.recent(2).map((view) => view.inForceAt)).toEqual([null, '2026-11-30T10:00:01.000Z']);
  });

  it('an in-force record a crash cut short is dropped like any torn last line: the change stays, without an instant', async () => {
    const dir = await folderWith([{ seq: 1, ...entry('a.example', 1) }]);
    const torn = JSON.stringify({ kind: 'in-force', seq: 1, version: 2, at: '2026-11-30T10:00:00.007Z' });
    const file = join(dir, 'audit.jsonl');
    await writeFile(file, `${await readFile(file, 'utf8')}${torn.slice(0, 30)}`);
    const log = await AuditLog.open(dir);
    expect(log.droppedTailBytes).toBe(30);
    expect(log.changes()).toEqual([notify('a.example')]);
    expect(log.recent(1)[0]?.inForceAt).toBeNull();
    await log.appendInForce(1, 2, Date.parse('2026-11-30T10:00:00.009Z'));
    expect((await AuditLog.open(dir)).recent(1)[0]?.inForceAt).toBe('2026-11-30T10:00:00.009Z');
  });

  it('a damaged in-force line, or one that does not match an entry before it, stops start-up naming the line', async () => {
    const first = { seq: 1, ...entry('a.example', 1) };
    const cases: Array<[unknown, string]> = [
      [{ kind: 'in-force', seq: 1, version: 2 }, 'expected an audit entry'], // no instant
      [{ kind: 'in-force', seq: 1, version: 2, at: 'yesterday' }, 'expected an audit entry'],
      [{ kind: 'applied', seq: 1, version: 2, at: '2026-11-30T10:00:00Z' }, 'expected an audit entry'],
      [
        { kind: 'in-force', seq: 1, version: 2, at: '2026-11-30T10:00:00Z', extra: 1 },
        'expected an audit entry',
      ],
      [{ kind: 'in-force', seq: 2, version: 3, at: '2026-11-30T10:00:00Z' }, 'expected an in-force record'],
      [{ kind: 'in-force', seq: 1, version: 5, at: '2026-11-30T10:00:00Z' }, 'expected an in-force record'],
    ];
    for (const [line, message] of cases) {
      const dir = await folderWith([first, line, { seq: 2, ...entry('b.example', 2) }]);
      const error = await openError(dir);
      expect(error.issues).toEqual([
        { file: join(dir, 'audit.jsonl'), line: 2, path: '', message: expect.stringContaining(message) },
      ]);
    }
    // An in-force record before the entry it names is out of place too.
    const early = await folderWith([
      { kind: 'in-force', seq: 1, version: 2, at: '2026-11-30T10:00:00Z' },
      first,
    ]);
    expect((await openError(early)).issues[0]).toMatchObject({ line: 1 });
  });
});
