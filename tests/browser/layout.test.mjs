// The inbox for every approver: axe-core finds no serious or critical problem, the pages
// fit a phone and a laptop at 200 % zoom without sideways scrolling, with the decide
// buttons in view. With SCREENSHOTS=1 it also writes docs/screenshots/*.png.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startService, propose, launch, signedIn, live, openRequest, axeViolations, screenshot, overflow } from "./harness.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function setUp(t, who = "fiona", options) {
  const s = await startService();
  t.after(s.stop);
  const page = await signedIn(browser, s, who, options);
  t.after(() => page.context().close());
  return { s, page };
}

/** A bulk CRM update with the state before it, so the page shows a diff (`show diff`). */
const CRM = {
  tool: "crm.bulk_update",
  user: "uma@example.com",
  args: {
    record_count: 2400,
    filter: "plan = 'legacy-pro' AND region = 'EU'",
    changes: { plan: "pro-2025", billing_cycle: "annual", price_eur: 49 },
  },
  before: {
    record_count: 2400,
    filter: "plan = 'legacy-pro' AND region = 'EU'",
    changes: { plan: "legacy-pro", billing_cycle: "monthly", price_eur: 39 },
  },
  reasoning: "Legacy Pro is retired on 1 January. The customers on it in the EU move to Pro 2025 (annual billing), as the pricing team decided in ticket 88213.",
  inputs: { ticket: "88213", source: "crm.search plan='legacy-pro' region='EU'" },
  alternatives: ["Email each customer first and move them one by one", "Wait for the pricing team's bulk tool"],
};

/** A few waiting refunds for fiona's inbox, one with a long unbroken value. */
async function someRefunds(s) {
  const a = await propose(s, { args: { amount: 900 }, user: "uma@example.com", reasoning: "Charged twice for order 1142; the second charge is a duplicate." });
  await propose(s, { args: { amount: 1250 }, user: "li.wei@example.com" });
  await propose(s, { args: { amount: 3100, charge: "ch_3PqLongUnbrokenIdentifier0123456789abcdefghijklmnopqrstuvwxyz" }, user: "a.very.long.email.address.for.testing@customer-domain.example.com" });
  return a;
}

test("axe-core: no serious or critical violations on the sign-in page, the inbox and a request", async t => {
  const s = await startService();
  t.after(s.stop);
  const context = await browser.newContext();
  t.after(() => context.close());
  const login = await context.newPage();
  await login.goto(`${s.base}/ui/login`);
  assert.deepEqual(await axeViolations(login), [], "sign-in page");

  const page = await signedIn(browser, s, "fiona");
  t.after(() => page.context().close());
  const r = await someRefunds(s);
  await live(page);
  await page.waitForSelector(`#inbox tr[data-request="${r.request}"]`);
  await page.locator("#inbox tbody tr").nth(2).waitFor();
  assert.deepEqual(await axeViolations(page), [], "inbox");
  await openRequest(page, r.request);
  await page.fill("#arg-amount", "450");
  await page.waitForSelector("#edit-verdict");
  await page.click("#reasoning summary");
  assert.deepEqual(await axeViolations(page), [], "request page with an edit preview");
  await page.fill("#arg-amount", "");
  await page.waitForSelector("#edit-problem");
  assert.deepEqual(await axeViolations(page), [], "request page with an invalid edit");
});

for (const [name, options] of [
  ["a laptop at 200 % zoom (640 CSS px)", { viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 }],
  ["a phone (375 px)", { viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }],
]) {
  test(`${name}: no sideways scrolling, the decide buttons in view`, async t => {
    const { s, page } = await setUp(t, "fiona", options);
    const r = await someRefunds(s);
    await live(page);
    await page.locator("#inbox tbody tr").nth(2).waitFor();
    const inbox = await overflow(page);
    assert.ok(inbox.fits, `inbox: ${JSON.stringify(inbox)}`);

    await openRequest(page, r.request);
    await page.fill("#arg-amount", "450");
    await page.waitForSelector("#edit-verdict");
    for (const d of ["#reasoning", "#inputs", "#alternatives"]) if (await page.locator(d).count()) await page.click(`${d} summary`);
    const request = await overflow(page);
    assert.ok(request.fits, `request: ${JSON.stringify(request)}`);
    for (const id of ["#approve", "#reject", "#escalate", "#edit-approve"]) {
      const b = page.locator(id);
      await b.scrollIntoViewIfNeeded();
      assert.ok(await b.isVisible(), `${id} is visible`);
      const box = await b.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= request.asked + 0.5, `${id} fits across: ${JSON.stringify(box)}`);
      assert.ok(box.height >= 24, `${id} is big enough to tap: ${box.height}`);
    }

    // A CRM update with a diff (as sam, support-leads).
    const sam = await signedIn(browser, s, "sam", options);
    t.after(() => sam.context().close());
    const crm = await propose(s, CRM);
    await openRequest(sam, crm.request);
    const diff = await overflow(sam);
    assert.ok(diff.fits, `CRM request: ${JSON.stringify(diff)}`);
    await sam.locator("#approve").scrollIntoViewIfNeeded();
    assert.ok(await sam.locator("#approve").isVisible());
  });
}

test("the fields table shows the state before, the proposal and the edit, field by field", async t => {
  const { s, page } = await setUp(t, "sam");
  const crm = await propose(s, CRM);
  await openRequest(page, crm.request);
  assert.deepEqual(await page.locator("#fields thead th").allTextContents(), ["Field", "Now", "Proposed"]);
  const plan = page.locator('#fields tr[data-field="changes.plan"]');
  assert.match(await plan.textContent(), /legacy-pro.*pro-2025/);
  assert.equal(await plan.locator("td.old").count(), 1);
  assert.equal(await plan.locator("td.new").count(), 1);
  assert.equal(await page.locator('#fields tr[data-field="record_count"] td.old').count(), 0, "unchanged: not marked");
});

test("an edit the tool's catalog refuses is shown as such and cannot be confirmed", async t => {
  const { s, page } = await setUp(t, "sam");
  const crm = await propose(s, CRM);
  await openRequest(page, crm.request);
  let sent = 0;
  page.on("request", q => { if (q.method() === "POST" && q.url().endsWith("/decisions")) sent++; });
  // `changes` must be an object (tools.yaml): a list does not conform.
  await page.fill("#arg-changes", '["plan", "pro-2025"]');
  await page.waitForSelector("#edit-misfit");
  assert.match(await page.textContent("#edit-misfit"), /does not accept the edited call/);
  assert.equal(await page.isDisabled("#edit-approve"), true);
  // Not JSON at all: said at once, nothing asked of the service.
  await page.fill("#arg-changes", "{plan: pro}");
  await page.waitForSelector("#edit-problem");
  assert.match(await page.textContent("#edit-problem"), /changes is not valid JSON/);
  assert.equal(sent, 0);
});

test("screenshots of the inbox, a request with a diff and an edit with its preview (SCREENSHOTS=1)", async t => {
  const { s, page } = await setUp(t, "fiona", { viewport: { width: 1100, height: 700 } });
  const r = await someRefunds(s);
  await live(page);
  await page.locator("#inbox tbody tr").nth(2).waitFor();
  await page.evaluate(() => { document.getElementById("status").textContent = ""; });
  await screenshot(page, "inbox");

  const sam = await signedIn(browser, s, "sam", { viewport: { width: 1100, height: 700 } });
  t.after(() => sam.context().close());
  const crm = await propose(s, CRM);
  await openRequest(sam, crm.request);
  await sam.click("#reasoning summary");
  await live(sam);
  await screenshot(sam, "request-diff");

  await openRequest(page, r.request);
  await page.fill("#arg-amount", "450");
  await page.waitForSelector("#edit-verdict");
  await page.locator("#edit-form").scrollIntoViewIfNeeded();
  await screenshot(page, "edit");
  assert.ok(true);
});
