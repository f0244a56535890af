// Data section types (MaxMind DB spec, "Output Data Section").
const POINTER = 1;
const STRING = 2;
const DOUBLE = 3;
const BYTES = 4;
const UINT16 = 5;
const UINT32 = 6;
const MAP = 7;
const INT32 = 8;
const UINT64 = 9;
const UINT128 = 10;
const ARRAY = 11;
const BOOLEAN = 14;
const FLOAT = 15;

const TYPE_NAMES: Record<number, string> = {
  [DOUBLE]: 'double',
  [UINT16]: 'uint16',
  [UINT32]: 'uint32',
  [INT32]: 'int32',
  [UINT64]: 'uint64',
  [UINT128]: 'uint128',
  [FLOAT]: 'float',
};

/** Largest payload each fixed-width type may declare; DOUBLE and FLOAT must match exactly. */
const MAX_SIZE: Record<number, number> = { [UINT16]: 2, [UINT32]: 4, [INT32]: 4, [UINT64]: 8, [UINT128]: 16 };
const EXACT_SIZE: Record<number, number> = { [DOUBLE]: 8, [FLOAT]: 4 };

const POINTER_BASE = [0, 2048, 526336, 0];

// GeoIP2 records nest four levels deep; anything much deeper is corrupt or hostile.
const MAX_DEPTH = 32;

/** Fields a record may carry a country in, by schema. */
export interface CountryFields {
  country?: string;
  registeredCountry?: string;
  countryCode?: string;
}

/**
 * Checks and reads the data section of a MaxMind DB file.
 *
 * Hand-written because `maxmind` (mmdb-lib) decodes leniently: it reads a double whatever size the
 * file declares, so MaxMind's `Broken-Double-Format` test file answers lookups with garbage instead
 * of failing. Before a database is used, every record the search tree points to goes through
 * {@link verifyRecord}, which checks types, sizes, bounds, map keys, pointers (never to a pointer,
 * always inside the section) and nesting depth, as libmaxminddb's verifier does.
 */
export class MmdbDataSection {
  private readonly verifiedTargets = new Set<number>();
  // Header of the value last read by `readHeader` (kept in fields to avoid allocating).
  private type = 0;
  private size = 0;
  private payload = 0;

  constructor(
    private readonly buffer: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** Verifies the record at `offset` (relative to the data section); throws an Error describing the fault. */
  verifyRecord(offset: number): void {
    this.verifyTarget(this.start + offset, 0);
  }

  /** Reads the country fields of a verified record at `offset`; missing or non-string fields are left out. */
  readCountryFields(offset: number): CountryFields {
    const fields: CountryFields = {};
    this.forEachEntry(this.start + offset, (key, valueAt) => {
      if (key === 'country') fields.country = this.isoCodeAt(valueAt);
      else if (key === 'registered_country') fields.registeredCountry = this.isoCodeAt(valueAt);
      else if (key === 'country_code') fields.countryCode = this.stringAt(valueAt);
    });
    return fields;
  }

  private isoCodeAt(at: number): string | undefined {
    let code: string | undefined;
    this.forEachEntry(at, (key, valueAt) => {
      if (key === 'iso_code') code = this.stringAt(valueAt);
    });
    return code;
  }

  private stringAt(at: number): string | undefined {
    this.readHeader(this.resolve(at));
    if (this.type !== STRING) return undefined;
    return this.buffer.toString('utf8', this.payload, this.payload + this.size);
  }

  /** Calls `visit(key, valueOffset)` for each entry of the map at `at`; does nothing if it is not a map. */
  private forEachEntry(at: number, visit: (key: string, valueAt: number) => void): void {
    this.readHeader(this.resolve(at));
    if (this.type !== MAP) return;
    let cursor = this.payload;
    for (let entries = this.size; entries > 0; entries--) {
      const key = this.stringAt(cursor) ?? '';
      const valueAt = this.verifyValue(cursor, 0);
      cursor = this.verifyValue(valueAt, 0);
      visit(key, valueAt);
    }
  }

  /** The offset a pointer at `at` leads to, or `at` itself. */
  private resolve(at: number): number {
    this.readHeader(at);
    return this.type === POINTER ? this.size : at;
  }

  private verifyTarget(at: number, depth: number): void {
    if (this.verifiedTargets.has(at)) return;
    this.verifyValue(at, depth);
    this.verifiedTargets.add(at);
  }

  /** Verifies the value at `at` and returns the offset just after it. */
  private verifyValue(at: number, depth: number): number {
    if (depth > MAX_DEPTH) throw new Error(`data nested deeper than ${MAX_DEPTH} levels at offset ${at}`);
    this.readHeader(at);
    const { type, size, payload } = this;
    switch (type) {
      case POINTER: {
        this.readHeader(size);
        if (this.type === POINTER) throw new Error(`pointer to a pointer at offset ${at}`);
        this.verifyTarget(size, depth + 1);
        return payload;
      }
      case MAP: {
        let cursor = payload;
        for (let entries = size; entries > 0; entries--) {
          this.readHeader(this.resolve(cursor));
          if (this.type !== STRING) throw new Error(`map key of type ${this.type} at offset ${cursor}`);
          cursor = this.verifyValue(cursor, depth + 1);
          cursor = this.verifyValue(cursor, depth + 1);
        }
        return cursor;
      }
      case ARRAY: {
        let cursor = payload;
        for (let items = size; items > 0; items--) cursor = this.verifyValue(cursor, depth + 1);
        return cursor;
      }
      case BOOLEAN:
        if (size > 1) throw new Error(`boolean of value ${size} at offset ${at}`);
        return payload;
      case STRING:
      case BYTES:
        return this.within(payload + size, at);
      default: {
        const exact = EXACT_SIZE[type];
        const max = MAX_SIZE[type];
        if (exact === undefined && max === undefined)
          throw new Error(`invalid data type ${type} at offset ${at}`);
        if ((exact !== undefined && size !== exact) || (max !== undefined && size > max)) {
          throw new Error(`${TYPE_NAMES[type]} of size ${size} at offset ${at}`);
        }
        return this.within(payload + size, at);
      }
    }
  }

  private within(next: number, at: number): number {
    if (next > this.end) throw new Error(`value at offset ${at} runs past the data section`);
    return next;
  }

  /**
   * Decodes the control byte(s) at `at` into `type`, `size`, `payload`. For a pointer, `size` is the
   * absolute offset it points to and `payload` the offset after the pointer. Throws if out of bounds.
   */
  private readHeader(at: number): void {
    const buffer = this.buffer;
    const byteAt = (index: number): number => {
      if (index < this.start || index >= this.end)
        throw new Error(`read outside the data section at ${index}`);
      return buffer[index] as number;
    };
    const control = byteAt(at);
    let cursor = at + 1;
    let type = control >> 5;
    if (type === POINTER) {
      // Spec, "Pointer": 001SSVVV. SS+1 more bytes follow; each longer form starts where the shorter
      // one ends (hence the bases), and the 4-byte form ignores VVV.
      const sizeBits = (control >> 3) & 3;
      let value = sizeBits === 3 ? 0 : control & 7;
      for (let index = 0; index <= sizeBits; index++) value = value * 256 + byteAt(cursor++);
      value += POINTER_BASE[sizeBits] as number;
      const target = this.start + value;
      if (target >= this.end) throw new Error(`pointer at offset ${at} leads outside the data section`);
      this.type = POINTER;
      this.size = target;
      this.payload = cursor;
      return;
    }
    if (type === 0) {
      type = 7 + byteAt(cursor++);
      if (type < 8 || type > 15) throw new Error(`invalid extended type ${type} at offset ${at}`);
    }
    let size = control & 0x1f;
    if (size === 29) size = 29 + byteAt(cursor++);
    else if (size === 30) size = 285 + byteAt(cursor++) * 256 + byteAt(cursor++);
    else if (size === 31) size = 65821 + byteAt(cursor++) * 65536 + byteAt(cursor++) * 256 + byteAt(cursor++);
    this.type = type;
    this.size = size;
    this.payload = cursor;
  }
}
