import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stageInfos } from '../../../warehouse/stages';
import { generateDemo } from '../../lib/server/demo/generate';
import { todayIn } from '../../../models/common/period';
import { CliError, configFrom, databaseFor, parse, type Command } from '../command';
import { buildApp, buildIsStale, ROOT } from './build';
import { scheduleSyncs, writeServerFile } from '../../../connectors/load/server-sync';
import { loadConfig } from '../../lib/server/config/load';
import { checkAuthSettings } from '../../lib/server/auth/verify';

export const serve: Command = {
  name: 'serve',
  help: `Usage: cockpit serve [--port N] [--host H] [--no-demo]

Serves the web app and API on http://localhost:3000 (PORT overrides; --port overrides PORT).
With no sources configured and an empty database, generates the demo company first.
Builds the web app first when it is missing or older than the sources.

  --port      port to listen on (default: $PORT, the config's server.port, or 3000)
  --host      address to bind (default: $HOST, the config's server.host, or 0.0.0.0)
  --no-demo   never generate demo data`,
  async run(argv) {
    const t0 = performance.now();
    const { values } = parse(argv, { port: { type: 'string' }, host: { type: 'string' }, 'no-demo': { type: 'boolean' } });
    const cfg = configFrom(values);
    const port = Number(values.port ?? process.env.PORT ?? cfg.server.port ?? 3000);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port: invalid port "${values.port ?? process.env.PORT}"`, 2);
    const host = values.host ?? process.env.HOST ?? cfg.server.host ?? '0.0.0.0';

    // Access control is checked before anything starts: a missing or malformed COCKPIT_JWKS, or
    // a short secret, stops the server here instead of starting one that answers 500 to all.
    try {
      await checkAuthSettings({ secret: process.env.COCKPIT_SECRET || undefined, jwksFile: process.env.COCKPIT_JWKS || undefined });
    } catch (e) {
      throw new CliError(`${(e as Error).message}; the server did not start`, 2);
    }

    const db = await databaseFor(cfg);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunities`);
    if (rows[0].n === 0) {
      if (cfg.sources.length > 0 || values['no-demo']) {
        console.error(`the database ${cfg.database} is empty; run \`cockpit sync\` to load your sources`);
      } else {
        const asOf = todayIn(cfg.timezone);
        console.error(`no data yet: generating the demo company (scale ${cfg.demo.scale}, seed ${cfg.demo.seed}) into ${cfg.database}`);
        const r = await generateDemo(db, { scale: cfg.demo.scale, seed: cfg.demo.seed, asOf, stages: stageInfos(cfg) });
        console.error(`demo data generated in ${(r.ms / 1000).toFixed(1)} s (${r.counts.opportunities.toLocaleString()} opportunities)`);
      }
    }

    if (buildIsStale()) await buildApp();

    // The server bundle reads these; the database instance opened above is shared with it.
    process.env.COCKPIT_DB = cfg.database;
    if (values.config) process.env.COCKPIT_CONFIG = values.config;
    const { handler } = await import(pathToFileURL(join(ROOT, 'build', 'handler.js')).href);
    // One request must never end the process. The hooks turn their own errors into 500s, but
    // adapter-node drops the promise of its SvelteKit middleware, so anything that escapes it
    // (or a response stream failing mid-way) would be an unhandled rejection, which ends
    // Node 20. Log it (no query string: it may carry a token) and keep serving.
    process.on('unhandledRejection', (e) => console.error('crm-cockpit: unhandled error (request answered or dropped, server still running):', e));
    const server = createServer((req, res) => {
      try {
        handler(req, res, () => {
          res.statusCode = 404;
          res.end('not found');
        });
      } catch (e) {
        console.error(`error on ${req.method} ${(req.url ?? '').split('?')[0]}:`, e);
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      }
    });
    // Keep idle connections longer than clients and proxies do (browsers, Node's fetch: ~4 s;
    // load balancers: 60 s), so it is always the client that closes one. With Node's default
    // of 5 s a client could send a request on a socket the server was closing that instant and
    // get "socket hang up" (seen under load); a proxy with a 60 s idle timeout would see 502s.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((res, rej) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        rej(new CliError(e.code === 'EADDRINUSE' ? `port ${port} is already in use (set PORT or --port to another)` : e.message))
      );
      server.listen(port, host, () => res());
    });
    const addr = server.address();
    const actual = typeof addr === 'object' && addr ? addr.port : port;
    const url = `http://localhost:${actual}`;
    // The CLI finds this server through <db>.server.json and hands it syncs (one process per file).
    // Written before "running at" is printed: a script (or test) that starts a CLI on that line
    // must find it, not a locked file.
    const removeServerFile = cfg.database === ':memory:' ? () => undefined : writeServerFile(cfg.database, `http://127.0.0.1:${actual}`);
    console.log(`crm-cockpit is running at ${url}  (cockpit: ${url}/cockpit)  ready in ${Math.round(performance.now() - t0)} ms`);
    const loaded = loadConfig(values.config);
    const stopSchedule = scheduleSyncs(db, cfg, loaded.ok ? loaded.dir : process.cwd());
    if (cfg.sync.every && cfg.sources.length) console.log(`syncing every ${cfg.sync.every}`);
    // Alert rules and scheduled reports run here, next to the syncs (docs/alerts.md).
    let stopAlerts = () => undefined as void;
    if (cfg.alerts.rules.length || cfg.alerts.reports.length) {
      const { createScheduler } = await import('../../lib/server/alerts/scheduler');
      const s = createScheduler(db, cfg);
      stopAlerts = () => s.stop();
      console.log(`alerts: ${cfg.alerts.rules.length} rule(s) and ${cfg.alerts.reports.length} report(s) scheduled (cockpit alerts lists them)`);
    }

    await new Promise<void>((res) => {
      const stop = () => {
        console.error('shutting down…');
        server.close(() => res());
        server.closeAllConnections();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    stopSchedule();
    stopAlerts();
    removeServerFile();
    await db.close();
    return 0;
  }
};
