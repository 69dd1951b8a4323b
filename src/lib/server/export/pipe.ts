/**
 * DuckDB's own `COPY … TO` writer, streamed: the statement writes into a named pipe (FIFO)
 * that the server reads as a socket and hands on as bytes, so a million-row CSV costs what
 * DuckDB's COPY to a file costs plus moving the bytes — no value and no string per row in
 * JavaScript. The pipe paces DuckDB: when the HTTP client stops reading, the pipe fills and
 * DuckDB's write blocks (one thread of the pool waits), so memory stays bounded.
 *
 * - The read end is opened first and non-blocking, then a write end of our own, which keeps
 *   the reader from seeing end-of-file before DuckDB opens the pipe; it is closed once COPY
 *   has finished, so end-of-file means "COPY done" and a failed COPY ends the stream with its
 *   error instead of a silently short file.
 * - A cancelled download interrupts the statement and drains the pipe until DuckDB lets go
 *   (a blocked write must be able to return), then removes the pipe.
 * - A blocked writer holds a DuckDB thread and a libuv worker for as long as the client
 *   dawdles, so at most MAX_PIPES run at once; beyond that, and where there is no `mkfifo`
 *   (Windows), `copyStream` returns null and the caller streams values instead;
 *   `COCKPIT_EXPORT_PIPE=0` turns pipes off altogether (the bench's comparison, an escape hatch).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../db/database';
import { sql, unsafeRaw, type Sql } from '../db/sql';

export const MAX_PIPES = 2;
let active = 0;

/** Whether a pipe is free now (for tests and callers that want to know the path taken). */
export function pipesInUse(): number {
  return active;
}

/**
 * The bytes `COPY (<select>) TO … (<options>)` writes, as a stream; null when no pipe can be
 * had (none free, or no mkfifo). `options` is a constant of the caller's (never user input).
 */
export function copyStream(db: Database, select: Sql, options: string): ReadableStream<Uint8Array> | null {
  if (process.platform === 'win32' || process.env.COCKPIT_EXPORT_PIPE === '0' || active >= MAX_PIPES) return null;
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'cockpit-export-'));
  } catch {
    return null;
  }
  const fifo = join(dir, 'rows');
  const made = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  let readFd: number;
  let holdFd: number | null;
  try {
    readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      holdFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      closeSync(readFd);
      throw e;
    }
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  active++;
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  socket.pause();
  const abort = new AbortController();
  let failure: unknown = null;
  const copy = db
    .execute(sql`COPY (${select}) TO ${unsafeRaw(`'${fifo.replace(/'/g, "''")}'`)} (${unsafeRaw(options)})`, abort.signal)
    .catch((e) => {
      failure = e;
    })
    .finally(() => {
      if (holdFd !== null) closeSync(holdFd);
      holdFd = null;
    });
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    socket.destroy();
    rmSync(dir, { recursive: true, force: true });
    active--;
  };
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        socket.on('data', (b: Buffer) => {
          if (cancelled) return;
          controller.enqueue(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) socket.pause();
        });
        socket.on('end', () => {
          void copy.then(() => {
            finish();
            if (cancelled) return;
            if (failure) controller.error(failure instanceof Error ? failure : new Error(String(failure)));
            else controller.close();
          });
        });
        socket.on('error', (e) => {
          if (cancelled) return;
          cancelled = true;
          abort.abort();
          controller.error(e);
          socket.resume();
          void copy.then(finish);
        });
      },
      pull() {
        socket.resume();
      },
      async cancel() {
        cancelled = true;
        abort.abort();
        socket.resume(); // drain, so a write DuckDB is blocked in returns and sees the interrupt
        await copy;
        finish();
      }
    },
    { highWaterMark: 1 << 20, size: (chunk) => chunk.byteLength }
  );
}
