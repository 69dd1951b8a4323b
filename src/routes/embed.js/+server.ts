/**
 * GET /embed.js — the embed SDK as a classic script for host pages: defines
 * `window.CrmCockpit = { embed, version }`. The same source is the package's `crm-cockpit/embed`.
 */
import type { RequestHandler } from '@sveltejs/kit';
import source from '$lib/embed/sdk.js?raw';

const script = `/*! crm-cockpit embed SDK */\n(function () {\n'use strict';\n${source
  .replace(/^\/\/ @ts-check\n/, '')
  .replace(/^export (const|function) /gm, '$1 ')}\nwindow.CrmCockpit = { embed: embed, version: version };\n})();\n`;

export const GET: RequestHandler = () =>
  new Response(script, {
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'access-control-allow-origin': '*'
    }
  });
