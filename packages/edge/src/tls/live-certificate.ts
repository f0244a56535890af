import { type BigIntStats, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  type CertificateFiles,
  type CertificatePair,
  CertificateProblem,
  loadCertificatePair,
} from './certificate-pair.js';

/** What one poll found: a renewal taken, or one refused (the previous pair stays in use). */
export type RenewalEvent =
  | { ok: true; before: CertificatePair; after: CertificatePair }
  | { ok: false; current: CertificatePair; problem: CertificateProblem };

/**
 * A certificate pair that follows its files (DECISIONS #17). Polling `stat` (which follows symlinks) sees
 * both kinds of renewal: a file renamed over the old one (new inode) and certbot re-pointing its `live/`
 * symlinks at new `archive/` files (the target's inode). fs.watch would miss the second on most systems
 * and loses track of a file once it is renamed over.
 * A change is loaded only once the files look the same on two polls in a row, so a renewal caught halfway
 * (new certificate, old key) is not refused for a mismatch that is about to resolve itself.
 */
export class LiveCertificate {
  private settled: string;
  private pending: string | undefined;

  private constructor(
    private pair: CertificatePair,
    signature: string,
  ) {
    this.settled = signature;
  }

  /** Loads the pair now (throws CertificateProblem, like loadCertificatePair). */
  static open(files: CertificateFiles): LiveCertificate {
    const signature = signatureNow(files);
    return new LiveCertificate(loadCertificatePair(files), signature);
  }

  /** The pair new connections get. */
  get current(): CertificatePair {
    return this.pair;
  }

  /**
   * Looks at the files once. Resolves undefined while nothing (or nothing settled) changed; otherwise with
   * the renewal taken or refused. A refused change is not retried until the files change again.
   */
  async poll(): Promise<RenewalEvent | undefined> {
    const signature = await signatureOf(this.pair.files);
    if (signature === this.settled) {
      this.pending = undefined;
      return undefined;
    }
    if (signature !== this.pending) {
      this.pending = signature;
      return undefined;
    }
    this.pending = undefined;
    this.settled = signature;
    let next: CertificatePair;
    try {
      next = loadCertificatePair(this.pair.files);
    } catch (error) {
      if (!(error instanceof CertificateProblem)) throw error;
      return { ok: false, current: this.pair, problem: error };
    }
    const before = this.pair;
    if (next.pem.cert.equals(before.pem.cert) && next.pem.key.equals(before.pem.key)) return undefined;
    this.pair = next;
    return { ok: true, before, after: next };
  }
}

// Inode, size and nanosecond times of what each path points to now; a file that is missing is a state too.
async function signatureOf(files: CertificateFiles): Promise<string> {
  const parts = await Promise.all(
    [files.cert, files.key].map((file) => stat(file, { bigint: true }).then(describeStat, describeMissing)),
  );
  return parts.join('|');
}

function signatureNow(files: CertificateFiles): string {
  return [files.cert, files.key]
    .map((file) => {
      try {
        return describeStat(statSync(file, { bigint: true }));
      } catch (error) {
        return describeMissing(error);
      }
    })
    .join('|');
}

function describeStat(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

function describeMissing(error: unknown): string {
  return `missing:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
}
