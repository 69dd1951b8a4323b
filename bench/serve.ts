/** `cockpit serve` for the benchmark suites: a free port, resolved with its URL once it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');

export function serveCockpit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, COCKPIT_CONFIG: '', ...env }
  });
  let out = '';
  return new Promise((res, rej) => {
    const on = (d: Buffer) => {
      out += d;
      const m = /running at (http:\/\/localhost:\d+)/.exec(out);
      if (m) res({ url: m[1].replace('localhost', '127.0.0.1'), child });
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (c) => rej(new Error(`cockpit serve exited with ${c}:\n${out}`)));
  });
}

/** A bare server answering `/` with fixed HTML and proxying everything else to `target`. */
export function staticTwin(html: string, target: string): Promise<{ url: string; server: Server }> {
  const t = new URL(target);
  const server = createServer((req, res) => {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
      return;
    }
    const p = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(p);
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })));
}
