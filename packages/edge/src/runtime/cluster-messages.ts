import type { PurgeSelector } from '@edge451/cache';
import type { PolicyChange } from '@edge451/policy';
import type { PolicySnapshot } from './policy-replica.js';

/** Primary → worker. */
export type PrimaryMessage =
  | { type: 'snapshot'; snapshot: PolicySnapshot }
  | { type: 'change'; change: PolicyChange; version: number }
  | { type: 'config' }
  | { type: 'purge'; id: number; selector: PurgeSelector }
  | { type: 'shutdown' };

/** Worker → primary: `hello` asks for a full snapshot (at start, or after falling behind). */
export type WorkerMessage =
  | { type: 'hello' }
  | { type: 'ready'; url: string }
  | { type: 'purged'; id: number; count: number; error?: { message: string; client: boolean } };
