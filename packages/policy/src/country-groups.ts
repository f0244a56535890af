import {
  BUILT_IN_COUNTRY_GROUPS,
  COUNTRY_GROUP_NAME,
  describeBadCountryCode,
  isCountryCode,
} from './countries.js';
import type { IssueSink } from './issue-sink.js';
import type { GroupResolver } from './validate-order.js';

type DefinedGroup = { codes: readonly string[]; sink: IssueSink; key: string };

/**
 * The country groups of one policy: the built-in ones plus those its documents define. A group is a
 * flat list of ISO codes (groups do not nest); a name is 3+ characters so it never looks like a code.
 */
export class CountryGroups {
  private readonly defined = new Map<string, DefinedGroup>();

  /** Validates and adds the `countryGroups` mapping of one document; reports problems to `sink`. */
  addFrom(raw: unknown, sink: IssueSink): void {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return; // the schema reported it
    for (const [key, members] of Object.entries(raw)) {
      const path = ['countryGroups', key];
      const name = key.toUpperCase();
      if (!COUNTRY_GROUP_NAME.test(name)) {
        sink.add(
          path,
          `expected a group name of 3–64 letters, digits, "-" or "_", found ${JSON.stringify(key)}`,
        );
        continue;
      }
      if (BUILT_IN_COUNTRY_GROUPS[name] !== undefined) {
        sink.add(
          path,
          `"${name}" is a built-in group (${BUILT_IN_COUNTRY_GROUPS[name]?.join(' ')}); choose another name`,
        );
        continue;
      }
      const codes = this.validateMembers(members, sink, path);
      if (codes === undefined) continue;
      const existing = this.defined.get(name);
      if (existing !== undefined && existing.codes.join() !== codes.join()) {
        sink.add(
          path,
          `group "${name}" is already defined differently at ${existing.sink.where(['countryGroups', existing.key])}`,
        );
        continue;
      }
      this.defined.set(name, { codes, sink, key });
    }
  }

  private validateMembers(members: unknown, sink: IssueSink, path: string[]): string[] | undefined {
    if (!Array.isArray(members)) return undefined; // the schema reported it
    const codes = new Set<string>();
    let valid = true;
    members.forEach((member, index) => {
      if (typeof member !== 'string') return;
      const code = member.trim().toUpperCase();
      if (isCountryCode(code)) {
        codes.add(code);
        return;
      }
      valid = false;
      const message =
        code.length === 2
          ? describeBadCountryCode(code)
          : `expected an ISO 3166-1 alpha-2 code (groups do not nest), found ${JSON.stringify(member)}`;
      sink.add([...path, index], message);
    });
    return valid ? [...codes].sort() : undefined;
  }

  /** Resolves a group name (upper case) to its codes. */
  readonly resolve: GroupResolver = (name) => BUILT_IN_COUNTRY_GROUPS[name] ?? this.defined.get(name)?.codes;

  /** The groups documents defined (not the built-in ones), for the document form. */
  toRecord(): Record<string, string[]> {
    const record: Record<string, string[]> = {};
    for (const [name, group] of this.defined) record[name] = [...group.codes];
    return record;
  }

  /** Rebuilds groups from a validated record (no sink needed: it was checked when first read). */
  static fromRecord(record: Readonly<Record<string, readonly string[]>>, sink: IssueSink): CountryGroups {
    const groups = new CountryGroups();
    groups.addFrom(record, sink);
    return groups;
  }
}
