/**
 * Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser). A missing Chromium fails the suite with how to install it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './global-setup';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results', 'screenshots');

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium fonts-noto-cjk\` (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
  });
}

/** Collects console errors and page errors, so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** A screenshot kept in test-results/screenshots; 4K ones as JPEG (a 4K PNG takes seconds to encode). */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const big = (page.viewportSize()?.width ?? 0) > 2560;
  await page.screenshot(big ? { path: join(SCREENSHOTS, `${name}.jpg`), type: 'jpeg', quality: 80 } : { path: join(SCREENSHOTS, `${name}.png`) });
}
