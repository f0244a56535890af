import type { PurgeSelector } from '@edge451/cache';
import type { PolicyChange } from '@edge451/policy';
import type { EdgeConfig } from '../config/load-config.js';
import type { PolicySnapshot } from './policy-replica.js';

/** Primary → worker. `config` versions number the reloads (the start config is version 0). */
export type PrimaryMessage =
  | { type: 'start'; config: EdgeConfig; snapshot: PolicySnapshot }
  | { type: 'snapshot'; snapshot: PolicySnapshot }
  | { type: 'change'; change: PolicyChange; version: number }
  | { type: 'config'; version: number; config: EdgeConfig }
  | { type: 'purge'; id: number; selector: PurgeSelector }
  | { type: 'shutdown' };

/**
 * Worker → primary: `hello` asks for the config and policy to start with; `resync` for a fresh snapshot;
 * `policy-applied` confirms the worker decides requests with `version` from now on (after every change or
 * snapshot it swaps in), which is what the primary's in-force records wait for; `config-applied` likewise
 * confirms a reloaded config, which SIGHUP's `reloaded` waits for.
 */
export type WorkerMessage =
  | { type: 'hello' }
  | { type: 'resync' }
  | { type: 'ready'; url: string }
  | { type: 'policy-applied'; version: number }
  | { type: 'config-applied'; version: number }
  | { type: 'purged'; id: number; count: number; error?: { message: string; client: boolean } };
