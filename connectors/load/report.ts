/** The sync report as text for the terminal (the JSON form is the SyncReport itself). */
import type { SyncReport } from './sync';

export function formatReport(r: SyncReport, opts: { mapping?: boolean } = {}): string {
  const out: string[] = [];
  const secs = ((new Date(r.finished_at).getTime() - new Date(r.started_at).getTime()) / 1000).toFixed(1);
  out.push(r.ok ? `${r.kind} finished in ${secs} s` : `${r.kind} FAILED after ${secs} s and was rolled back: nothing was changed`);
  if (r.error) out.push(`  error: ${r.error}`);
  for (const s of r.sources) {
    out.push('');
    out.push(`${s.source} (${s.type} → ${s.entity})${s.location ? `  ${s.location}` : ''}  [${s.status}]`);
    if (s.error && s.status !== 'failed') out.push(`  ${s.error}`);
    const skippedBy = Object.entries(s.skipped_by)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n.toLocaleString()} ${k}`)
      .join(', ');
    out.push(
      `  rows ${s.rows.toLocaleString()}: loaded ${s.loaded.toLocaleString()}, updated ${s.updated.toLocaleString()}, ` +
        `rejected ${s.rejected.toLocaleString()}, skipped ${s.skipped.toLocaleString()}${skippedBy ? ` (${skippedBy})` : ''}`
    );
    if (opts.mapping && s.mapping.length) {
      out.push('  mapping (field ← column):');
      for (const m of s.mapping) out.push(`    ${m.field.padEnd(20)} ← ${m.column}${m.how === 'alias' ? '  (auto)' : ''}${m.unit ? `  [unit ${m.unit}, from ${m.unit_from}]` : ''}`);
      if (s.unmapped.length) out.push(`    kept in attributes: ${s.unmapped.join(', ')}`);
    }
    // English, with the warning's code (the upload page says it in Chinese or English by code).
    s.warnings.slice(0, 20).forEach((w, i) => {
      const code = s.warning_refs?.[i]?.code;
      out.push(`  warning: ${w}${code ? ` [${code}]` : ''}`);
    });
    if (s.warnings.length > 20) out.push(`  … ${s.warnings.length - 20} more warnings (--json shows all)`);
    for (const j of s.rejections.slice(0, 20)) {
      out.push(`  rejected: ${j.sheet ? `sheet "${j.sheet}", ` : ''}row ${j.row}${j.column ? `, column "${j.column}"` : ''}${j.value !== null ? `, value "${j.value}"` : ''}: ${j.reason}`);
    }
    if (s.rejected > 20) out.push(`  … ${s.rejected - 20} more rejected rows: \`cockpit rejected --run ${s.run_id}\``);
    else if (s.rejected > 0) out.push(`  export them to fix and re-import: cockpit rejected --run ${s.run_id} --out rejected.xlsx`);
  }
  if (r.merges.length) {
    out.push('');
    out.push(`customers merged: ${r.merges.length}`);
    for (const m of r.merges.slice(0, 20)) out.push(`  "${m.from}" → "${m.into}" (same ${m.by}: ${m.key})`);
  }
  const stubs = Object.entries(r.stubs).filter(([, n]) => n > 0);
  if (stubs.length) out.push(`created from references: ${stubs.map(([e, n]) => `${n} ${e}`).join(', ')}`);
  const dq = r.data_quality;
  if (dq) {
    out.push('');
    out.push(
      `open deals the forecast's data-quality rules touched: amount fallback ${dq.amount_fallback.toLocaleString()}, ` +
        `no amount ${dq.amount_missing.toLocaleString()}, no close date ${dq.undated.toLocaleString()}, close date past ${dq.past_due.toLocaleString()}`
    );
  }
  return out.join('\n');
}

/** True when the sync loaded or updated at least one row. */
export function anythingLoaded(r: SyncReport): boolean {
  return r.ok && r.sources.some((s) => s.loaded + s.updated > 0);
}
