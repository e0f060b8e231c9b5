// The committed scan-kernel.wasm must be what its source compiles to, so a change to
// assembly/scan-kernel.ts that was not rebuilt (npm run build:kernel) cannot go unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('scan-kernel.wasm is the build of assembly/scan-kernel.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scan-kernel-'));
  try {
    const outFile = join(dir, 'scan-kernel.wasm');
    const asc = join('node_modules', '.bin', 'asc');
    const build = spawnSync(asc, ['--config', 'asconfig.json', '-o', outFile], { encoding: 'utf8' });
    assert.equal(build.status, 0, `asc failed: ${build.stderr}`);
    const rebuilt = readFileSync(outFile);
    const committed = readFileSync(join('src', 'scan-kernel', 'scan-kernel.wasm'));
    assert.ok(rebuilt.equals(committed), 'src/scan-kernel/scan-kernel.wasm differs from a fresh build: run npm run build:kernel and commit it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
