// Headless Chromium through playwright-core, with the system browser (Debian's
// /usr/bin/chromium, or $CHROMIUM) and a fresh profile directory that is removed afterwards.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launches Chromium; resolves to { context, page, version, close() }. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'schoon-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[page] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
  const version = context.browser()?.version() ?? 'unknown';
  return {
    context,
    page,
    version,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Launches Chromium for tests that need isolated contexts (each `browser.newContext()` has its
 * own storage, e.g. the Cache API): resolves to the playwright `Browser`.
 */
export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
