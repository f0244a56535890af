import { createHook } from 'node:async_hooks';

// Held, never read: holding it keeps its maps alive.
let _heldEntry: object | undefined;

/**
 * Keeps one of Node's own `process.nextTick` queue entries alive for the life of the process, so that V8
 * keeps the hidden classes ("maps") every entry is built with. Without it, an edge that sat idle after it
 * started (as one does before its first traffic) could lose up to a fifth of its speed for good.
 *
 * node:http and node:stream call `process.nextTick` several times per request. Node builds each queue
 * entry with an object literal whose first keys are computed (`{ [async_id_symbol]: …,
 * [trigger_async_id_symbol]: …, callback, args }`), and V8's feedback for such a literal expects the same
 * map at each key. Entries live for one tick, and nothing else holds their maps. So a full GC that runs when
 * no entry is queued (an edge idle after it started: V8's memory reducer) collects them. The next entry gets
 * new maps, the feedback sees a second map and goes megamorphic. From then on, every entry of every
 * nextTick defines its keys through the V8 runtime. Measured in `pnpm bench`'s world, where each edge waits
 * while the other candidates start, per request: 451 38 → 30 µs of CPU, cache hit 37 → 31 µs,
 * pass-through 119 → 110 µs (edge README, "Hot path").
 *
 * A real entry is taken, through an async hook enabled for one nextTick call: a look-alike object would
 * share the maps only if it matched V8's field representations exactly. It runs as this module loads:
 * cli/main.ts imports it before anything else, so it runs before the first full GC.
 */
function keepNextTickShape(): void {
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') _heldEntry ??= resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
}

keepNextTickShape();
