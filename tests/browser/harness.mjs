// The service and the browser for the inbox's end-to-end tests: each test starts its own
// `policy serve` on a free loopback port with a fresh data directory (tokens made with
// `policy tokens create`, as an operator would), and drives headless Chromium through
// playwright-core (no browser download: Debian's chromium).

import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm, mkdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "../..");

/** The `policy` binary: $HOLDPOINT_BIN, else the usual cargo target dirs. */
export const BINARY = process.env.HOLDPOINT_BIN ||
  [join(ROOT, "target/debug/policy"), "/work/target-browser/debug/policy"].find(existsSync) ||
  "policy";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Screenshots go to docs/screenshots only when asked for (CI leaves the tree clean). */
export const SCREENSHOTS = process.env.SCREENSHOTS === "1";

/** The approvers made for each service (groups from policies/support/approvers.yaml). */
const APPROVERS = ["fiona", "frank", "lena", "sam", "carl"];

/**
 * Starts `policy serve policies/support` on 127.0.0.1, port 0 (the service prints the one
 * it got), with its own data directory and tokens: `{base, tokens: {agent, fiona, ...},
 * stop()}`.
 */
export async function startService() {
  const data = await mkdtemp(join(tmpdir(), "holdpoint-browser-"));
  const tokens = {};
  const make = async (who, args) => {
    const { stdout } = await run(BINARY, ["tokens", "create", "--data", data, ...args]);
    tokens[who] = stdout.trim();
  };
  await make("agent", ["--agent", "support-bot", "--tenant", "acme"]);
  for (const a of APPROVERS) await make(a, ["--approver", a]);
  const child = spawn(BINARY, [
    "serve", join(ROOT, "policies/support"),
    "--listen", "127.0.0.1:0", "--data", data, "--rate-limit", "off",
  ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
  let log = "";
  child.stderr.on("data", d => { log += d; });
  const base = await new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`the service did not start:\n${out}\n${log}`)), 15000);
    child.stdout.on("data", d => {
      out += d;
      const m = out.match(/ on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on("exit", code => { clearTimeout(timer); fail(new Error(`the service exited (${code}):\n${out}\n${log}`)); });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const gone = new Promise(ok => child.once("exit", ok));
      child.kill("SIGTERM");
      const late = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(late);
    }
    await rm(data, { recursive: true, force: true });
  };
  const service = { base, tokens, data, stop, log: () => log };
  service.api = (token, method, path, body) => api(service, token, method, path, body);
  return service;
}

/** A call to the service's API with a bearer token: the JSON body (throws on an error status). */
export async function api(service, token, method, path, body) {
  const { status, json } = await call(service, token, method, path, body);
  if (status >= 400) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json;
}

/** As `api`, but the status and the body whatever the status. */
export async function call(service, token, method, path, body) {
  const r = await fetch(service.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, json };
}

let seq = 0;

/**
 * An agent's proposal, submitted over the API: a refund of `amount` for `user`, waiting
 * for finance above 500. Returns the service's answer (the request for `approve`).
 */
export async function propose(service, { tool = "stripe.refund", args = { amount: 900 }, user = "uma@example.com",
  context = { confidence: 0.9 }, run_id = `run-${process.pid}-${++seq}`, tool_call_id = `call-${++seq}`, reasoning = "The customer was charged twice for order 1142.",
  before, inputs, alternatives } = {}) {
  const body = {
    call: { tool, args, context },
    identity: { user, tenant: "acme" },
    run_id, tool_call_id, reasoning,
  };
  if (before !== undefined) body.before = before;
  if (inputs !== undefined) body.inputs = inputs;
  if (alternatives !== undefined) body.alternatives = alternatives;
  return api(service, service.tokens.agent, "POST", "/v1/requests", body);
}

/** Headless Chromium (one per test file; each test has its own context). */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/**
 * A fresh browser context and page, signed in as `who` through the login form. Every page
 * error or console error is collected in `page.problems` (a test can assert there are none).
 */
export async function signedIn(browser, service, who, options = {}, prepare = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  await prepare(context);
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", e => page.problems.push(`pageerror: ${e.message}`));
  page.on("console", m => { if (m.type() === "error") page.problems.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(10000);
  await page.goto(`${service.base}/ui/login`);
  await page.fill("#token", service.tokens[who]);
  await Promise.all([page.waitForURL(`${service.base}/ui/`), page.click("button[type=submit]")]);
  await page.waitForFunction(w => document.getElementById("who").textContent.startsWith(w), who);
  return page;
}

/** Waits until the page follows the live updates (the header's indicator says so). */
export async function live(page) {
  await page.waitForSelector("#live[data-state=live]");
}

/** Opens a request's page and waits for it. */
export async function openRequest(page, id) {
  await page.evaluate(i => { location.hash = `#/r/${encodeURIComponent(i)}`; }, id);
  await page.waitForSelector(`[data-request="${id}"]`);
}

/** The axe-core source, injected into the page. */
const require = createRequire(import.meta.url);
const AXE = readFile(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * axe-core's violations of the page, serious or critical only. The page's CSP allows no
 * inline script, so `addScriptTag({content})` is refused; the script is evaluated through
 * the DevTools protocol instead (which the page's CSP does not govern), so the page under
 * test keeps its real CSP (no `bypassCSP`).
 */
export async function axeViolations(page) {
  const source = await AXE;
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return {
      checked: r.passes.length + r.violations.length + r.incomplete.length,
      violations: r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5) })),
    };
  });
  if (result.checked < 10) throw new Error(`axe-core ran only ${result.checked} rules: was it injected?`);
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical");
}

/** Writes a screenshot to docs/screenshots/NAME.png when SCREENSHOTS=1. */
export async function screenshot(page, name, options = {}) {
  if (!SCREENSHOTS) return;
  const dir = join(ROOT, "docs/screenshots");
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, ...options });
}

/**
 * How wide the page is against the window: `scroll` (the document's scrollWidth) must not
 * pass `inner` (innerWidth), nor the width the test asked for (a phone's browser widens its
 * layout viewport to fit content that is too wide, so innerWidth alone can grow with it).
 */
export async function overflow(page) {
  const asked = page.viewportSize().width;
  const got = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  return { ...got, asked, fits: got.scroll <= got.inner && got.scroll <= asked };
}
