/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) the summary reads. */
export type CpuProfile = {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
};

/**
 * A function's self time. `via` is the nearest caller outside Node's internals and native code (a
 * function of ours or of a dependency) that the time was spent under most: it says who asked for the
 * `writev` or the `DOMException`.
 */
export type ProfileEntry = { name: string; where: string; selfMs: number; share: number; via: string };

/** Where the busy time went: the top functions by self time, and the share of each code owner. */
export type ProfileSummary = {
  busyMs: number;
  idleShare: number;
  top: ProfileEntry[];
  byOwner: { owner: string; share: number }[];
};

/**
 * Sums self time per function (samples × their time deltas) and per owner: edge451's own packages, each
 * dependency, Node's internals, V8's garbage collector and `(program)` (native code outside JS). Leaves
 * out the first `skipFirstMs` (start-up and warm-up are not what a benchmark asks about) and idle time:
 * the shares say where the busy time under load goes.
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  { topCount = 15, skipFirstMs = 0 } = {},
): ProfileSummary {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const selfByFunction = new Map<string, ProfileEntry & { callers: Map<string, number> }>();
  const selfByOwner = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let elapsedUs = 0;
  profile.samples.forEach((nodeId, index) => {
    const delta = Math.max(0, profile.timeDeltas[index] ?? 0);
    elapsedUs += delta;
    if (elapsedUs < skipFirstMs * 1000) return;
    const frame = byNode.get(nodeId)?.callFrame;
    if (frame === undefined) return;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    busyUs += delta;
    const where = frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const entry = selfByFunction.get(key) ?? {
      name,
      where,
      selfMs: 0,
      share: 0,
      via: '',
      callers: new Map(),
    };
    entry.selfMs += delta / 1000;
    const caller = nearestOwnCaller(nodeId, byNode, parents);
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + delta);
    selfByFunction.set(key, entry);
    const owner = ownerOf(frame.url, name);
    selfByOwner.set(owner, (selfByOwner.get(owner) ?? 0) + delta);
  });
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  const top = [...selfByFunction.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topCount)
    .map(({ callers, ...entry }) => ({
      ...entry,
      share: share(entry.selfMs * 1000),
      via: [...callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
    }));
  const byOwner = [...selfByOwner.entries()]
    .map(([owner, us]) => ({ owner, share: share(us) }))
    .sort((a, b) => b.share - a.share);
  return { busyMs: busyUs / 1000, idleShare: idleUs / Math.max(1, idleUs + busyUs), top, byOwner };
}

/** The closest frame above `nodeId` (itself included) whose code is ours or a dependency's, as `name (file)`. */
function nearestOwnCaller(
  nodeId: number,
  byNode: Map<number, CpuProfile['nodes'][number]>,
  parents: Map<number, number>,
): string {
  for (let id: number | undefined = nodeId; id !== undefined; id = parents.get(id)) {
    const frame = byNode.get(id)?.callFrame;
    if (frame === undefined || frame.url === '' || frame.url.startsWith('node:')) continue;
    return `${frame.functionName || '(anonymous)'} (${shortUrl(frame.url)}:${frame.lineNumber + 1})`;
  }
  return '';
}

/** Who owns a frame's code: `@edge451/cache`, a dependency's name, `node internals`, or V8's pseudo-frames. */
export function ownerOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : 'native';
  if (url.startsWith('node:')) return 'node internals';
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency?.[1] !== undefined && !dependency[1].startsWith('@edge451/')) return dependency[1];
  const ownPackage = /\/packages\/([^/]+)\//.exec(url);
  if (ownPackage?.[1] !== undefined) return `@edge451/${ownPackage[1]}`;
  return 'other';
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const own = /\/packages\/([^/]+)\/(?:dist|src)\/(.+)$/.exec(path);
  if (own !== null) return `${own[1]}/${own[2]}`;
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(.+)$/.exec(path);
  if (dependency?.[1] !== undefined) return dependency[1];
  return path;
}
