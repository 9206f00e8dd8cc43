import { RollgateMonitor } from './monitor.js';

// The <script src="monitor.js"> build: `new RollgateMonitor({...})` without a bundler.
(globalThis as unknown as { RollgateMonitor: typeof RollgateMonitor }).RollgateMonitor = RollgateMonitor;
