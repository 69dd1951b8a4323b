/**
 * `cockpit alerts` — list rules and reports with their next runs, last evaluations and the
 * delivery log; `cockpit alerts test <name>` — a dry run printing, per audience member and
 * channel, the exact payload that would be sent (secrets masked); `cockpit alerts run [<name>]`
 * — evaluate now and deliver. When `cockpit serve` holds the database, the CLI asks the server
 * (GET /api/alerts, POST /api/alerts/run), as `cockpit sync` does.
 */
import type { CockpitConfig } from '../../lib/server/config/schema';
import type { Overview, RunDescription, RunRequest } from '../../lib/server/alerts/service';
import { CliError, configFrom, databaseFor, parse, type Command } from '../command';
import { runningServer, tokenFor } from './sync';

async function viaServer<T>(cfg: CockpitConfig, path: string, body?: unknown): Promise<T | null> {
  const server = await runningServer(cfg.database);
  if (!server) return null;
  console.error(`the database is held by the running server (${server.url}): asking it`);
  const token = await tokenFor(cfg);
  const res = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const out = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401 || res.status === 403) throw new CliError(`the server refused (${out.error ?? res.status}): set COCKPIT_SECRET (as the server has it) or COCKPIT_TOKEN to an executive token`);
  if (!res.ok) throw new CliError(out.error ?? `the server answered ${res.status}`);
  return out as T;
}

const time = (iso: string | null, tz: string) =>
  iso ? new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(new Date(iso.endsWith('Z') ? iso : `${iso}Z`)) : '—';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].reduce((w, ch) => w + (/[\u2e80-\uffef]/.test(ch) ? 2 : 1), 0))));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(Math.max(0, widths[i] - [...c].reduce((w, ch) => w + (/[\u2e80-\uffef]/.test(ch) ? 2 : 1), 0)))).join('  ').trimEnd()).join('\n');
}

function printOverview(o: Overview) {
  if (o.items.length === 0) {
    console.log('No alert rules or reports configured (cockpit.config.json → "alerts"; see docs/alerts.md).');
    return;
  }
  console.log(`Rules and reports (times in ${o.timezone}):\n`);
  console.log(table([['name', 'kind', 'model / board', 'audience', 'schedule', 'next run', 'channels'], ...o.items.map((i) => [i.name, i.enabled ? i.kind : `${i.kind} (disabled)`, i.source, i.audience, i.schedule, time(i.next_run, o.timezone), i.channels.join(', ')])]));
  console.log('\nLast evaluations:\n');
  console.log(o.evaluations.length ? table([['time', 'name', 'audience', 'status', 'rows', 'summary'], ...o.evaluations.map((e) => [time(e.evaluated_at, o.timezone), e.rule, `${e.audience} ${e.audience_label ?? ''}`.trim(), e.status, String(e.hits), (e.error ?? e.summary ?? '').slice(0, 90)])]) : '  none yet');
  console.log('\nDeliveries:\n');
  console.log(o.deliveries.length ? table([['time', 'name', 'audience', 'channel', 'kind', 'status', 'attempts', 'error'], ...o.deliveries.map((d) => [time(d.created_at, o.timezone), d.rule, d.audience, `${d.channel} (${d.channel_type})`, d.kind, d.status, String(d.attempts), (d.error ?? '').slice(0, 80)])]) : '  none yet');
}

function printRun(runs: RunDescription[], dry: boolean) {
  for (const r of runs) {
    console.log(`${r.kind} ${r.name}: ${r.members.length} audience member(s)${dry ? ' — dry run, nothing is sent or recorded' : ''}`);
    for (const w of r.warnings) console.log(`  warning: ${w}`);
    for (const m of r.members) {
      console.log(`\n── ${m.member.key} ${m.member.label} (${m.member.role}): ${m.status}${r.kind === 'rule' ? `, ${m.hits} row(s)` : ''} — ${m.summary}`);
      if (m.error) console.log(`   ${m.status === 'error' ? 'error' : 'note'}: ${m.error}`);
      if (m.deliveries.length === 0) console.log(`   (nothing to send${m.status === 'ok' ? ': the condition does not hold' : ''})`);
      for (const d of m.deliveries) {
        console.log(`   → ${d.channel} (${d.type}) ${d.kind}: ${d.status}${d.attempts ? `, ${d.attempts} attempt(s)` : ''}${d.error ? ` — ${d.error}` : ''}`);
        for (const q of d.requests ?? []) {
          console.log(`     ${q.method} ${q.url}   [${q.what}]`);
          for (const [k, v] of Object.entries(q.headers)) console.log(`     ${k}: ${v}`);
          console.log(JSON.stringify(q.body, null, 2).replace(/^/gm, '     '));
        }
        if (d.mail) {
          const mm = d.mail;
          console.log(`     SMTP ${mm.smtp}\n     From: ${mm.from}\n     To: ${mm.to.join(', ') || '(nobody: no e-mail address)'}\n     Subject: ${mm.subject}`);
          console.log(`     attachments: ${mm.attachments.map((a) => `${a.filename} (${a.content_type}, cid ${a.cid}, ${a.bytes.toLocaleString('en-US')} bytes)`).join(', ') || 'none'}; HTML ${mm.html_bytes.toLocaleString('en-US')} bytes`);
          console.log(mm.text.replace(/^/gm, '     | '));
        }
      }
    }
    console.log('');
  }
}

export const alerts: Command = {
  name: 'alerts',
  help: `Usage: cockpit alerts [list] [--json]
       cockpit alerts test <rule-or-report> [--member KEY]... [--json]
       cockpit alerts run [<rule-or-report>] [--member KEY]... [--ignore-quiet-hours] [--json]

Alert rules and scheduled reports (cockpit.config.json → "alerts", docs/alerts.md).

  list    the rules and reports, their schedules and next runs, the last evaluation per
          audience member, and the latest deliveries (the log kept in the database)
  test    a dry run: evaluates now and prints, per audience member and channel, exactly what
          would be sent (URL, headers and JSON body; the e-mail's headers and text), with
          secrets masked. Nothing is sent or recorded.
  run     evaluates now and delivers what is new (the same state is never sent twice); all
          enabled rules and reports without a name. Quiet hours defer deliveries unless
          --ignore-quiet-hours.

  --member KEY          only this audience member (a user id, a team id, or "all")
  --json                print JSON
  --config, --db as for every command

When \`cockpit serve\` runs on the database, it also runs the schedule, and these commands ask it.`,
  async run(argv) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' }, member: { type: 'string', multiple: true }, 'ignore-quiet-hours': { type: 'boolean' }, limit: { type: 'string' } }, true);
    const [sub = 'list', name, extra] = positionals;
    if (extra) throw new CliError(`unexpected argument "${extra}"`, 2);
    if (!['list', 'test', 'run'].includes(sub)) throw new CliError(`unknown subcommand "${sub}" (list, test, run)`, 2);
    const cfg = configFrom(values);
    if (sub === 'test' && !name) throw new CliError('name the rule or report to test: cockpit alerts test <name>', 2);
    const all = [...cfg.alerts.rules, ...cfg.alerts.reports].map((i) => i.name);
    if (name && !all.includes(name)) throw new CliError(`no rule or report named "${name}" (configured: ${all.join(', ') || 'none'})`, 2);
    if (sub === 'list' && name) throw new CliError('list takes no name', 2);

    const svc = await import('../../lib/server/alerts/service');
    if (sub === 'list') {
      const limit = Number(values.limit ?? 30);
      let o = await viaServer<Overview>(cfg, `/api/alerts?limit=${limit}`);
      if (!o) {
        const db = await databaseFor(cfg);
        try {
          o = await svc.overview(db, cfg, new Date(), limit);
        } finally {
          await db.close();
        }
      }
      if (values.json) console.log(JSON.stringify(o, null, 2));
      else printOverview(o);
      return 0;
    }
    const req: RunRequest = { name, dryRun: sub === 'test', ignoreQuiet: !!values['ignore-quiet-hours'], members: values.member };
    let runs = (await viaServer<{ runs: RunDescription[] }>(cfg, '/api/alerts/run', { name, dry_run: req.dryRun, ignore_quiet_hours: req.ignoreQuiet, members: req.members }))?.runs ?? null;
    if (!runs) {
      const db = await databaseFor(cfg);
      try {
        runs = await svc.runNow(db, cfg, req);
      } catch (e) {
        throw new CliError((e as Error).message);
      } finally {
        await db.close();
      }
    }
    if (values.json) console.log(JSON.stringify(runs, null, 2));
    else printRun(runs, sub === 'test');
    const failed = runs.some((r) => r.members.some((m) => m.status === 'error' || m.deliveries.some((d) => d.status === 'failed')));
    return failed ? 1 : 0;
  }
};
