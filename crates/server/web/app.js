// The approvers' inbox. Everything an agent sent is put into the page as text
// (textContent, input values, SVG text nodes), never as markup; the page talks only to
// this service.
"use strict";

const state = {
  me: null, csrf: "", groups: [], allGroups: [],
  inbox: [], decided: [], filters: { group: "", tool: "" },
  view: "inbox", current: null, busy: false,
};

const SVG = "http://www.w3.org/2000/svg";

// ---- small helpers -------------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG (`svg("rect", {x: 1})`). */
function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(e, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = String(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Replaces an element's children, leaving out the absent ones. */
function fill(target, ...children) {
  target.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
}

const byId = id => document.getElementById(id);

/** What the end of an SLA does, in words. */
function timeoutText(t) {
  if (!t) return "expire";
  if (typeof t === "string") return t;
  return Object.entries(t).map(([k, v]) => k === "escalate" ? `escalate to ${v}` : `${k} ${show(v)}`).join(", ");
}

function say(text) {
  byId("status").textContent = text;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (r.status === 401) {
    // The page being read survives the sign-in (the login page keeps the target).
    location.assign("/ui/login" + (/^#\/r\/[A-Za-z0-9_.-]+$/.test(location.hash) ? location.hash : ""));
    const e = new Error("You are signed out: sign in again.");
    e.status = 401;
    throw e;
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error((data.error && data.error.message) || `the service answered ${r.status}`);
    e.status = r.status;
    e.code = data.error && data.error.code;
    throw e;
  }
  return data;
}

const ACRONYMS = new Set(["crm", "kb", "sms", "api", "url", "id", "sql", "ci"]);

/** "stripe.refund" -> "Stripe refund", "crm.bulk_update" -> "CRM bulk update". */
function toolInWords(tool) {
  const words = String(tool || "?").replace(/[._-]+/g, " ").trim().split(" ")
    .map(w => ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w).join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "in 3 h", "in 12 min", "2 h overdue". */
function dueIn(iso) {
  if (!iso) return "no deadline";
  const ms = Date.parse(iso) - Date.now();
  const span = spanText(Math.abs(ms));
  return ms >= 0 ? `in ${span}` : `${span} overdue`;
}

/** "5 min ago". */
function ago(iso) {
  if (!iso) return "—";
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return String(iso);
  return ms < 0 ? `in ${spanText(-ms)}` : `${spanText(ms)} ago`;
}

function spanText(ms) {
  const min = Math.round(ms / 60000);
  return min < 1 ? "under a minute" : min < 60 ? `${min} min` : min < 48 * 60 ? `${Math.round(min / 60)} h` : `${Math.round(min / 1440)} days`;
}

/** Seconds in words: "40 s", "12 min", "3.5 h". */
function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(Number(s))) return "—";
  s = Number(s);
  if (s < 1) return "under 1 s";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

function percent(x) {
  return x === null || x === undefined || !Number.isFinite(Number(x)) ? "—" : `${Math.round(Number(x) * 100)} %`;
}

/** The rules' reasons as one line: "Refund of 900 is above the 500 lane (refund_over_lane)". */
function reasonsText(reasons) {
  return (reasons || []).map(r => typeof r === "string" ? r : r.rule ? `${r.reason} (${r.rule})` : String(r.reason)).join("; ");
}

function show(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** A user name as the service compares them (case and width folded). */
function folded(name) {
  return String(name || "").normalize("NFKC").toLowerCase();
}

/** Text only screen readers read. */
function srOnly(text) {
  return el("span", { class: "sr-only" }, text);
}

// ---- the inbox -----------------------------------------------------------------------

async function loadInbox() {
  const data = await api("GET", "/v1/inbox");
  state.inbox = (data.requests || []).slice().sort((a, b) => {
    const da = a.due_at ? Date.parse(a.due_at) : Infinity, db = b.due_at ? Date.parse(b.due_at) : Infinity;
    return da - db;
  });
}

/** Keeps the focus on the control that had it (by id) across a re-render. */
function keepingFocus(render) {
  const id = document.activeElement && document.activeElement.id;
  render();
  if (id && byId(id) && document.activeElement !== byId(id)) byId(id).focus();
}

function amountsPills(amounts) {
  return Object.entries(amounts || {}).map(([k, v]) => el("span", { class: "pill" }, `${k}\u00a0${v}`));
}

function renderInbox() {
  const main = byId("main");
  const groups = [...new Set(state.inbox.flatMap(r => r.groups || []))].sort();
  const tools = [...new Set(state.inbox.map(r => r.tool))].sort();
  // A filter whose value no row has any more (decided elsewhere) is dropped, so the
  // list is never filtered by a choice the page no longer shows.
  if (state.filters.group && !groups.includes(state.filters.group)) state.filters.group = "";
  if (state.filters.tool && !tools.includes(state.filters.tool)) state.filters.tool = "";
  const pick = (name, label, options) => el("label", { for: `filter-${name}` }, label,
    el("select", { id: `filter-${name}`, onchange: e => { state.filters[name] = e.target.value; keepingFocus(renderInbox); } },
      el("option", { value: "" }, "all"),
      options.map(o => el("option", { value: o, selected: state.filters[name] === o }, o))));
  const rows = state.inbox.filter(r =>
    (!state.filters.group || (r.groups || []).includes(state.filters.group)) &&
    (!state.filters.tool || r.tool === state.filters.tool));
  const heads = ["What", "Key values", "Why", "For whom", "Due", "Waiting for"];
  const table = el("table", { class: "inbox stack", id: "inbox" },
    el("caption", { class: "quiet" }, `${rows.length} waiting for you`),
    el("thead", {}, el("tr", {}, heads.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(r => {
      const soon = r.due_at && Date.parse(r.due_at) - Date.now() < 3600 * 1000;
      return el("tr", { "data-request": r.request },
        el("td", { "data-label": heads[0] }, el("a", { href: `#/r/${encodeURIComponent(r.request)}`, id: `open-${r.request}` }, toolInWords(r.tool))),
        el("td", { "data-label": heads[1] }, amountsPills(r.amounts)),
        el("td", { "data-label": heads[2] }, reasonsText(r.reasons)),
        el("td", { "data-label": heads[3] }, `${r.user || "?"} (${r.tenant || "?"}), by ${r.agent || "?"}`),
        el("td", { "data-label": heads[4], class: soon ? "due-soon" : null, title: r.due_at || "" }, dueIn(r.due_at)),
        el("td", { "data-label": heads[5] }, (r.groups || []).map(g => el("span", { class: "pill" }, g))));
    })));
  fill(main,
    el("h1", { tabindex: "-1", id: "page-title" }, "Waiting for a decision"),
    state.inbox.length ? el("div", { class: "filters" }, pick("group", "Group", groups), pick("tool", "Tool", tools)) : null,
    rows.length ? table : el("p", { class: "quiet", id: "inbox-empty" },
      state.inbox.length ? "Nothing matches these filters." : "Nothing waits for you. New requests appear here by themselves."));
}

// ---- decided by me -------------------------------------------------------------------

const DECIDED_WORDS = { approved: "Approved", edited: "Edited, then approved", rejected: "Rejected", escalated: "Escalated" };

async function loadDecided() {
  const data = await api("GET", "/v1/inbox?view=decided");
  state.decided = data.requests || [];
}

function renderDecided() {
  const heads = ["What", "Key values", "For whom", "Your decision", "When", "Now"];
  const rows = state.decided;
  fill(byId("main"),
    el("h1", { tabindex: "-1", id: "page-title" }, "Decided by me"),
    rows.length ? el("table", { class: "inbox stack", id: "decided" },
      el("caption", { class: "quiet" }, `${rows.length} decided by you, newest first`),
      el("thead", {}, el("tr", {}, heads.map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map(r => {
        const mine = r.mine || {};
        return el("tr", { "data-request": r.request },
          el("td", { "data-label": heads[0] }, el("a", { href: `#/r/${encodeURIComponent(r.request)}` }, toolInWords(r.tool))),
          el("td", { "data-label": heads[1] }, amountsPills(r.amounts)),
          el("td", { "data-label": heads[2] }, `${r.user || "?"} (${r.tenant || "?"}), by ${r.agent || "?"}`),
          el("td", { "data-label": heads[3], class: `decision-${mine.decision || "none"}` },
            DECIDED_WORDS[mine.decision] || show(mine.decision),
            mine.gate ? el("span", { class: "quiet" }, ` · ${mine.gate}`) : null,
            mine.reason ? el("div", { class: "quiet" }, `“${mine.reason}”`) : null),
          el("td", { "data-label": heads[4], title: mine.at || "" }, ago(mine.at)),
          el("td", { "data-label": heads[5] }, stateWords(r.state)));
      }))) : el("p", { class: "quiet", id: "decided-empty" }, "You have not decided anything yet."));
}

function stateWords(s) {
  return String(s || "?").replace(/_/g, " ");
}

// ---- one request ---------------------------------------------------------------------

/** An object's fields as dotted paths (`changes.plan`), a few levels deep. */
function flatten(obj, prefix = "", out = {}, depth = 0) {
  for (const [k, v] of Object.entries(obj || {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length && depth < 3) flatten(v, path, out, depth + 1);
    else out[path] = v;
  }
  return out;
}

/** The fields of the call: before (if the agent sent it), proposed, and the current edit. */
function fieldsTable(r) {
  const proposed = flatten((r.proposed && r.proposed.args) || {});
  const current = flatten((r.call && r.call.args) || {});
  const before = r.before && typeof r.before === "object" ? flatten(r.before) : null;
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(proposed), ...Object.keys(current)])];
  const edited = JSON.stringify(proposed) !== JSON.stringify(current);
  const head = ["Field"].concat(before ? ["Now"] : [], ["Proposed"], edited ? ["Edited"] : []);
  const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  return el("table", { class: "changed", id: "fields" },
    el("thead", {}, el("tr", {}, head.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, keys.map(k => {
      const b = before ? (has(before, k) ? show(before[k]) : "—") : null;
      const p = has(proposed, k) ? show(proposed[k]) : "—", c = has(current, k) ? show(current[k]) : "—";
      const changedByAgent = before && b !== p, changedByEdit = edited && p !== c;
      return el("tr", { "data-field": k, class: changedByAgent || changedByEdit ? "differs" : null },
        el("th", { scope: "row" }, k),
        before ? el("td", { class: changedByAgent ? "old" : null }, b, changedByAgent ? srOnly(" (now, changes)") : null) : null,
        el("td", { class: changedByAgent && !changedByEdit ? "new" : changedByEdit ? "old" : null }, p,
          changedByEdit ? srOnly(" (replaced by the edit)") : changedByAgent ? srOnly(" (proposed)") : null),
        edited ? el("td", { class: changedByEdit ? "new" : null }, c, changedByEdit ? srOnly(" (edited)") : null) : null);
    })));
}

function foldedBlock(title, value, id) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  return el("details", { id }, el("summary", {}, title), el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)));
}

/** The open gates this approver may decide: not approved yet, not approved by them, theirs. */
function myGates(r) {
  const mine = new Set(state.groups);
  return (r.gates || []).filter(g => !g.approved && !(g.approved_by || []).includes(state.me) &&
    (!(g.groups || []).length ? true : g.groups.some(x => mine.has(x))));
}

function renderRequest(r, notice) {
  state.current = r;
  const c = r.checkpoint || {};
  const who = c.identity || {};
  const me = folded(state.me);
  const party = !!state.me && (me === folded(who.user) || me === folded(who.agent));
  const pending = r.state === "pending";
  const gates = myGates(r);
  const gateItems = (r.gates || []).map(g => el("li", {},
    `${g.rule}: ${g.approved ? "approved" : "waits for " + ((g.groups || []).join(" or ") || "any approver")}`,
    g.quorum > 1 ? ` (${(g.approved_by || []).length} of ${g.quorum})` : "",
    g.due_at && !g.approved && pending ? ` · due ${dueIn(g.due_at)}, then ${timeoutText(g.on_timeout)}` : ""));
  let decide;
  if (!pending) decide = el("p", { class: "notice", id: "no-decision" }, `Nothing to decide: it is ${stateWords(r.state)}.`);
  else if (party) decide = el("p", { class: "notice", id: "no-decision" }, "You asked for this (or your agent did): someone else decides.");
  else if (!gates.length) decide = el("p", { class: "notice", id: "no-decision" },
    `This waits for ${(r.groups || []).join(" or ") || "another approver"}: you are not among them${(r.gates || []).some(g => (g.approved_by || []).includes(state.me)) ? ", or you approved already" : ""}.`);
  else decide = decideForm(r, gates);
  fill(byId("main"),
    notice ? el("p", { class: "notice", role: "alert", id: "notice" }, notice) : null,
    el("p", {}, el("a", { href: "#/" }, "← Inbox")),
    el("h1", { tabindex: "-1", id: "page-title", "data-request": r.request }, `${toolInWords(r.call && r.call.tool)} · ${stateWords(r.state)}`),
    el("p", { class: "reason" }, reasonsText(r.reasons) || "The policy asks for a person's decision."),
    el("h2", {}, "What changes"),
    fieldsTable(r),
    runSoFar(r),
    el("h2", {}, "Why the agent wants it"),
    foldedBlock("The agent's reasoning", c.reasoning, "reasoning"),
    foldedBlock("Its inputs", c.inputs, "inputs"),
    foldedBlock("Alternatives it considered", c.alternatives, "alternatives"),
    el("p", {}, `Acting for ${who.user || "?"} (tenant ${who.tenant || "?"}), agent ${who.agent || "?"}`,
      who.credentials_ref ? `, credentials ${who.credentials_ref}` : ""),
    el("h2", {}, "Gates"),
    el("ul", {}, gateItems),
    el("p", { class: "quiet digest" }, `Digest of what you see: ${r.digest}`),
    decide);
}

/** The earlier steps of the same run: how each was decided, the running totals. */
function runSoFar(r) {
  const run = r.run;
  const steps = (run && run.steps) || [];
  if (steps.length < 2) return null;
  const amountKeys = [...new Set(steps.flatMap(s => Object.keys(s.running || s.amounts || {})))];
  const decisions = s => (s.decisions || []).map(d => `${d.decision} by ${d.by}${d.reason ? ` (“${d.reason}”)` : ""}`).join(", ") || "—";
  const heads = ["Step", "What", "Key values", "Decided", "State"].concat(amountKeys.map(k => `Running ${k}`));
  const totals = run.totals || {};
  return el("section", { "aria-labelledby": "run-title", id: "run" },
    el("h2", { id: "run-title" }, "The run so far"),
    el("p", { class: "quiet" }, `Run ${run.id}: ${steps.length} steps.`,
      Object.keys(totals).length ? ` Totals of its ${toolInWords(steps[steps.length - 1].tool)} calls: ${Object.entries(totals).map(([k, v]) => `${k} ${show(v)}`).join(", ")}.` : "",
      run.earlier ? ` ${run.earlier} earlier steps are not shown nor counted.` : "",
      run.unreadable ? ` ${run.unreadable} steps could not be read.` : ""),
    el("table", { class: "run stack" },
      el("thead", {}, el("tr", {}, heads.map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, steps.map((s, i) => el("tr", { class: s.current ? "current" : null, "aria-current": s.current ? "step" : null, "data-step": String(i + 1) },
        el("td", { "data-label": heads[0] }, String(i + 1), s.current ? el("strong", {}, " (this request)") : null),
        el("td", { "data-label": heads[1] }, s.current ? toolInWords(s.tool)
          : el("a", { href: `#/r/${encodeURIComponent(s.request)}` }, toolInWords(s.tool)),
          el("div", { class: "quiet" }, ago(s.created_at))),
        el("td", { "data-label": heads[2] }, amountsPills(s.amounts)),
        el("td", { "data-label": heads[3] }, decisions(s)),
        el("td", { "data-label": heads[4] }, stateWords(s.state), s.counted === false ? el("div", { class: "quiet" }, "not counted") : null),
        amountKeys.map((k, j) => el("td", { "data-label": heads[5 + j], class: "num" }, show((s.running || {})[k]))))))));
}

const COMMON_REASONS = ["Amount too high", "Not the customer's request", "Needs a manager", "Duplicate"];

function decideForm(r, gates) {
  const allowed = new Set(gates.flatMap(g => g.decisions || ["approve", "reject", "edit", "escalate"]));
  const args = (r.call && r.call.args) || {};
  const reason = el("input", { id: "reason", name: "reason", type: "text", list: "common-reasons", autocomplete: "off" });
  const commonReasons = el("datalist", { id: "common-reasons" }, COMMON_REASONS.map(t => el("option", { value: t })));
  const waiting = new Set(gates.flatMap(g => g.groups || []));
  const groups = allowed.has("escalate") ? (state.allGroups || []).filter(g => !waiting.has(g)) : [];
  // The group the gate escalates to by itself when its time runs out comes first and is
  // chosen; otherwise the approver picks one (no group is sent by accident).
  const usual = gates.map(g => g.on_timeout && g.on_timeout.escalate).find(g => g && groups.includes(g));
  const ordered = usual ? [usual, ...groups.filter(g => g !== usual)] : groups;
  const to = el("select", { id: "escalate-to" },
    usual ? null : el("option", { value: "" }, "choose a group"),
    ordered.map(g => el("option", { value: g, selected: g === usual }, g === usual ? `${g} (where it goes on timeout)` : g)));
  const escalate = () => {
    if (!to.value) { say("Choose the group to escalate to."); to.focus(); return; }
    send({ decision: "escalate", to: to.value });
  };
  const inputs = Object.entries(args).map(([k, v]) => {
    const id = `arg-${k}`;
    const json = Array.isArray(v) || (v !== null && typeof v === "object");
    const kind = json ? "json" : typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "string";
    const input = json
      ? el("textarea", { id, name: k, rows: "3", spellcheck: "false", "data-kind": kind })
      : el("input", {
        id, name: k, "data-kind": kind,
        type: kind === "number" ? "number" : kind === "boolean" ? "checkbox" : "text",
        step: kind === "number" ? "any" : null, inputmode: kind === "number" ? "decimal" : null,
        required: kind === "number" ? true : null,
      });
    if (kind === "boolean") input.checked = v;
    else input.value = kind === "string" ? v : kind === "number" ? String(v) : JSON.stringify(v, null, 1);
    return [el("label", { for: id }, k), input];
  });
  /** The edit: the changed fields, and what does not read (empty numbers, bad JSON). */
  const readEdit = () => {
    const set = {}, problems = [];
    for (const input of document.querySelectorAll("#edit-form [data-kind]")) {
      const kind = input.dataset.kind;
      let v;
      input.removeAttribute("aria-invalid");
      if (kind === "number") {
        const text = input.value.trim();
        v = Number(text);
        if (text === "" || (input.validity && input.validity.badInput) || !Number.isFinite(v)) {
          problems.push(`${input.name} needs a number`);
          input.setAttribute("aria-invalid", "true");
          continue;
        }
      } else if (kind === "boolean") v = input.checked;
      else if (kind === "json") {
        try { v = JSON.parse(input.value); } catch {
          problems.push(`${input.name} is not valid JSON`);
          input.setAttribute("aria-invalid", "true");
          continue;
        }
      } else v = input.value;
      if (JSON.stringify(v) !== JSON.stringify(args[input.name])) set[input.name] = v;
    }
    return { set, problems };
  };
  const buttons = () => document.querySelectorAll("#decide button");
  const send = async (body) => {
    if (state.busy) return;
    state.busy = true;
    for (const b of buttons()) b.disabled = true;
    say("Sending…");
    try {
      await api("POST", `/v1/requests/${encodeURIComponent(r.request)}/decisions`, { digest: r.digest, ...body });
      say(`Recorded: ${body.decision}.`);
      await openRequest(r.request);
    } catch (e) {
      if (e.status === 409) {
        say(e.message);
        await openRequest(r.request, changedNotice);
      } else {
        say(e.message);
        for (const b of buttons()) b.disabled = false;
      }
    } finally {
      state.busy = false;
    }
  };
  const reject = () => {
    const why = reason.value.trim();
    if (!why) { say("Say why you reject it (or pick a common reason)."); reason.focus(); return; }
    send({ decision: "reject", reason: why });
  };
  const pickReason = text => () => { reason.value = text; byId("reject").focus(); say(`Reason: ${text}. Press Reject to send it.`); };
  return el("section", { "aria-labelledby": "decide-title", id: "decide" },
    el("h2", { id: "decide-title" }, "Decide"),
    gates.length > 1 || (r.gates || []).length > 1
      ? el("p", { class: "quiet" }, `You decide for: ${gates.map(g => g.rule).join(", ")}.`) : null,
    el("div", { class: "actions" },
      allowed.has("approve") ? el("button", { type: "button", class: "primary", id: "approve", onclick: () => send({ decision: "approve" }) }, "Approve") : null,
      allowed.has("reject") ? el("button", { type: "button", class: "danger", id: "reject", onclick: reject }, "Reject") : null,
      groups.length ? el("button", { type: "button", id: "escalate", onclick: escalate }, "Escalate") : null),
    allowed.has("reject") ? el("div", { class: "reject-reason" },
      el("p", {}, el("label", { for: "reason" }, "Reason (required to reject) "), reason, commonReasons),
      el("p", { class: "chips", role: "group", "aria-label": "Common reasons" }, el("span", { class: "quiet" }, "Common: "),
        COMMON_REASONS.map(t => el("button", { type: "button", class: "chip", onclick: pickReason(t) }, t)))) : null,
    groups.length ? el("p", {}, el("label", { for: "escalate-to" }, "Escalate to "), to) : null,
    allowed.has("edit") && inputs.length ? el("fieldset", { id: "edit-form", oninput: () => previewSoon(r, args, readEdit), onchange: () => previewSoon(r, args, readEdit) },
      el("legend", {}, "Edit, then approve"),
      el("div", { class: "edit-grid" }, inputs.flat()),
      el("div", { id: "edit-preview", "aria-live": "polite" }),
      el("div", { class: "actions" },
        el("button", { type: "button", id: "edit-approve", onclick: () => {
          const { set, problems } = readEdit();
          if (problems.length) { say(`Not sent: ${problems.join("; ")}.`); const bad = document.querySelector("#edit-form [aria-invalid=true]"); if (bad) bad.focus(); return; }
          if (!Object.keys(set).length) { say("Nothing was edited: use Approve."); return; }
          send({ decision: "edit", set });
        } }, "Approve with these values"))) : null,
    el("p", { class: "quiet keys" }, "Keys: ",
      allowed.has("approve") ? [el("kbd", {}, "a"), " then ", el("kbd", {}, "Enter"), " approve · "] : null,
      allowed.has("reject") ? [el("kbd", {}, "r"), " reason, then Reject · "] : null,
      allowed.has("edit") ? [el("kbd", {}, "e"), " edit · "] : null,
      el("kbd", {}, "Esc"), " inbox"));
}

const changedNotice = "The call changed since you opened it (someone else decided or edited it): here is the new version. Check it before you decide again.";

let previewTimer = null;

/** Shows, a moment after the last keystroke, the edit's diff and the policy's decision. */
function previewSoon(r, args, readEdit) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const box = byId("edit-preview");
    const button = byId("edit-approve");
    if (!box) return;
    const { set, problems } = readEdit();
    if (problems.length) {
      button.disabled = true;
      fill(box, el("p", { class: "problem", id: "edit-problem" }, `Fix first: ${problems.join("; ")}.`));
      return;
    }
    if (!Object.keys(set).length) { fill(box); button.disabled = false; return; }
    const asked = JSON.stringify(set);
    try {
      const p = await api("POST", `/v1/requests/${encodeURIComponent(r.request)}/preview`, { decision: "edit", digest: r.digest, set });
      if (byId("edit-preview") !== box || JSON.stringify(readEdit().set) !== asked) return; // typed on meanwhile
      const d = p.decision || {};
      const denied = d.effect === "deny";
      const misfit = p.conforms === false;
      button.disabled = denied || misfit || state.busy;
      const field = path => path.replace(/^\//, "").split("/").map(s => s.replace(/~1/g, "/").replace(/~0/g, "~"));
      const was = path => field(path).reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), args);
      fill(box,
        el("h3", {}, "Your edit"),
        el("ul", { class: "diff", "aria-label": "What your edit changes" },
          (p.changes || []).map(c => el("li", { class: c.op === "remove" ? "del" : "add" },
            `${field(c.path).join(".")}: ${show(was(c.path))} → ${c.op === "remove" ? "(removed)" : show(c.value)}`))),
        el("p", { class: denied ? "problem" : "verdict", id: "edit-verdict" }, `With your edit the policy says: ${d.effect}`,
          (d.reasons || []).length ? ` (${reasonsText(d.reasons)})` : "",
          denied ? ". It cannot be approved like this." : "."),
        misfit ? el("p", { class: "problem", id: "edit-misfit" }, `The tool does not accept the edited call: ${show(p.problem)}. It cannot be approved like this.`) : null,
        d.effect === "approve" ? el("p", {}, "Then it waits for: ",
          ((d.approval && d.approval.gates) || []).map(g => `${(g.by || []).join(" or ") || "any approver"} (${g.rule})`).join(", ") || "a person") : null);
    } catch (e) { fill(box, el("p", { class: "problem" }, e.message)); }
  }, 250);
}

async function openRequest(id, notice) {
  const r = await api("GET", `/v1/requests/${encodeURIComponent(id)}`);
  state.view = "request";
  renderRequest(r, notice);
  const h = document.querySelector("#main h1");
  const n = byId("notice");
  if (n) { n.setAttribute("tabindex", "-1"); n.focus(); } else if (h) h.focus({ preventScroll: true });
}

/** On the request page, a change made elsewhere: say so, and offer the new version. */
async function checkCurrent() {
  const r = state.current;
  if (!r || state.busy) return;
  const now = await api("GET", `/v1/requests/${encodeURIComponent(r.request)}`);
  if (state.current !== r || state.busy) return;
  if (now.digest === r.digest && now.state === r.state && JSON.stringify(now.gates) === JSON.stringify(r.gates)) return;
  if (byId("changed-banner")) return;
  byId("main").prepend(el("div", { class: "notice", role: "alert", id: "changed-banner" },
    `This request changed meanwhile (now ${stateWords(now.state)}). `,
    el("button", { type: "button", id: "show-new", onclick: () => openRequest(r.request) }, "Show the new version")));
}

// ---- gate statistics -----------------------------------------------------------------

async function renderStats() {
  const s = await api("GET", "/v1/stats");
  const gates = s.gates || [];
  const heads = ["Gate", "Fired", "Approved", "With edits", "Rejected", "Escalated", "Expired", "Median time", "90 % within", "Unchanged"];
  const flagged = gates.filter(g => g.rubber_stamp);
  fill(byId("main"),
    el("h1", { tabindex: "-1", id: "page-title" }, "Gate statistics"),
    el("p", { class: "quiet" }, `A gate is flagged as a rubber stamp when more than ${percent(s.rubber_stamp_share)} of its decisions approve the call unchanged, over at least ${s.min_decisions ?? "?"} decisions.`),
    flagged.map(g => el("div", { class: "flag", role: "note", "data-gate": g.gate },
      el("strong", {}, `Rubber stamp: ${g.gate}`), " — ", g.advice || `${percent(g.unchanged_share)} approved unchanged: a likely rubber stamp.`)),
    gates.length ? el("table", { class: "stats stack", id: "stats" },
      el("caption", { class: "quiet" }, `${gates.length} gates`),
      el("thead", {}, el("tr", {}, heads.map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, gates.map(g => el("tr", { "data-gate": g.gate, class: g.rubber_stamp ? "flagged" : null },
        el("th", { scope: "row", "data-label": heads[0] }, g.gate, g.rubber_stamp ? el("span", { class: "badge" }, "rubber stamp") : null),
        [g.fired, g.approved, g.approved_with_edits, g.rejected, g.escalated, g.expired].map((n, i) =>
          el("td", { class: "num", "data-label": heads[i + 1] }, show(n ?? 0))),
        el("td", { class: "num", "data-label": heads[7] }, seconds(g.median_s)),
        el("td", { class: "num", "data-label": heads[8] }, seconds(g.p90_s)),
        el("td", { class: "num", "data-label": heads[9] }, percent(g.unchanged_share)))))) :
      el("p", { class: "quiet", id: "stats-empty" }, "No gate has fired yet."),
    gates.filter(g => (g.days || g.timeline || []).length).map(chart));
}

const SERIES = [
  { key: "approved", label: "Approved unchanged", class: "s-approved" },
  { key: "edited", label: "Edited, then approved", class: "s-edited" },
  { key: "rejected", label: "Rejected", class: "s-rejected" },
];

/** The days from the first to the last one given, the missing ones as zeros (at most 90, the latest). */
function everyDay(given) {
  const byDay = new Map(given.map(d => [d.day, d]));
  const first = Date.parse(`${given[0].day}T00:00:00Z`), last = Date.parse(`${given[given.length - 1].day}T00:00:00Z`);
  if (!Number.isFinite(first) || !Number.isFinite(last) || last < first) return given.slice(-90);
  const out = [];
  for (let t = Math.max(first, last - 89 * 86400000); t <= last; t += 86400000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(byDay.get(day) || { day, approved: 0, edited: 0, rejected: 0 });
  }
  return out;
}

/** A gate's decisions per day as stacked bars, with a text legend and the numbers as a table. */
function chart(g) {
  const days = everyDay(g.days || g.timeline);
  const id = `chart-${String(g.gate).replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const W = 600, H = 160, pad = { l: 32, r: 8, t: 8, b: 28 };
  const total = d => SERIES.reduce((n, s) => n + (Number(d[s.key]) || 0), 0);
  const max = Math.max(1, ...days.map(total));
  const bw = Math.min(48, (W - pad.l - pad.r) / days.length);
  const y = v => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const summary = `${g.gate}: decisions per day, ${days.length} days, ` +
    SERIES.map(s => `${days.reduce((n, d) => n + (Number(d[s.key]) || 0), 0)} ${s.label.toLowerCase()}`).join(", ") + ".";
  const bars = days.map((d, i) => {
    let at = 0;
    const x = pad.l + i * bw + bw * 0.15, w = Math.max(1, bw * 0.7);
    return svg("g", {}, SERIES.map(s => {
      const v = Number(d[s.key]) || 0;
      if (!v) return null;
      const rect = svg("rect", { class: s.class, x: x.toFixed(1), width: w.toFixed(1), y: y(at + v).toFixed(1), height: (y(at) - y(at + v)).toFixed(1) },
        svg("title", {}, `${d.day}: ${v} ${s.label.toLowerCase()}`));
      at += v;
      return rect;
    }), days.length <= 14 || i % Math.ceil(days.length / 7) === 0
      ? svg("text", { x: (pad.l + i * bw + bw / 2).toFixed(1), y: H - 8, "text-anchor": "middle", class: "axis" }, String(d.day).slice(5)) : null);
  });
  return el("figure", { class: "chart", id },
    el("figcaption", {}, el("strong", {}, g.gate), ": decisions per day"),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}-title`, preserveAspectRatio: "xMinYMin meet" },
      svg("title", { id: `${id}-title` }, summary),
      svg("line", { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: "axis-line" }),
      svg("text", { x: pad.l - 4, y: y(max) + 4, "text-anchor": "end", class: "axis" }, String(max)),
      svg("text", { x: pad.l - 4, y: y(0), "text-anchor": "end", class: "axis" }, "0"),
      bars),
    el("ul", { class: "legend" }, SERIES.map(s => el("li", {}, el("span", { class: `swatch ${s.class}`, "aria-hidden": "true" }), s.label))),
    el("details", {}, el("summary", {}, "The numbers by day"),
      el("table", { class: "timeline" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Day"), SERIES.map(s => el("th", { scope: "col" }, s.label)))),
        el("tbody", {}, days.map(d => el("tr", {}, el("th", { scope: "row" }, d.day), SERIES.map(s => el("td", { class: "num" }, show(d[s.key] ?? 0)))))))));
}

// ---- routing, live updates, keys -----------------------------------------------------

function markNav() {
  for (const [view, id] of [["inbox", "nav-inbox"], ["decided", "nav-decided"], ["stats", "nav-stats"]]) {
    const a = byId(id);
    if (a) { if (state.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current"); }
  }
}

async function route() {
  const m = location.hash.match(/^#\/r\/(.+)$/);
  clearTimeout(previewTimer);
  try {
    if (m) { state.view = "request"; markNav(); await openRequest(decodeURIComponent(m[1])); }
    else if (location.hash === "#/decided") { state.view = "decided"; state.current = null; markNav(); await loadDecided(); renderDecided(); }
    else if (location.hash === "#/stats") { state.view = "stats"; state.current = null; markNav(); await renderStats(); }
    else { state.view = "inbox"; state.current = null; markNav(); await loadInbox(); renderInbox(); }
    const h = document.querySelector("#main h1");
    document.title = `${(h && h.textContent) || "Inbox"} · holdpoint`;
    if (h && !m) h.focus({ preventScroll: true });
  } catch (e) {
    fill(byId("main"), el("p", { class: "problem", role: "alert" }, e.message), el("p", {}, el("a", { href: "#/" }, "← Inbox")));
  }
}

/** Reads what the page shows again, once per burst of changes. */
let refreshing = false, refreshAgain = false;
async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      if (state.view === "inbox") { await loadInbox(); if (state.view === "inbox") keepingFocus(renderInbox); }
      else if (state.view === "decided") { await loadDecided(); if (state.view === "decided") keepingFocus(renderDecided); }
      else if (state.view === "request") await checkCurrent();
    } while (refreshAgain);
  } catch (e) {
    say(e.message);
  } finally {
    refreshing = false;
  }
}

const live = { source: null, retries: 0, timer: null };

function setLive(s, text, title) {
  const e = byId("live");
  if (!e) return;
  e.dataset.state = s;
  e.textContent = text;
  e.title = title;
}

/**
 * Follows `/v1/inbox/events`. The header says whether the page is live. A stream that
 * opens (again) reads the inbox again (what changed while it was away); one the browser
 * gave up on (an error answer) is opened again after 1, 2, 4 ... 30 s; a session that
 * ended goes to the sign-in page.
 */
function follow() {
  clearTimeout(live.timer);
  if (live.source) live.source.close();
  const source = new EventSource("/v1/inbox/events");
  live.source = source;
  if (byId("live").dataset.state !== "offline") setLive("connecting", "Connecting…", "Connecting to live updates");
  source.addEventListener("open", () => {
    live.retries = 0;
    setLive("live", "Live", "New requests and decisions appear by themselves");
    refresh();
  });
  source.addEventListener("changed", () => refresh());
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      const wait = Math.min(30000, 1000 * 2 ** live.retries++);
      setLive("offline", "Offline", `Not live: trying again in ${Math.round(wait / 1000)} s. Reload to see the latest.`);
      live.timer = setTimeout(async () => {
        try { await api("GET", "/ui/session"); } catch (e) { if (e.status === 401) return; }
        follow();
      }, wait);
    } else {
      setLive("offline", "Reconnecting…", "The live updates were cut: reconnecting");
    }
  });
}

document.addEventListener("keydown", e => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  if (e.target.closest("input, textarea, select")) return;
  // `a` only moves to Approve: one stray key never approves; Enter (or Space) then does.
  const reach = id => { const b = byId(id); if (b && !b.disabled) { e.preventDefault(); b.focus(); say("Press Enter to approve, Tab to go on."); } };
  if (e.key === "a") reach("approve");
  else if (e.key === "r") { const i = byId("reason"); if (i) { e.preventDefault(); i.focus(); } }
  else if (e.key === "e") { const i = document.querySelector("#edit-form [data-kind]"); if (i) { e.preventDefault(); i.focus(); } }
  else if (e.key === "Escape" && state.view !== "inbox") location.hash = "#/";
});

async function start() {
  const s = await api("GET", "/ui/session");
  state.me = s.approver;
  state.csrf = s.csrf;
  state.groups = s.groups || [];
  state.allGroups = s.all_groups || [];
  byId("who").textContent = `${s.approver} · ${(s.groups || []).join(", ") || "no groups"}`;
  byId("logout-csrf").value = s.csrf;
  window.addEventListener("hashchange", route);
  await route();
  follow();
}

// A link to one request (`/inbox/{id}`, in webhook messages) that had to sign in first
// lands on the sign-in page with the request in its fragment, which the form's POST does
// not carry: it is kept for this tab and opened once signed in.
const AFTER_LOGIN = "holdpoint.after-login";
const REQUEST_HASH = /^#\/r\/[A-Za-z0-9_.-]+$/;

function rememberTarget() {
  try {
    if (REQUEST_HASH.test(location.hash)) sessionStorage.setItem(AFTER_LOGIN, location.hash);
  } catch { /* no storage: the inbox opens instead */ }
}

function restoreTarget() {
  try {
    const target = sessionStorage.getItem(AFTER_LOGIN);
    sessionStorage.removeItem(AFTER_LOGIN);
    if (target && REQUEST_HASH.test(target) && !location.hash) history.replaceState(null, "", target);
  } catch { /* no storage */ }
}

if (document.documentElement.dataset.page === "login") rememberTarget();
else { restoreTarget(); start().catch(e => say(e.message)); }
