// Builds the browser monitor: dist/monitor.js (a <script> that defines window.RollgateMonitor)
// and dist/monitor.mjs (an ES module). No runtime dependencies; esbuild only strips types and bundles two files.
import { build } from 'esbuild';

const common = { bundle: true, target: 'es2019', platform: 'browser', minify: true, sourcemap: true, logLevel: 'warning', absWorkingDir: import.meta.dirname };
await build({ ...common, entryPoints: ['src/monitor-global.ts'], format: 'iife', outfile: 'dist/monitor.js' });
await build({ ...common, entryPoints: ['src/monitor.ts'], format: 'esm', outfile: 'dist/monitor.mjs' });
