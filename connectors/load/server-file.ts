/** `<db>.server.json`: how the CLI finds the server that holds a database file. */
import { rmSync, writeFileSync } from 'node:fs';

export function serverFileFor(db: string): string {
  return `${db}.server.json`;
}

/** Writes the file; returns a function that removes it. */
export function writeServerFile(db: string, url: string): () => void {
  const f = serverFileFor(db);
  writeFileSync(f, JSON.stringify({ url, pid: process.pid, started_at: new Date().toISOString() }));
  return () => rmSync(f, { force: true });
}
