import {
  appendFile,
  copyFile,
  type FileHandle,
  mkdtemp,
  open,
  readFile,
  rename,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyChange } from '@edge451/policy';
import { describe, expect, it, vi } from 'vitest';
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

describe('entries number 1, 2, 3… in file order', () => {
  const record = (seq: number) => ({ kind: 'in-force', seq, version: seq + 1, at: '2026-11-30T10:00:01Z' });

  it('a gap, a log that starts late, or a repeated entry stops start-up at the line that breaks it', async () => {
    const [a, b, c] = ['a.example', 'b.example', 'c.example'].map((host, index) => ({
      seq: index + 1,
      ...entry(host, index + 1),
    }));
    const cases: Array<[unknown[], number, string]> = [
      [
        [a, c],
        2,
        'expected the entry with seq 2 (entries number 1, 2, 3… in file order), found seq 3: entry 2 is missing',
      ],
      [[c], 1, 'found seq 3: entries 1 to 2 are missing'],
      [[a, record(1), b, a], 4, 'found seq 1: this entry repeats an earlier seq'],
      [[b, a], 1, 'expected the entry with seq 1'],
    ];
    for (const [lines, line, message] of cases) {
      const dir = await folderWith(lines);
      expect((await openError(dir)).issues).toEqual([
        { file: join(dir, 'audit.jsonl'), line, path: 'seq', message: expect.stringContaining(message) },
      ]);
    }
  });

  it('a second in-force record for one entry is refused as damage', async () => {
    const dir = await folderWith([{ seq: 1, ...entry('a.example', 1) }, record(1), record(1)]);
    expect((await openError(dir)).issues).toEqual([
      expect.objectContaining({ line: 3, message: expect.stringContaining('found a second one') }),
    ]);
  });
});

describe('stored changes are checked when the log is opened', () => {
  it('a damaged change stops start-up naming the line and the field, with how to repair it', async () => {
    const damaged: Array<[Record<string, unknown>, string, string]> = [
      [
        { ...entry('a.example', 1), change: { ...notify('a.example'), type: 'notifx' } },
        'change.type',
        'found "notifx"',
      ],
      [
        { ...entry('a.example', 1), change: { ...notify('a.example'), hosts: ['a..example'] } },
        'change.hosts[0]',
        '',
      ],
      [{ ...entry('a.example', 1), change: { ...notify('a.example'), at: 'now' } }, 'change.at', ''],
      [
        { ...entry('a.example', 1), action: 'lift-host' },
        'action',
        'expected "notify", the type of the stored change',
      ],
      [{ ...entry('a.example', 1), change: undefined }, 'action', 'for an entry without a change'],
    ];
    for (const [line, path, message] of damaged) {
      const dir = await folderWith([
        { seq: 1, ...entry('z.example', 1) },
        { seq: 2, ...line },
      ]);
      expect((await openError(dir)).issues).toEqual([
        {
          file: join(dir, 'audit.jsonl'),
          line: 2,
          path,
          message: expect.stringMatching(
            new RegExp(`${message.replace(/[.()[\]]/g, '\\$&')}.*Repairing the state directory`),
          ),
        },
      ]);
    }
  });

  it('a well-formed change for an order the files may no longer have loads (replay decides), and so do reload entries', async () => {
    const gone = { ...notify('a.example'), orderId: 'removed-from-the-files' };
    const dir = await folderWith([
      { seq: 1, ...entry('a.example', 1), change: gone },
      {
        seq: 2,
        at: '2026-11-30T10:00:00.000Z',
        actor: 'signal',
        action: 'reload',
        versionBefore: 2,
        versionAfter: 3,
      },
    ]);
    expect((await AuditLog.open(dir)).changes()).toEqual([gone]);
  });
});

describe('appending', () => {
  // FileHandle's class, to make one write or truncate fail as a full disk or a failing device does.
  async function fileHandlePrototype(dir: string) {
    const handle = await open(join(dir, 'probe'), 'w');
    await handle.close();
    return Object.getPrototypeOf(handle) as FileHandle;
  }
  const diskFull = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });

  it('an append that fails part-way is cut back off: the next one starts its own line and the log reopens', async () => {
    const dir = await folderWith();
    const log = await AuditLog.open(dir);
    await log.append(entry('a.example', 1));
    const file = join(dir, 'audit.jsonl');
    const size = (await stat(file)).size;
    const spy = vi.spyOn(await fileHandlePrototype(dir), 'appendFile').mockImplementationOnce(async function (
      this: FileHandle,
      data,
    ) {
      await this.write((data as Buffer).subarray(0, 20)); // what fitted on the disk
      throw diskFull();
    });
    try {
      await expect(log.append(entry('b.example', 2))).rejects.toMatchObject({
        code: 'EDGE_AUDIT_LOG_REFUSED',
        message: expect.stringContaining('could not be stored'),
      });
    } finally {
      spy.mockRestore();
    }
    expect((await stat(file)).size).toBe(size);
    expect((await log.append(entry('c.example', 2))).seq).toBe(2);
    expect((await AuditLog.open(dir)).changes()).toEqual([notify('a.example'), notify('c.example')]);
  });

  it('when the cut-back fails too, every later append is refused: nothing is written after a torn line', async () => {
    const dir = await folderWith();
    const log = await AuditLog.open(dir);
    await log.append(entry('a.example', 1));
    const prototype = await fileHandlePrototype(dir);
    const write = vi.spyOn(prototype, 'appendFile').mockImplementationOnce(async function (
      this: FileHandle,
      data,
    ) {
      await this.write((data as Buffer).subarray(0, 20));
      throw diskFull();
    });
    const truncate = vi.spyOn(prototype, 'truncate').mockRejectedValueOnce(diskFull());
    try {
      await expect(log.append(entry('b.example', 2))).rejects.toThrow(/could not be cut back/);
    } finally {
      write.mockRestore();
      truncate.mockRestore();
    }
    await expect(log.append(entry('c.example', 2))).rejects.toThrow(/could not be cut back/);
    await expect(log.appendInForce(1, 2, Date.now())).rejects.toThrow(/could not be cut back/);
    await log.close();
    // A restart cuts off the torn bytes, as after a crash mid-append.
    const reopened = await AuditLog.open(dir);
    expect(reopened.droppedTailBytes).toBe(20);
    expect(reopened.changes()).toEqual([notify('a.example')]);
  });

  it('a log moved, replaced or written to by something else is not appended to; put back, it is', async () => {
    const dir = await folderWith();
    const log = await AuditLog.open(dir);
    await log.append(entry('a.example', 1));
    const file = join(dir, 'audit.jsonl');
    const refused = (pattern: RegExp) =>
      expect(log.append(entry('b.example', 2))).rejects.toMatchObject({
        code: 'EDGE_AUDIT_LOG_REFUSED',
        message: expect.stringMatching(pattern),
      });

    const original = await readFile(file);
    await rename(file, `${file}.1`); // rotated away
    await refused(/is no longer the file this node opened/);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    await copyFile(`${file}.1`, file); // replaced by a copy: same bytes, another file
    await refused(/is no longer the file this node opened/);
    await rename(`${file}.1`, file); // the original back in place
    await appendFile(file, '{"seq":2}\n'); // …and written to by someone else
    await refused(/is \d+ bytes where this node left \d+/);
    await truncate(file, (await stat(file)).size - 15); // …or cut
    await refused(/is \d+ bytes where this node left \d+/);

    await writeFile(file, original); // repaired in place: the same file, as the node left it
    expect((await log.append(entry('b.example', 2))).seq).toBe(2);
    expect((await AuditLog.open(dir)).changes()).toEqual([notify('a.example'), notify('b.example')]);
  });

  it('a log opened read-only (edge451 decide) refuses to append and leaves no file behind', async () => {
    const dir = join(await folderWith(), 'state');
    const log = await AuditLog.open(dir, { readOnly: true });
    await expect(log.append(entry('a.example', 1))).rejects.toThrow(/read-only/);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });
});
