// Drives Debian's chromium (headless, never a downloaded browser) against the
// dashboard for tests/dashboard. Usage: node drive.mjs < request.json, where the
// request is {"scenario", "url", "credentials"?: {username, password}, ...args};
// prints one JSON result. Selectors lean on bull-board's (pinned) markup: class
// names carry a hash suffix, so they match on the prefix (`[class*="queueCard-"]`).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
// Waits end on a condition; this only bounds a broken page (the test then fails).
const TIMEOUT_MS = Number(process.env.DRIVE_TIMEOUT_MS || 60000);
// Per-job action buttons are icons (lucide); the bulk ones carry text.
const JOB_ACTION_ICONS = ['refresh-cw', 'trash2', 'pencil', 'files', 'chevrons-up'];
const BULK_ACTION_TEXT = /^(Retry all|Clean all|Promote all|Pause|Resume|Empty|Obliterate|Add job)$/i;

const scenarios = {
  /** HTTP status of the base page (no, wrong or right credentials). */
  async status(page, req) {
    // Headless chromium has no login prompt: a challenge it cannot answer ends the
    // navigation with ERR_INVALID_AUTH_CREDENTIALS, after the 401 response arrived.
    const first = page.waitForResponse((r) => r.url() === req.url, { timeout: TIMEOUT_MS });
    const navigation = page.goto(req.url).catch((err) => err);
    const response = await first;
    await navigation;
    return { status: response.status(), authenticate: response.headers()['www-authenticate'] ?? null };
  },

  /** The overview: every queue card's name and job total; optional screenshot. */
  async overview(page, req) {
    await page.goto(req.url);
    const want = req.waitForJobs ?? {};
    // Cards fill in as the board polls: wait until every expected queue shows its total.
    await page.waitForFunction(
      ({ n, want }) => {
        const cards = [...document.querySelectorAll('[class*="queueCard-"]')];
        const totals = Object.fromEntries(
          cards.map((c) => [c.querySelector('a[title]')?.getAttribute('title'), /(\d+) Jobs?/.exec(c.innerText)?.[1]]),
        );
        return cards.length >= n && Object.entries(want).every(([name, jobs]) => totals[name] === String(jobs));
      },
      { n: req.expectQueues, want },
      { timeout: TIMEOUT_MS },
    );
    const queues = await page.locator('[class*="queueCard-"]').evaluateAll((els) =>
      els.map((el) => ({
        name: el.querySelector('a[title]')?.getAttribute('title'),
        jobs: Number(/(\d+) Jobs?/.exec(el.innerText)?.[1]),
      })),
    );
    if (req.screenshot) await page.screenshot({ path: req.screenshot, fullPage: false });
    return { queues };
  },

  /** Queue pages: the count on every status tab (no badge is 0), per queue in `queues`. */
  async counts(page, req) {
    const out = {};
    for (const queue of req.queues) {
      await page.goto(`${req.url}queue/${encodeURIComponent(queue)}`);
      out[queue] = await statusCounts(page, req.waitFor?.[queue]);
    }
    return { counts: out };
  },

  /** A job's page: its text (error, stack) and the action buttons it offers. */
  async job(page, req) {
    await page.goto(`${req.url}queue/${encodeURIComponent(req.queue)}/${encodeURIComponent(req.jobId)}`);
    await page.getByText(req.expectText).first().waitFor({ timeout: TIMEOUT_MS });
    return { text: await page.locator('main, body').first().innerText(), actions: await actionButtons(page) };
  },

  /** A status list of a queue: which action buttons exist. */
  async listActions(page, req) {
    await page.goto(`${req.url}queue/${encodeURIComponent(req.queue)}?status=${req.status}`);
    await page.getByText(req.expectText).first().waitFor({ timeout: TIMEOUT_MS });
    return { actions: await actionButtons(page) };
  },

  /** API calls from the logged-in page (same origin, the browser's credentials). */
  async api(page, req) {
    await page.goto(req.url);
    const statuses = await page.evaluate(async (calls) => {
      const out = [];
      for (const { method, path } of calls) out.push((await fetch(path, { method })).status);
      return out;
    }, req.calls);
    return { statuses };
  },

  /** Click "retry" on a failed job's page; resolves on the API's answer. */
  async retryJob(page, req) {
    await page.goto(`${req.url}queue/${encodeURIComponent(req.queue)}/${encodeURIComponent(req.jobId)}`);
    const button = page.locator('button:has(svg.lucide-refresh-cw)').last();
    await button.waitFor({ timeout: TIMEOUT_MS });
    const answer = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith('/retry'), {
      timeout: TIMEOUT_MS,
    });
    await button.click();
    await confirmIfAsked(page);
    return { status: (await answer).status() };
  },

  /** "Clean all" on a status list of a queue: the tab's count before, the API's answer,
   * and the count after (waiting until the board shows it emptied). */
  async cleanAll(page, req) {
    await page.goto(`${req.url}queue/${encodeURIComponent(req.queue)}?status=${req.status}`);
    const before = (await statusCounts(page, { [req.status]: req.expectBefore }))[req.status];
    const button = page.getByRole('button', { name: 'Clean all' });
    await button.waitFor({ timeout: TIMEOUT_MS });
    const answer = page.waitForResponse(
      (r) => r.request().method() === 'PUT' && r.url().includes(`/clean/${req.status}`),
      { timeout: TIMEOUT_MS },
    );
    await button.click();
    await confirmIfAsked(page);
    const status = (await answer).status();
    const after = (await statusCounts(page, { [req.status]: 0 }))[req.status];
    return { before, status, after };
  },
};

/** The status tabs' counts of the queue page shown, once they equal `want` (if given). */
async function statusCounts(page, want) {
  const tabs = page.locator('ul[class*="statusTabs-"] li a[href*="status="]');
  await tabs.first().waitFor({ timeout: TIMEOUT_MS });
  if (want) {
    await page.waitForFunction(
      (want) =>
        Object.entries(want).every(([status, n]) => {
          const a = document.querySelector(`ul[class*="statusTabs-"] a[href$="status=${status}"]`);
          return Number(a?.querySelector('[class*="badge-"]')?.textContent ?? 0) === n;
        }),
      want,
      { timeout: TIMEOUT_MS },
    );
  }
  const pairs = await tabs.evaluateAll((els) =>
    els.map((a) => [
      new URL(a.href).searchParams.get('status'),
      Number(a.querySelector('[class*="badge-"]')?.textContent ?? 0),
    ]),
  );
  return Object.fromEntries(pairs);
}

/** Labels of the action buttons on the page: bulk ones by text, per-job ones by icon. */
async function actionButtons(page) {
  return page.locator('button').evaluateAll(
    (buttons, { icons, bulk }) =>
      buttons.flatMap((b) => {
        const text = (b.innerText || '').trim();
        if (new RegExp(bulk, 'i').test(text)) return [text];
        const icon = icons.find((name) => b.querySelector(`svg.lucide-${name}`));
        return icon ? [`icon:${icon}`] : [];
      }),
    { icons: JOB_ACTION_ICONS, bulk: BULK_ACTION_TEXT.source },
  );
}

/** bull-board asks before some actions in a modal dialog: confirm it when it shows. */
async function confirmIfAsked(page) {
  const dialog = page.locator('[role="dialog"], [role="alertdialog"]');
  try {
    await dialog.first().waitFor({ timeout: 3000 });
  } catch {
    return; // no confirmation asked
  }
  const buttons = dialog.first().locator('button');
  const labels = await buttons.allInnerTexts();
  const index = labels.findIndex((t) => /^(confirm|yes|ok|retry|clean|clean all|delete|remove)$/i.test(t.trim()));
  if (index < 0) throw new Error(`a confirmation dialog without a confirm button: ${JSON.stringify(labels)}`);
  await buttons.nth(index).click();
}

async function readRequest() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

async function main() {
  const req = await readRequest();
  const scenario = scenarios[req.scenario];
  if (!scenario) throw new Error(`unknown scenario ${req.scenario}; known: ${Object.keys(scenarios)}`);
  const profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 720 },
    ...(req.credentials ? { httpCredentials: req.credentials } : {}),
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  try {
    const page = await context.newPage();
    process.stdout.write(`${JSON.stringify(await scenario(page, req))}\n`);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`drive.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
});
