export { createLogger } from './cli/logger.js';
export { ConfigError, type ConfigIssue } from './config/config-error.js';
export { type EdgeConfig, loadConfig, parseConfigText } from './config/load-config.js';
export { EdgeError, type EdgeErrorCode, type ErrorSource, toEdgeError } from './errors.js';
export { type EdgeNode, startEdgeNode } from './runtime/edge-node.js';
