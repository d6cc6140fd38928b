// recon-detector: the recon detector component (wit/detector.wit) on
// Node.js. See docs/hosts/node.md.

export { Detector } from './detector.js';
export { detect } from './detect.js';
export { formatAlert, formatTime } from './alert.js';
export { componentInfo } from './component.js';
export { RULES } from './options.js';
export { readChunks } from './input.js';
export { ReconError, ConfigError, EventError, SnapshotError, InputError } from './errors.js';
