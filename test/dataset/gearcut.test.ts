import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { compileGearCut, renderGearCutSource } from '../../scripts/build-wasm.js';
import { DEFAULT_CDC, FastCdc, GearScanner, cutPoint, type CdcParameters, type CdcScanner } from '../../src/dataset/fastcdc.js';

function text(bytes: number): Buffer {
  const words = ['storage', 'dedup', 'block', 'the', 'of', 'chunk', 'page', 'TOAST', 'extent', 'record'];
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `${words[(i * 7) % words.length]} ${i % 1000}${i % 13 === 0 ? '\n' : ' '}`;
  return Buffer.from(out.slice(0, bytes));
}

const topBits = (count: number): number => (0xffffffff << (32 - count)) >>> 0;
const PARAMS: CdcParameters[] = [DEFAULT_CDC, { min: 64, avg: 256, max: 1024 }, { min: 4096, avg: 16384, max: 65536 }];

test('the committed WebAssembly is exactly what gearcut.wat compiles to (run npm run build:wasm after editing it)', async () => {
  const committed = await readFile(new URL('../../src/dataset/gearcut-wasm.ts', import.meta.url), 'utf8');
  assert.equal(committed, renderGearCutSource(await compileGearCut()));
});

test('WebAssembly cut points equal the JS cut points at every start, on random and text data', () => {
  const scanner = new GearScanner();
  for (const data of [randomBytes(300_000), text(300_000), Buffer.alloc(100_000)]) {
    scanner.load(data);
    for (const params of PARAMS) {
      const bits = Math.round(Math.log2(params.avg));
      const [maskS, maskL] = [topBits(bits + 2), topBits(bits - 2)];
      let cuts = 0;
      for (let start = 0; start < data.length; start += 997) {
        for (const end of [data.length, Math.min(data.length, start + params.min + 1), Math.min(data.length, start + params.avg + 3)]) {
          const expected = cutPoint(data, start, end, params, maskS, maskL);
          assert.equal(scanner.cut(start, end, params, maskS, maskL), expected, `start ${start} end ${end} ${JSON.stringify(params)}`);
          if (expected < Math.min(end - start, params.max)) cuts++;
        }
      }
      // Zero data never cuts before max; the others must exercise real cut points.
      if (data[0] !== 0 || data[1] !== 0) assert.ok(cuts > 100, `${cuts} content-defined cuts`);
    }
  }
});

test('FastCdc streams the same chunks with either scanner, pushed in uneven pieces', () => {
  const chunksOf = (data: Buffer, scanner: CdcScanner): number[] => {
    const lengths: number[] = [];
    const cdc = new FastCdc((chunk) => lengths.push(chunk.length), DEFAULT_CDC, scanner);
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7919 + 13) % 300_000) cdc.push(data.subarray(at, at + step));
    cdc.finish();
    return lengths;
  };
  for (const data of [randomBytes(3_000_000), text(2_000_000)]) {
    const wasm = chunksOf(data, 'wasm');
    assert.deepEqual(wasm, chunksOf(data, 'js'));
    assert.equal(wasm.reduce((sum, length) => sum + length, 0), data.length);
    assert.ok(wasm.length > 100, `${wasm.length} chunks`);
  }
});
