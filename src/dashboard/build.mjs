// Builds the dashboard served at / into dist/dashboard: app.js (ES module, ECharts bundled in), app.css, index.html.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const here = import.meta.dirname;
const out = `${here}/../../dist/dashboard`;
await mkdir(out, { recursive: true });
await build({
  entryPoints: [`${here}/web/main.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'external',
  logLevel: 'warning',
  outfile: `${out}/app.js`,
});
await copyFile(`${here}/web/style.css`, `${out}/app.css`);
await copyFile(`${here}/web/index.html`, `${out}/index.html`);
