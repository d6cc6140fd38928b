// recon-detector: the recon detector component (wit/detector.wit) on
// Node.js. See docs/hosts/node.md.

export { Detector, Input, listRules } from './detector.js';
export { detect } from './detect.js';
export { formatAlert } from './alert.js';
export { builtInRules, componentInfo } from './component.js';
export { CATALOGUE, resolveRules } from './rules.js';
export { ReconError, ConfigError, EventError, SnapshotError, InputError } from './errors.js';
