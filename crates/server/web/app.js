// The approvers' inbox. Everything an agent sent is put into the page as text
// (textContent, input values), never as markup; the page talks only to this service.
"use strict";

const state = { me: null, csrf: "", inbox: [], filters: { group: "", tool: "" }, current: null };

// ---- small helpers -------------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = String(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Replaces an element's children, leaving out the absent ones. */
function fill(target, ...children) {
  target.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined));
}

/** What the end of an SLA does, in words. */
function timeoutText(t) {
  if (!t) return "expire";
  if (typeof t === "string") return t;
  return Object.entries(t).map(([k, v]) => k === "escalate" ? `escalate to ${v}` : `${k} ${show(v)}`).join(", ");
}

function say(text) {
  document.getElementById("status").textContent = text;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (r.status === 401) { location.assign("/ui/login"); throw new Error("signed out"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error((data.error && data.error.message) || `the service answered ${r.status}`);
    e.status = r.status;
    e.code = data.error && data.error.code;
    throw e;
  }
  return data;
}

/** "stripe.refund" -> "Stripe refund". */
function toolInWords(tool) {
  const words = String(tool || "?").replace(/[._-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "in 3 h", "in 12 min", "2 h ago". */
function dueIn(iso) {
  if (!iso) return "no deadline";
  const ms = Date.parse(iso) - Date.now();
  const abs = Math.abs(ms), min = Math.round(abs / 60000);
  const span = min < 1 ? "under a minute" : min < 60 ? `${min} min` : min < 48 * 60 ? `${Math.round(min / 60)} h` : `${Math.round(min / 1440)} days`;
  return ms >= 0 ? `in ${span}` : `${span} overdue`;
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

// ---- the inbox -----------------------------------------------------------------------

async function loadInbox() {
  const data = await api("GET", "/v1/inbox");
  state.inbox = (data.requests || []).slice().sort((a, b) => {
    const da = a.due_at ? Date.parse(a.due_at) : Infinity, db = b.due_at ? Date.parse(b.due_at) : Infinity;
    return da - db;
  });
}

function renderInbox() {
  const main = document.getElementById("main");
  const groups = [...new Set(state.inbox.flatMap(r => r.groups || []))].sort();
  const tools = [...new Set(state.inbox.map(r => r.tool))].sort();
  const pick = (name, label, options) => el("label", {}, label,
    el("select", { id: `filter-${name}`, onchange: e => { state.filters[name] = e.target.value; renderInbox(); } },
      el("option", { value: "" }, "all"),
      options.map(o => el("option", { value: o, selected: state.filters[name] === o }, o))));
  const rows = state.inbox.filter(r =>
    (!state.filters.group || (r.groups || []).includes(state.filters.group)) &&
    (!state.filters.tool || r.tool === state.filters.tool));
  const table = el("table", { class: "inbox" },
    el("caption", { class: "quiet" }, `${rows.length} waiting for you`),
    el("thead", {}, el("tr", {}, ["What", "Key values", "Why", "For whom", "Due", "Waiting for"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(r => {
      const soon = r.due_at && Date.parse(r.due_at) - Date.now() < 3600 * 1000;
      return el("tr", {},
        el("td", {}, el("a", { href: `#/r/${encodeURIComponent(r.request)}` }, toolInWords(r.tool))),
        el("td", {}, Object.entries(r.amounts || {}).map(([k, v]) => el("span", { class: "pill" }, `${k} ${v}`))),
        el("td", {}, reasonsText(r.reasons)),
        el("td", {}, `${r.user || "?"} (${r.tenant || "?"}), by ${r.agent || "?"}`),
        el("td", { class: soon ? "due-soon" : null, title: r.due_at || "" }, dueIn(r.due_at)),
        el("td", {}, (r.groups || []).map(g => el("span", { class: "pill" }, g))));
    })));
  fill(main, 
    el("h1", {}, "Waiting for a decision"),
    el("div", { class: "filters" }, pick("group", "Group", groups), pick("tool", "Tool", tools)),
    rows.length ? table : el("p", { class: "quiet" }, "Nothing waits for you. New requests appear here by themselves."));
}

// ---- one request ---------------------------------------------------------------------

/** The fields of the call: before (if the agent sent it), proposed, and the current edit. */
function fieldsTable(r) {
  const proposed = (r.proposed && r.proposed.args) || {};
  const current = (r.call && r.call.args) || {};
  const before = r.before && typeof r.before === "object" ? r.before : null;
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(proposed), ...Object.keys(current)])];
  const edited = JSON.stringify(proposed) !== JSON.stringify(current);
  const head = ["Field"].concat(before ? ["Now"] : [], ["Proposed"], edited ? ["Edited"] : []);
  return el("table", { class: "changed" },
    el("thead", {}, el("tr", {}, head.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, keys.map(k => {
      const b = before ? show(before[k]) : null, p = show(proposed[k]), c = show(current[k]);
      return el("tr", {},
        el("th", { scope: "row" }, k),
        before ? el("td", { class: b !== p ? "old" : null }, b) : null,
        el("td", { class: before && b !== p ? "new" : edited && p !== c ? "old" : null }, p),
        edited ? el("td", { class: p !== c ? "new" : null }, c) : null);
    })));
}

function folded(title, value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return null;
  return el("details", {}, el("summary", {}, title), el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)));
}

function renderRequest(r) {
  state.current = r;
  const c = r.checkpoint || {};
  const who = c.identity || {};
  const mine = state.me && (state.me === who.user || state.me === who.agent);
  const pending = r.state === "pending";
  const gates = (r.gates || []).map(g => el("li", {},
    `${g.rule}: ${g.approved ? "approved" : "waits for " + (g.groups || []).join(" or ")}`,
    g.due_at ? ` · due ${dueIn(g.due_at)}, then ${timeoutText(g.on_timeout)}` : ""));
  const main = document.getElementById("main");
  fill(main, 
    el("p", {}, el("a", { href: "#/" }, "← Inbox")),
    el("h1", {}, `${toolInWords(r.call && r.call.tool)} · ${r.state}`),
    el("p", { class: "reason" }, reasonsText(r.reasons) || "The policy asks for a person's decision."),
    el("h2", {}, "What changes"),
    fieldsTable(r),
    el("h2", {}, "Why the agent wants it"),
    folded("The agent's reasoning", c.reasoning),
    folded("Its inputs", c.inputs),
    folded("Alternatives it considered", c.alternatives),
    el("p", {}, `Acting for ${who.user || "?"} (tenant ${who.tenant || "?"}), agent ${who.agent || "?"}`,
      who.credentials_ref ? `, credentials ${who.credentials_ref}` : ""),
    el("h2", {}, "Gates"),
    el("ul", {}, gates),
    el("p", { class: "quiet" }, `Digest of what you see: ${r.digest}`),
    pending && !mine ? decideForm(r) : el("p", { class: "notice" },
      mine ? "You asked for this (or your agent did): someone else decides." : `Nothing to decide: it is ${r.state}.`));
}

function decideForm(r) {
  const args = (r.call && r.call.args) || {};
  const reason = el("input", { id: "reason", name: "reason", type: "text", list: "common-reasons" });
  const commonReasons = el("datalist", { id: "common-reasons" },
    ["Amount too high", "Not the customer's request", "Needs a manager", "Duplicate"].map(t => el("option", { value: t })));
  const groups = (state.allGroups || []).filter(g => !(r.groups || []).includes(g));
  const to = el("select", { id: "escalate-to" }, groups.map(g => el("option", { value: g }, g)));
  const inputs = Object.entries(args).map(([k, v]) => {
    const id = `arg-${k}`;
    const kind = typeof v === "number" ? "number" : typeof v === "boolean" ? "checkbox" : "text";
    const input = el("input", { id, name: k, type: kind, step: kind === "number" ? "any" : null, "data-kind": Array.isArray(v) || (v && typeof v === "object") ? "json" : typeof v });
    if (kind === "checkbox") input.checked = v; else input.value = typeof v === "string" ? v : kind === "number" ? String(v) : JSON.stringify(v);
    return [el("label", { for: id }, k), input];
  });
  const readEdit = () => {
    const set = {};
    for (const input of document.querySelectorAll("#edit-form input[data-kind]")) {
      const kind = input.dataset.kind;
      const v = kind === "number" ? Number(input.value) : kind === "boolean" ? input.checked : kind === "json" ? JSON.parse(input.value) : input.value;
      if (JSON.stringify(v) !== JSON.stringify(args[input.name])) set[input.name] = v;
    }
    return set;
  };
  const send = async (body) => {
    try {
      await api("POST", `/v1/requests/${encodeURIComponent(r.request)}/decisions`, { digest: r.digest, ...body });
      say(`Recorded: ${body.decision}.`);
      await openRequest(r.request);
    } catch (e) {
      say(e.message);
      if (e.status === 409) await openRequest(r.request, "The call changed since you opened it: here is the new version. Decide again.");
    }
  };
  return el("section", { "aria-label": "Decide" },
    el("h2", {}, "Decide"),
    el("div", { class: "actions" },
      el("button", { class: "primary", id: "approve", onclick: () => send({ decision: "approve" }) }, "Approve"),
      el("button", { class: "danger", id: "reject", onclick: () => reason.value.trim() ? send({ decision: "reject", reason: reason.value.trim() }) : (say("Say why you reject it."), reason.focus()) }, "Reject"),
      groups.length ? el("button", { id: "escalate", onclick: () => send({ decision: "escalate", to: to.value }) }, "Escalate") : null),
    el("p", {}, el("label", { for: "reason" }, "Reason (required to reject) "), reason, commonReasons),
    groups.length ? el("p", {}, el("label", { for: "escalate-to" }, "Escalate to "), to) : null,
    el("fieldset", { id: "edit-form", oninput: () => previewSoon(r, args, readEdit) },
      el("legend", {}, "Edit, then approve"),
      el("div", { class: "edit-grid" }, inputs.flat()),
      el("div", { id: "edit-preview", "aria-live": "polite" }),
      el("div", { class: "actions" },
        el("button", { id: "edit-approve", onclick: () => {
          let set;
          try { set = readEdit(); } catch (e) { say("A list or object field is not valid JSON."); return; }
          if (!Object.keys(set).length) { say("Nothing was edited: use Approve."); return; }
          send({ decision: "edit", set });
        } }, "Approve with these values"))),
    el("p", { class: "quiet" }, "Keys: ", el("kbd", {}, "a"), " approve · ", el("kbd", {}, "r"), " reject · ", el("kbd", {}, "e"), " edit · ", el("kbd", {}, "Esc"), " inbox"));
}

let previewTimer = null;

/** Shows, a moment after the last keystroke, the edit's diff and the policy's decision. */
function previewSoon(r, args, readEdit) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const box = document.getElementById("edit-preview");
    const button = document.getElementById("edit-approve");
    if (!box) return;
    let set;
    try { set = readEdit(); } catch (e) { fill(box, el("p", { class: "problem" }, "A list or object field is not valid JSON.")); return; }
    if (!Object.keys(set).length) { fill(box, ); button.disabled = false; return; }
    try {
      const p = await api("POST", `/v1/requests/${encodeURIComponent(r.request)}/preview`, { decision: "edit", digest: r.digest, set });
      const d = p.decision || {};
      const denied = d.effect === "deny";
      button.disabled = denied;
      fill(box, 
        el("ul", { class: "diff", "aria-label": "What your edit changes" },
          (p.changes || []).map(c => el("li", { class: c.op === "remove" ? "del" : "add" },
            `${c.path.replace(/^\//, "")}: ${show(args[c.path.replace(/^\//, "")])} → ${c.op === "remove" ? "(removed)" : show(c.value)}`))),
        el("p", { class: denied ? "problem" : "" }, `With your edit the policy says: ${d.effect}`,
          (d.reasons || []).length ? ` (${reasonsText(d.reasons)})` : "",
          denied ? ". It cannot be approved like this." : "."),
        d.effect === "approve" ? el("p", {}, "Then it waits for: ",
          ((d.approval && d.approval.gates) || []).map(g => `${(g.by || []).join(" or ") || "any approver"} (${g.rule})`).join(", ") || "a person") : null);
    } catch (e) { fill(box, el("p", { class: "problem" }, e.message)); }
  }, 250);
}

async function openRequest(id, notice) {
  const r = await api("GET", `/v1/requests/${encodeURIComponent(id)}`);
  renderRequest(r);
  if (notice) {
    document.getElementById("main").prepend(el("p", { class: "notice", role: "alert" }, notice));
  }
}

// ---- routing, live updates, keys -----------------------------------------------------

async function route() {
  const m = location.hash.match(/^#\/r\/(.+)$/);
  try {
    if (m) await openRequest(decodeURIComponent(m[1]));
    else { state.current = null; await loadInbox(); renderInbox(); }
  } catch (e) {
    fill(document.getElementById("main"), el("p", { class: "problem", role: "alert" }, e.message), el("p", {}, el("a", { href: "#/" }, "← Inbox")));
  }
}

function follow() {
  const source = new EventSource("/v1/inbox/events");
  source.addEventListener("changed", async () => {
    if (state.current) return;
    try { await loadInbox(); renderInbox(); } catch (e) { say(e.message); }
  });
}

document.addEventListener("keydown", e => {
  if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
  const click = id => { const b = document.getElementById(id); if (b) { e.preventDefault(); b.click(); } };
  if (e.key === "a") click("approve");
  else if (e.key === "r") { const i = document.getElementById("reason"); if (i) { e.preventDefault(); i.focus(); } }
  else if (e.key === "e") { const i = document.querySelector("#edit-form input"); if (i) { e.preventDefault(); i.focus(); } }
  else if (e.key === "Escape") location.hash = "#/";
});

async function start() {
  const s = await api("GET", "/ui/session");
  state.me = s.approver;
  state.csrf = s.csrf;
  state.allGroups = s.all_groups || [];
  document.getElementById("who").textContent = `${s.approver} · ${(s.groups || []).join(", ") || "no groups"}`;
  document.getElementById("logout-csrf").value = s.csrf;
  window.addEventListener("hashchange", route);
  await route();
  follow();
}

start().catch(e => say(e.message));
