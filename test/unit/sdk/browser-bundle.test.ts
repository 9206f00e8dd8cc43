import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The SDK's browser path: bundled by esbuild for the browser platform, it must
 * resolve without any Node built-in (esbuild fails on one it cannot find) and
 * reach only fetch and WebCrypto.
 */
describe('SDK browser build', () => {
  it('bundles for platform browser with no Node-only import', async () => {
    const result = await build({
      entryPoints: [new URL('../../../sdk/src/index.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    expect(imports.filter((path) => path.startsWith('node:') || builtins.has(path))).toEqual([]);
    expect(inputs.some((path) => path.includes('@noble/hashes'))).toBe(true);
    const code = result.outputFiles[0]?.text ?? '';
    expect(code).not.toMatch(/\brequire\(|from\s*["']node:|\bprocess\.|\bBuffer\b/);
    expect(code).toContain('crypto.subtle');
  });
});
