// The public API of @edge451/policy: other packages import nothing else.
export { CLOCK_SKEW_ALLOWANCE_MS } from './change-dating.js';
export { type CompileOptions, compilePolicy } from './compile.js';
export { BUILT_IN_COUNTRY_GROUPS, isCountryCode, normalizeCountry } from './countries.js';
export type { Decision, DecisionQuery, DecisionReason } from './decide.js';
export { type DiffInstants, diffBlockedHosts } from './diff.js';
export type { LiftDocument, NotificationDocument, OrderDocument, PolicyDocument } from './document.js';
export { type PolicyIssue, PolicyValidationError } from './errors.js';
export { type HostKind, type InvalidHost, type NormalizedHost, normalizeHost } from './host.js';
export type { HostEntry, MatchKindName } from './host-pattern.js';
export { loadPolicyFiles, type PolicyFormat, parsePolicyText } from './load.js';
export type { Order, OrderHost } from './order.js';
export type { ApplyOptions, Policy, PolicyStats } from './policy.js';
export type { ReplayOptions, SkippedChange } from './replay.js';
export { changeShapeIssues, type PolicyChange } from './validate-change.js';
