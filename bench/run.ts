/**
 * `npm run bench [suite ...]`: runs benchmark suites, each measuring crm-cockpit beside a
 * baseline in the same run (so the ratio, not the absolute time, is what to compare), and
 * writes bench/results/<suite>.json plus a markdown table for the README.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { suites } from './suites/index';

export interface BenchRow {
  case: string;
  /** What crm-cockpit measured (ms unless `unit` says otherwise). */
  value: number;
  baseline?: number;
  baseline_label?: string;
  unit?: string;
  note?: string;
}

const selected = process.argv.slice(2);
const run = selected.length ? suites.filter((s) => selected.includes(s.name)) : suites;
const unknown = selected.filter((s) => !suites.some((x) => x.name === s));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${suites.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
for (const s of run) {
  console.error(`\n# ${s.name}: ${s.description}`);
  const rows = await s.run((m) => console.error(`  ${m}`));
  const result = { suite: s.name, description: s.description, machine: machine(), at: new Date().toISOString(), rows };
  writeFileSync(join(dir, `${s.name}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(`\n### ${s.name}\n\n| case | crm-cockpit | baseline | ratio | note |\n|---|---:|---:|---:|---|`);
  for (const r of rows) {
    const unit = r.unit ?? 'ms';
    const ratio = r.baseline ? `${(r.value / r.baseline).toFixed(2)}×` : '';
    console.log(`| ${r.case} | ${fmt(r.value)} ${unit} | ${r.baseline ? `${fmt(r.baseline)} ${unit} (${r.baseline_label})` : ''} | ${ratio} | ${r.note ?? ''} |`);
  }
}

function machine() {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}
