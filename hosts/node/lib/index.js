// recon-detector: the recon detector component (wit/detector.wit) on
// Node.js. See docs/hosts/node.md.

export { Detector, Input } from './detector.js';
export { detect } from './detect.js';
export { formatAlert } from './alert.js';
export { componentInfo } from './component.js';
export { RULES } from './options.js';
export { ReconError, ConfigError, EventError, SnapshotError, InputError } from './errors.js';
