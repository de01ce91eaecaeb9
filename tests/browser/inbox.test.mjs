// The inbox in a real browser: live updates, edit-then-approve down to the agent's permit,
// reject and escalate, the requester who may not decide, agent text that stays text, a
// stale decision, keyboard only, and the form's own guards (double clicks, empty numbers,
// gates of other groups, the live indicator).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { startService, propose, launch, signedIn, live, openRequest, call } from "./harness.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A service and a signed-in page, both closed when the test ends. */
async function setUp(t, who = "fiona", options, prepare) {
  const s = await startService();
  t.after(s.stop);
  const page = await signedIn(browser, s, who, options, prepare);
  t.after(() => page.context().close());
  return { s, page };
}

test("a refund submitted after the page loaded appears in the inbox by itself (SSE)", async t => {
  const { s, page } = await setUp(t);
  await live(page);
  await page.waitForSelector("#inbox-empty");
  await page.evaluate(() => { window.__notReloaded = true; });
  const r = await propose(s, { args: { amount: 900 } });
  const row = page.locator(`#inbox tr[data-request="${r.request}"]`);
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text, /Stripe refund/);
  assert.match(text, /amount\s900/); // a no-break space: name and number stay together
  assert.match(text, /finance/);
  assert.match(text, /above the 500 lane/);
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was not reloaded");
  assert.deepEqual(page.problems, []);
});

test("edit 900 to 450: the diff and the policy's new decision, then the agent claims a permit for 450", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s, { args: { amount: 900 } });
  await page.click(`#open-${r.request}`);
  await page.waitForSelector(`h1[data-request="${r.request}"]`);
  await page.fill("#arg-amount", "450");
  const verdict = page.locator("#edit-verdict");
  await verdict.waitFor();
  assert.match(await page.locator("#edit-preview .diff").textContent(), /amount: 900 → 450/);
  assert.match(await verdict.textContent(), /policy says: audit/);
  assert.match(await verdict.textContent(), /inside the 500 lane/);
  await page.click("#edit-approve");
  await page.waitForSelector("h1:has-text('approved with edits')");
  // The fields table now has the edit.
  const amount = await page.locator('#fields tr[data-field="amount"]').textContent();
  assert.match(amount, /900.*450/);

  // The agent: its wait ends, its claim gets the edited call and a permit signed for it.
  const waited = await s.api(s.tokens.agent, "GET", `/v1/requests/${r.request}/wait?timeout=5`);
  assert.equal(waited.state, "approved_with_edits");
  const claim = await s.api(s.tokens.agent, "POST", `/v1/requests/${r.request}/claim`);
  assert.equal(claim.run, true);
  assert.equal(claim.edited, true);
  assert.deepEqual(claim.call, { tool: "stripe.refund", args: { amount: 450 } });
  const [prefix, body, sig] = claim.permit.split(".");
  assert.equal(prefix, "hp1");
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  assert.equal(claims.request, r.request);
  assert.equal(claims.tool, "stripe.refund");
  assert.equal(claims.digest, claim.digest);
  const { keys } = await s.api(s.tokens.agent, "GET", "/v1/keys");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: keys[0].public_key }, format: "jwk" });
  assert.ok(verify(null, Buffer.from(body, "base64url"), key, Buffer.from(sig, "base64url")), "the permit's signature verifies");
  assert.deepEqual(page.problems, []);
});

test("reject with a common reason picked in one click", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  await page.click("#reject");
  assert.match(await page.textContent("#status"), /Say why/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "reason");
  await page.click("button.chip:has-text('Amount too high')");
  assert.equal(await page.inputValue("#reason"), "Amount too high");
  assert.equal(await page.evaluate(() => document.activeElement.id), "reject", "the chip moves on to Reject");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1:has-text('rejected')");
  const agent = await s.api(s.tokens.agent, "GET", `/v1/requests/${r.request}/wait?timeout=1`);
  assert.equal(agent.state, "rejected");
  const events = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.ok(JSON.stringify(events.events).includes("Amount too high"), "the reason is recorded");
});

test("escalate to another existing group: it leaves fiona's inbox and reaches lena's", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  const options = await page.locator("#escalate-to option").evaluateAll(os => os.map(o => o.value));
  assert.equal(options[0], "finance-leads", "the gate's own escalation first");
  assert.equal(await page.inputValue("#escalate-to"), "finance-leads");
  assert.ok(options.includes("support-leads"), options.join());
  assert.ok(!options.includes("finance"), "not to the group it waits for already");
  await page.selectOption("#escalate-to", "finance-leads");
  await page.click("#escalate");
  await page.waitForSelector("#no-decision");
  const now = await s.api(s.tokens.lena, "GET", `/v1/requests/${r.request}`);
  assert.equal(now.state, "pending");
  assert.deepEqual(now.groups, ["finance-leads"]);
  const lena = await s.api(s.tokens.lena, "GET", "/v1/inbox");
  assert.deepEqual(lena.requests.map(x => x.request), [r.request]);
  const fiona = await s.api(s.tokens.fiona, "GET", "/v1/inbox");
  assert.deepEqual(fiona.requests, []);
  // fiona's page says it no longer waits for her.
  assert.match(await page.textContent("#no-decision"), /finance-leads/);
});

test("the requesting user sees no decide buttons, and a crafted POST from their session is refused", async t => {
  const { s, page } = await setUp(t, "frank");
  const r = await propose(s, { user: "frank" });
  await openRequest(page, r.request);
  assert.equal(await page.locator("#decide, #approve, #reject, #edit-approve").count(), 0);
  assert.match(await page.textContent("#no-decision"), /You asked for this/);
  const answer = await page.evaluate(async ({ id, digest }) => {
    const session = await (await fetch("/ui/session")).json();
    const r = await fetch(`/v1/requests/${id}/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": session.csrf },
      body: JSON.stringify({ decision: "approve", digest }),
    });
    return { status: r.status, body: await r.json() };
  }, { id: r.request, digest: r.digest });
  assert.equal(answer.status, 403, JSON.stringify(answer.body));
  const still = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(still.state, "pending");
});

test("an agent's reasoning with markup renders as text: no element made, no script run", async t => {
  const { s, page } = await setUp(t);
  const dialogs = [];
  page.on("dialog", d => { dialogs.push(d.message()); d.dismiss(); });
  const evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
  const r = await propose(s, { reasoning: evil, inputs: { note: evil }, alternatives: [evil] });
  await openRequest(page, r.request);
  await page.click("#reasoning summary");
  await page.click("#inputs summary");
  await page.click("#alternatives summary");
  assert.ok((await page.textContent("#reasoning pre")).includes(evil));
  assert.ok((await page.textContent("#inputs pre")).includes("<img src=x onerror=alert(2)>"));
  assert.equal(await page.locator("#main img, #main script").count(), 0);
  assert.equal(await page.evaluate(() => document.images.length), 0);
  assert.deepEqual(dialogs, []);
  assert.deepEqual(page.problems, []);
});

test("a stale decision: another approver edits meanwhile, the approve is refused and the page shows the new values", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  // frank (finance too) edits it over the API while fiona's page is open.
  await s.api(s.tokens.frank, "POST", `/v1/requests/${r.request}/decisions`, { decision: "edit", digest: r.digest, set: { amount: 800 } });
  let sent = 0;
  page.on("request", q => { if (q.url().endsWith("/decisions")) sent++; });
  await page.click("#approve");
  await page.waitForSelector("#notice");
  assert.match(await page.textContent("#notice"), /changed since you opened it/);
  assert.match(await page.textContent("#status"), /not pending|changed/);
  const amount = await page.locator('#fields tr[data-field="amount"]').textContent();
  assert.match(amount, /900.*800/, "the new value is shown beside the proposed one");
  assert.deepEqual(await page.locator("#fields thead th").allTextContents(), ["Field", "Proposed", "Edited"]);
  assert.equal(await page.locator("#approve").count(), 0, "nothing left to approve");
  assert.equal(sent, 1);
  const now = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(now.state, "approved_with_edits");
  assert.equal(now.call.args.amount, 800);
});

test("keyboard only: from the inbox to the request to Approve", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await page.waitForSelector(`#open-${r.request}`);
  const tabTo = async (want, limit = 40) => {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(w => document.activeElement && document.activeElement.matches(w), want)) return;
    }
    assert.fail(`Tab never reached ${want}`);
  };
  await tabTo(`#open-${r.request}`);
  // The focus is visible (an outline), not only the browser's default.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none");
  await page.keyboard.press("Enter");
  await page.waitForSelector(`h1[data-request="${r.request}"]`);
  await tabTo("#approve");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1:has-text('approved')");
  const now = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(now.state, "approved");
});

test("the `a` key goes to Approve, and Enter then approves", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  await page.keyboard.press("a");
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "approve");
  const still = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(still.state, "pending", "one stray key never approves");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1:has-text('approved')");
  const now = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(now.state, "approved");
});

test("a double click on Approve sends one decision", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  let sent = 0;
  page.on("request", q => { if (q.method() === "POST" && q.url().endsWith("/decisions")) sent++; });
  await page.dblclick("#approve");
  await page.waitForSelector("h1:has-text('approved')");
  assert.equal(sent, 1);
  assert.equal(await page.locator("#notice").count(), 0, "no 'changed meanwhile' from our own second click");
});

test("an empty or non-numeric amount is never sent (no 0, no NaN)", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  let sent = 0;
  page.on("request", q => { if (q.method() === "POST" && /\/(decisions|preview)$/.test(q.url())) sent++; });
  await page.fill("#arg-amount", "");
  await page.waitForSelector("#edit-problem");
  assert.match(await page.textContent("#edit-problem"), /amount needs a number/);
  assert.equal(await page.isDisabled("#edit-approve"), true);
  await page.evaluate(() => { document.getElementById("edit-approve").disabled = false; });
  await page.click("#edit-approve");
  assert.match(await page.textContent("#status"), /Not sent: amount needs a number/);
  assert.equal(await page.getAttribute("#arg-amount", "aria-invalid"), "true");
  assert.equal(sent, 0);
  const now = await s.api(s.tokens.fiona, "GET", `/v1/requests/${r.request}`);
  assert.equal(now.state, "pending");
  assert.equal(now.call.args.amount, 900);
});

test("an approver outside the waiting group sees no decide buttons", async t => {
  const { s, page } = await setUp(t, "sam");
  const r = await propose(s);
  await openRequest(page, r.request);
  assert.equal(await page.locator("#approve, #reject, #escalate, #edit-approve").count(), 0);
  assert.match(await page.textContent("#no-decision"), /waits for finance: you are not among them/);
});

test("only the decisions the gate allows are offered (no escalate for unsure_mid_refund)", async t => {
  const { s, page } = await setUp(t, "sam");
  const r = await propose(s, { args: { amount: 300 }, context: { confidence: 0.2 } });
  assert.deepEqual(r.groups, ["support-leads"]);
  await openRequest(page, r.request);
  assert.equal(await page.locator("#approve").count(), 1);
  assert.equal(await page.locator("#edit-approve").count(), 1);
  assert.equal(await page.locator("#escalate, #escalate-to").count(), 0);
});

test("the live indicator: offline while the stream is refused, then live again and caught up", async t => {
  // The stream is refused (as by a proxy in trouble) from the start: the browser gives up on
  // it, and the page tries again by itself, 1, 2, 4 ... s later.
  const refuse = route => route.fulfill({ status: 503, contentType: "text/plain", body: "down" });
  const { s, page } = await setUp(t, "fiona", {}, context => context.route("**/v1/inbox/events", refuse));
  await page.waitForSelector("#live[data-state=offline]");
  assert.match(await page.getAttribute("#live", "title"), /trying again in \d+ s/);
  await page.evaluate(() => { window.__notReloaded = true; });
  // Meanwhile a request arrives: the page cannot know yet.
  const r = await propose(s);
  await page.context().unroute("**/v1/inbox/events", refuse);
  await page.waitForSelector("#live[data-state=live]", { timeout: 9000 });
  await page.waitForSelector(`#inbox tr[data-request="${r.request}"]`);
  assert.equal(await page.evaluate(() => window.__notReloaded), true);
});

test("a request decided elsewhere while its page is open says so", async t => {
  const { s, page } = await setUp(t);
  const r = await propose(s);
  await openRequest(page, r.request);
  await live(page);
  await s.api(s.tokens.frank, "POST", `/v1/requests/${r.request}/decisions`, { decision: "reject", digest: r.digest, reason: "Duplicate" });
  await page.waitForSelector("#changed-banner");
  assert.match(await page.textContent("#changed-banner"), /now rejected/);
  await page.click("#show-new");
  await page.waitForSelector("h1:has-text('rejected')");
});

test("a session that ended sends the page to the sign-in form", async t => {
  const { s, page } = await setUp(t);
  await live(page);
  // Sign out in another tab of the same browser: this tab's next call is refused.
  const other = await page.context().newPage();
  await other.goto(`${s.base}/ui/`);
  await other.waitForFunction(() => document.getElementById("logout-csrf").value !== "");
  await Promise.all([other.waitForURL(/\/ui\/login$/), other.click("#logout button")]);
  await propose(s);
  await page.waitForURL(/\/ui\/login$/);
  const { status } = await call(s, s.tokens.fiona, "GET", "/v1/inbox");
  assert.equal(status, 200, "the token itself still works");
});

test("a webhook's link to a request (/inbox/{id}) opens that request after signing in", async t => {
  const s = await startService();
  t.after(s.stop);
  const r = await propose(s);
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${s.base}/inbox/${r.request}`);
  await page.waitForURL(/\/ui\/login/);
  await page.fill("#token", s.tokens.fiona);
  await page.click("button[type=submit]");
  await page.waitForSelector(`h1[data-request="${r.request}"]`);
  assert.equal(new URL(page.url()).hash, `#/r/${r.request}`);
  // Once only: the inbox afterwards is the inbox.
  await page.goto(`${s.base}/ui/`);
  await page.waitForSelector("#inbox");
});
