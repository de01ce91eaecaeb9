// The views beside the inbox: "Decided by me", "The run so far" on a request's page, and
// the gate statistics page with its charts.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startService, propose, launch, signedIn, live, openRequest, axeViolations, overflow, screenshot } from "./harness.mjs";

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

/** A decision over the API. */
const decide = (s, who, r, body) => s.api(s.tokens[who], "POST", `/v1/requests/${r.request}/decisions`, { digest: r.digest, ...body });

test("Decided by me: what I approved in the page, and what I rejected, newest first", async t => {
  const { s, page } = await setUp(t);
  const first = await propose(s, { args: { amount: 900 } });
  const second = await propose(s, { args: { amount: 1250 } });
  const others = await propose(s, { args: { amount: 2000 } });
  await decide(s, "frank", others, { decision: "approve" });
  await openRequest(page, first.request);
  await page.click("#approve");
  await page.waitForSelector("h1:has-text('approved')");
  await decide(s, "fiona", second, { decision: "reject", reason: "Duplicate" });

  await page.click("#nav-decided");
  await page.waitForSelector("#decided");
  assert.equal(await page.getAttribute("#nav-decided", "aria-current"), "page");
  const rows = page.locator("#decided tbody tr");
  assert.deepEqual(await rows.evaluateAll(rs => rs.map(r => r.dataset.request)), [second.request, first.request],
    "newest first, and not frank's decision");
  const newest = await rows.nth(0).textContent();
  assert.match(newest, /Rejected/);
  assert.match(newest, /“Duplicate”/);
  assert.match(newest, /amount\u00a01250/);
  assert.match(newest, /rejected/);
  const older = await rows.nth(1).textContent();
  assert.match(older, /Approved/);
  assert.match(older, /refund_over_lane/);
  assert.match(older, /ago/);
  // From the row back to the request.
  await rows.nth(1).locator("a").click();
  await page.waitForSelector(`h1[data-request="${first.request}"]`);
  assert.deepEqual(page.problems, []);
});

test("Decided by me updates by itself, and is empty at first", async t => {
  const { s, page } = await setUp(t);
  await page.click("#nav-decided");
  await page.waitForSelector("#decided-empty");
  await live(page);
  const r = await propose(s);
  await decide(s, "fiona", r, { decision: "approve" }); // from another tab, or a script
  await page.waitForSelector(`#decided tr[data-request="${r.request}"]`);
});

test("The run so far: two earlier steps of the same run, how each was decided, the running total", async t => {
  const { s, page } = await setUp(t);
  const run_id = "run-refunds-1142";
  const a = await propose(s, { run_id, args: { amount: 900 } });
  await decide(s, "frank", a, { decision: "approve" });
  const b = await propose(s, { run_id, args: { amount: 700 } });
  await decide(s, "frank", b, { decision: "reject", reason: "Duplicate" });
  const c = await propose(s, { run_id, args: { amount: 1200 } });
  const lone = await propose(s, { run_id: "another-run", args: { amount: 600 } });

  await openRequest(page, c.request);
  const run = page.locator("#run");
  await run.waitFor();
  assert.match(await run.locator("h2").textContent(), /The run so far/);
  assert.match(await run.textContent(), /run-refunds-1142: 3 steps/);
  assert.match(await run.textContent(), /Totals of its .+ calls: amount 2100/);
  const rows = run.locator("tbody tr");
  assert.equal(await rows.count(), 3);
  const [one, two, three] = await rows.allTextContents();
  assert.match(one, /amount\u00a0900/);
  assert.match(one, /approved by frank/);
  assert.match(two, /rejected by frank \(“Duplicate”\)/);
  assert.match(two, /not counted/);
  assert.match(three, /this request/);
  // The running totals: 900, 900 (the rejected 700 does not count), 2100.
  assert.deepEqual(await rows.locator("td.num").allTextContents(), ["900", "900", "2100"]);
  assert.equal(await rows.nth(2).getAttribute("aria-current"), "step");
  assert.match(await rows.nth(2).getAttribute("class"), /current/);
  // An earlier step links to its own page.
  await rows.nth(0).locator("a").click();
  await page.waitForSelector(`h1[data-request="${a.request}"]`);
  // A request alone in its run shows no run table.
  await openRequest(page, lone.request);
  assert.equal(await page.locator("#run").count(), 0);
  assert.deepEqual(page.problems, []);
});

test("Gate statistics: counts after a few decisions, a chart per gate, the rubber stamp flagged with advice", async t => {
  const { s, page } = await setUp(t, "sam");
  // refund_over_lane: approved in the page by fiona, one edit, one rejection.
  const fiona = await signedIn(browser, s, "fiona");
  t.after(() => fiona.context().close());
  const a = await propose(s, { args: { amount: 900 } });
  await openRequest(fiona, a.request);
  await fiona.click("#approve");
  await fiona.waitForSelector("h1:has-text('approved')");
  await decide(s, "frank", await propose(s, { args: { amount: 800 } }), { decision: "edit", set: { amount: 750 } });
  await decide(s, "frank", await propose(s, { args: { amount: 1900 } }), { decision: "reject", reason: "Amount too high" });
  // unsure_mid_refund: 20 approvals, none edited: a rubber stamp.
  for (let i = 0; i < 20; i++) {
    const r = await propose(s, { args: { amount: 200 + i }, context: { confidence: 0.3 } });
    await decide(s, "sam", r, { decision: "approve" });
  }

  await page.click("#nav-stats");
  await page.waitForSelector("#stats");
  assert.equal(await page.getAttribute("#nav-stats", "aria-current"), "page");
  const lane = page.locator('#stats tr[data-gate="refund_over_lane"]');
  const cells = await lane.locator("td").allTextContents();
  // Fired, approved, with edits, rejected, escalated, expired.
  assert.deepEqual(cells.slice(0, 6), ["3", "1", "1", "1", "0", "0"]);
  assert.equal(cells[8], "33 %", "unchanged share");
  assert.equal(await lane.locator(".badge").count(), 0);

  const stamp = page.locator('.flag[data-gate="unsure_mid_refund"]');
  await stamp.waitFor();
  assert.match(await stamp.textContent(), /Rubber stamp: unsure_mid_refund/);
  assert.match(await stamp.textContent(), /approved 20 of 20 decisions unchanged/);
  assert.match(await stamp.textContent(), /Move it, raise its threshold, or remove it/);
  assert.equal(await page.locator('#stats tr[data-gate="unsure_mid_refund"] .badge').count(), 1);
  // The flag comes before the table: it is what a reader sees first.
  assert.ok(await page.evaluate(() => {
    const flag = document.querySelector(".flag"), table = document.getElementById("stats");
    return !!(flag.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
  }));

  // The chart: SVG bars per day, stacked, with a text legend and a text alternative.
  const chart = page.locator("#chart-refund_over_lane");
  const svg = chart.locator("svg");
  assert.equal(await svg.getAttribute("role"), "img");
  const title = await svg.locator("title").first().textContent();
  assert.match(title, /1 approved unchanged, 1 edited, then approved, 1 rejected/);
  assert.equal(await svg.locator("rect.s-approved").count(), 1);
  assert.equal(await svg.locator("rect.s-edited").count(), 1);
  assert.equal(await svg.locator("rect.s-rejected").count(), 1);
  assert.equal(await page.evaluate(() => document.querySelector("#chart-refund_over_lane svg").namespaceURI), "http://www.w3.org/2000/svg");
  assert.deepEqual(await chart.locator(".legend li").allTextContents(), ["Approved unchanged", "Edited, then approved", "Rejected"]);
  const today = new Date().toISOString().slice(0, 10);
  await chart.locator("summary").click();
  assert.deepEqual(await chart.locator(".timeline tbody tr").filter({ hasText: today }).locator("td").allTextContents(), ["1", "1", "1"]);
  assert.equal(await page.locator("#chart-unsure_mid_refund svg rect.s-approved").count(), 1);

  await chart.locator("summary").click();
  await page.evaluate(() => { document.getElementById("status").textContent = ""; });
  await screenshot(page, "stats");
  assert.deepEqual(await axeViolations(page), [], "stats page");
  const wide = await overflow(page);
  assert.ok(wide.fits, JSON.stringify(wide));
  assert.deepEqual(page.problems, []);
});

test("Gate statistics on a phone: no sideways scrolling", async t => {
  const { s, page } = await setUp(t, "fiona", { viewport: { width: 375, height: 740 }, isMobile: true });
  await decide(s, "frank", await propose(s), { decision: "approve" });
  await page.click("#nav-stats");
  await page.waitForSelector("#chart-refund_over_lane svg");
  const narrow = await overflow(page);
  assert.ok(narrow.fits, JSON.stringify(narrow));
});
