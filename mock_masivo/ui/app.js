// mock-masivo's web page: reads the /_mock inspection API and shows it. Every value from the server
// is written with textContent or as an attribute value, never parsed as HTML.
"use strict";

const API = "./"; // the page is /_mock/ui, so "./events" is /_mock/events
const POLL_MS = 1000;
const MAX_POLL_MS = 10000;
const SLOWDOWN = 10; // wait ten times as long as the last update took: the page costs the server at most ~10%
const SHOWN = 100;
const MINUTES = 60; // the chart's width: the last hour with requests
const $main = document.getElementById("main");
const $account = document.getElementById("account");
const $live = document.getElementById("live");
let shownKey = null; // what is on screen: redrawn only when the data behind it changed
let polling = null;

// -- DOM helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "onclick") node.addEventListener("click", value);
    else if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(headers, rows, onRow) {
  const kind = (h) => (h.num ? "num" : h.nw ? "nw" : null);
  const head = el("tr", {}, headers.map((h) => el("th", { class: kind(h) }, h.label || h)));
  const body = rows.map((row) => {
    const cells = row.cells.map((value, i) => el("td", { class: kind(headers[i]) }, value));
    return el("tr", { class: onRow ? "link" : null, "data-id": row.id, onclick: onRow ? () => onRow(row) : null },
      cells);
  });
  if (!rows.length) body.push(el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "Nothing yet.")));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

const num = (label) => ({ label, num: true });
const nw = (label) => ({ label, nw: true }); // a column that does not wrap: ids, times, statuses
const statusCell = (status) => el("span", { class: `status s${String(status)[0]} ${status}` }, status ?? "dropped");
const link = (href, text) => el("a", { href }, text);
const card = (label, value, tone) => el("div", { class: `card ${tone || ""}` },
  el("div", { class: "value" }, value), el("div", { class: "label" }, label));

// -- data --------------------------------------------------------------------------------------

// `scoped`: narrowed to the chosen account (lists); ids name one record whatever the account.
async function get(path, params, scoped = true) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) query.set(name, value);
  }
  if (scoped && $account.value) query.set("account", $account.value);
  const url = API + path + (query.toString() ? "?" + query : "");
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(data.details || `${answer.status} from ${path}`);
  return data;
}

// The newest SHOWN entries of a list kept oldest first: its total, then its last page.
async function newest(path, params) {
  const { total } = await get(path, { ...params, limit: 0 });
  return get(path, { ...params, limit: SHOWN, offset: Math.max(0, total - SHOWN) });
}

// -- views -------------------------------------------------------------------------------------

const views = {
  async overview() {
    const { data } = await get("report");
    const kinds = ["profile", "transaction", "event"];
    const refused = Object.entries(data.requests.by_status)
      .filter(([status]) => status === "None" || Number(status) >= 400).reduce((sum, [, n]) => sum + n, 0);
    const total = (section) => kinds.reduce((sum, kind) => sum + section[kind], 0);
    return [
      el("h2", {}, "Overview"),
      el("div", { class: "cards", id: "cards" },
        card("requests", data.requests.total),
        card("refused requests", refused, refused ? "bad" : ""),
        card("batches accepted", data.accepted.batches),
        card("records processed", total(data.processed), "ok"),
        card("records queued", total(data.queued)),
        card("records failed", total(data.failed), total(data.failed) ? "bad" : ""),
        card("duplicate events", data.duplicates.event)),
      el("h3", {}, "Requests per minute"),
      el("div", { class: "panel" }, chart(data.timeline),
        el("div", { class: "legend" }, el("span", {}, el("i", { class: "sw accepted" }), "accepted"),
          el("span", {}, el("i", { class: "sw refused" }), "refused"))),
      el("h3", {}, "Records by kind"),
      table(["kind", num("accepted"), num("processed"), num("queued"), num("failed")],
        kinds.map((kind) => ({ cells: [kind, data.accepted[kind], data.processed[kind], data.queued[kind],
          data.failed[kind]] }))),
      el("h3", {}, "Why requests were refused"),
      table([num("count"), num("requests"), nw("endpoint"), nw("rule"), "path", "message", "examples"],
        data.violations.map((v) => ({ cells: [v.count, v.requests, v.endpoint, v.rule, el("code", {}, v.path),
          v.message, v.examples.flatMap((id) => [link(`#requests/${id}`, id), " "])] })), null),
      el("h3", {}, "Why records failed in processing"),
      table(["kind", "reason", num("count"), "examples"],
        data.failures.map((f) => ({ cells: [f.kind, f.reason, f.count, f.examples.join(" ")] }))),
      el("p", { class: "muted" }, `Customers: ${data.customers.with_profile} with a profile, `
        + `${data.customers.with_transactions} with transactions, `
        + `${data.customers.events_without_profile} with events but no profile.`),
    ];
  },

  async requests(id) {
    if (id) return requestDetail(id);
    const status = currentFilter("status");
    const { data, total } = await newest("requests", { status });
    const report = (await get("report")).data;
    const filter = el("select", { id: "status-filter" }, el("option", { value: "" }, "every status"),
      Object.keys(report.requests.by_status).filter((s) => s !== "None")
        .map((s) => el("option", { value: s }, s)));
    filter.value = status;
    filter.addEventListener("change", () => setFilter("status", filter.value));
    const rows = data.slice().reverse().map((call) => ({
      id: call.id,
      cells: [call.id, call.at, `${call.method} ${call.path}`, statusCell(call.status), call.account ?? "",
        call.errors.length ? `${call.errors.length} × ${call.errors[0].path || "(body)"}: ${call.errors[0].message}`
          : (call.batch_id || "")],
    }));
    return [
      el("h2", {}, "Requests"),
      el("div", { class: "toolbar" }, el("label", {}, "Status ", filter),
        el("span", { class: "muted" }, `newest first; ${Math.min(total, SHOWN)} of ${total} kept`)),
      table([nw("id"), nw("at"), nw("call"), nw("status"), nw("account"), "errors, or batch"], rows,
        (row) => { location.hash = `#requests/${row.id}`; }),
    ];
  },

  async customers(id) {
    if (id) return customerDetail(id);
    const search = currentFilter("q");
    let rows;
    if (search.includes("@")) {
      const { data } = await get("profiles", { email: search, limit: SHOWN });
      rows = data.map((p) => ({ id: p.customer_id, cells: [p.customer_id, p.customer.email ?? "", statusCell(p.status)] }));
    } else {
      const { data } = await get("customers", { limit: SHOWN });
      rows = data.map((c) => ({ id: c.id, cells: [c.id, c.profile ? "yes" : "no", c.transactions, c.events] }));
    }
    const box = el("input", { id: "customer-search", placeholder: "customer id or email", value: search, size: 30 });
    const find = () => {
      const wanted = box.value.trim();
      if (wanted && !wanted.includes("@")) location.hash = `#customers/${encodeURIComponent(wanted)}`; // an id
      else setFilter("q", wanted);
    };
    box.addEventListener("keydown", (e) => { if (e.key === "Enter") find(); });
    const headers = search.includes("@") ? ["customer", "email", "profile"]
      : ["customer", "processed profile", num("transactions"), num("events")];
    return [
      el("h2", {}, "Customers"),
      el("div", { class: "toolbar" }, box, el("button", { onclick: find }, "Search"),
        el("span", { class: "muted" }, search ? "" : `the first ${SHOWN} customers; search for any other`)),
      table(headers, rows, (row) => { location.hash = `#customers/${encodeURIComponent(row.id)}`; }),
    ];
  },

  async batches(id) {
    if (id) return batchDetail(id);
    const kind = currentFilter("kind");
    const { data, total } = await newest("batches", { kind });
    const filter = el("select", { id: "kind-filter" }, ["", "profile", "transaction", "event"]
      .map((k) => el("option", { value: k }, k || "every kind")));
    filter.value = kind;
    filter.addEventListener("change", () => setFilter("kind", filter.value));
    const rows = data.slice().reverse().map((b) => ({
      id: b.id, kind: b.kind, cells: [b.id, b.kind, b.account, b.received_at, b.customers, b.records] }));
    return [
      el("h2", {}, "Batches"),
      el("div", { class: "toolbar" }, el("label", {}, "Kind ", filter),
        el("span", { class: "muted" }, `newest first; ${rows.length} of ${total}`)),
      table(["id", "kind", "account", "received", num("customers"), num("records")], rows,
        (row) => { location.hash = `#batches/${row.id}`; }),
    ];
  },
};

async function requestDetail(id) {
  const { data } = await get(`requests/${encodeURIComponent(id)}`, {}, false);
  const parts = [
    el("h2", {}, link("#requests", "Requests"), ` › ${data.id}`),
    el("div", { class: "panel" }, el("dl", { class: "facts" },
      el("dt", {}, "call"), el("dd", {}, `${data.method} ${data.path}`),
      el("dt", {}, "status"), el("dd", {}, statusCell(data.status)),
      el("dt", {}, "at"), el("dd", {}, data.at),
      el("dt", {}, "account"), el("dd", {}, data.account ?? "(not authenticated)"),
      el("dt", {}, "batch"), el("dd", {}, data.batch_id ?? "none"),
      el("dt", {}, "fault"), el("dd", {}, data.fault ?? "none"),
      el("dt", {}, "duration"), el("dd", {}, `${data.duration_ms} ms`))),
  ];
  if (data.errors.length) {
    const of = data.errors_total ? `${data.errors.length} of ${data.errors_total}, the first kept` : data.errors.length;
    parts.push(el("h3", {}, `Violations (${of})`),
      table(["path", "rule", "message"], data.errors.map((e) => ({ cells: [el("code", {}, e.path || "(body)"),
        e.rule, e.message] }))));
  }
  if (data.warnings.length) {
    parts.push(el("h3", {}, `Warnings (${data.warnings.length})`),
      table(["path", "rule", "message"], data.warnings.map((w) => ({ cells: [el("code", {}, w.path), w.rule,
        w.message] }))));
  }
  if (data.body !== null) {
    parts.push(el("h3", {}, "Body", data.body_truncated ? " (its first 64 KiB)" : ""), markedBody(data.body,
      data.errors));
  } else if (data.errors.length) {
    parts.push(el("p", { class: "muted" }, "The body is not kept: it was never read (refused before), or the "
      + "request log dropped it to stay within --refused-bodies-bytes."));
  }
  parts.push(el("h3", {}, "Headers"), table(["name", "value"], data.headers.map(([n, v]) => ({ cells: [n, v] }))));
  return parts;
}

async function customerDetail(id) {
  const { data } = await get(`customers/${encodeURIComponent(id)}`);
  const profile = data.profile;
  const facts = profile ? Object.entries(profile.customer).filter(([k]) => k !== "balance")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "object" ? JSON.stringify(v) : v)]) : [];
  return [
    el("h2", {}, link("#customers", "Customers"), " › ", id),
    el("div", { class: "grid2" },
      el("div", {}, el("h3", {}, "Profile"), profile
        ? el("div", { class: "panel" }, el("p", {}, statusCell(profile.status), ` ${profile.id} in ${profile.batch_id}`,
          profile.failure ? ` — ${profile.failure.reason}: ${profile.failure.details}` : ""),
          el("dl", { class: "facts" }, facts))
        : el("p", { class: "muted" }, "No profile received.")),
      el("div", {}, el("h3", {}, "Wallet"), data.wallet
        ? table(["reward", "expires", num("total")], data.wallet.totals.map((t) => ({ cells: [t.reward_id,
          t.expiration_date ?? "never", t.total] })))
        : el("p", { class: "muted" }, "No processed profile, so no wallet."))),
    el("h3", {}, `Transactions (${data.transactions.length})`),
    recordsTable("transaction", data.transactions),
    el("h3", {}, `Events (${data.events_total}${data.events_total > data.events.length
      ? `, the first ${data.events.length} shown` : ""})`),
    recordsTable("event", data.events),
  ];
}

async function batchDetail(id) {
  // A batch holds records of one kind: ask each kind's list for it (by batch_id, an index lookup).
  const lists = { profile: "profiles", transaction: "transactions", event: "events" };
  const found = await Promise.all(Object.entries(lists).map(async ([kind, path]) =>
    [kind, await get(path, { batch_id: id, limit: 1000 }, false)]));
  const [kind, { data, total }] = found.find(([, listing]) => listing.total > 0) || ["", { data: [], total: 0 }];
  if (!total) throw new Error(`no batch ${id} holds any record`);
  return [
    el("h2", {}, link("#batches", "Batches"), ` › ${id}`),
    el("p", { class: "muted" }, `${kind} batch of account ${data[0].account}, received ${data[0].received_at}: `
      + `${total} records${total > data.length ? `, the first ${data.length} shown` : ""}`),
    recordsTable(kind, data),
  ];
}

function recordsTable(kind, records) {
  const customer = (r) => link(`#customers/${encodeURIComponent(r.customer_id)}`, r.customer_id);
  const failure = (r) => (r.failure ? `${r.failure.reason}: ${r.failure.details}` : "");
  if (kind === "event") {
    return table(["id", "customer", "type", "purchase", num("value"), "issued", "status", "notes"],
      records.map((r) => ({ cells: [r.id, customer(r), r.event.type, r.event.order?.purchase_id ?? "",
        r.event.order?.value ?? "", r.event.issued_at, statusCell(r.status),
        r.duplicate_of ? `duplicate of ${r.duplicate_of}` : failure(r)] })));
  }
  if (kind === "transaction") {
    return table(["id", "customer", "type", num("amount"), "reward", "issued", "status", "failure"],
      records.map((r) => ({ cells: [r.id, customer(r), r.transaction.type, r.transaction.amount,
        r.transaction.reward_id, r.transaction.issued_at, statusCell(r.status), failure(r)] })));
  }
  return table(["id", "customer", "name", "email", "status", "failure"],
    records.map((r) => ({ cells: [r.id, customer(r), r.customer.name ?? "", r.customer.email ?? "",
      statusCell(r.status), failure(r)] })));
}

// -- a refused body, each violation marked where it sits ----------------------------------------

function markedBody(text, errors) {
  let value;
  try { value = JSON.parse(text); } catch { value = undefined; }
  const box = el("div", { class: "body", id: "body" });
  if (value === undefined) {
    box.append(el("div", { class: "line" }, text));
    for (const e of errors) box.append(el("div", { class: "note" }, `${e.path || "(body)"}: ${e.message}`));
    return box;
  }
  const lines = [];
  jsonLines(value, "", 0, "", false, lines);
  const byPointer = new Map(lines.map((line, i) => [line.pointer, i]));
  const notes = new Map();
  for (const e of errors) {
    let pointer = e.path;
    while (!byPointer.has(pointer) && pointer) pointer = pointer.slice(0, pointer.lastIndexOf("/"));
    const at = byPointer.get(pointer) ?? 0;
    if (!notes.has(at)) notes.set(at, []);
    notes.get(at).push(`${e.path || "(body)"}: ${e.message}`);
  }
  lines.forEach((line, i) => {
    box.append(el("div", { class: notes.has(i) ? "line bad" : "line", "data-pointer": line.pointer }, line.text));
    for (const note of notes.get(i) || []) box.append(el("div", { class: "note" }, note));
  });
  return box;
}

// One line per member or item; a pointer per line, for marking a violation at its JSON Pointer.
function jsonLines(value, pointer, depth, key, comma, lines) {
  const pad = "  ".repeat(depth);
  const tail = comma ? "," : "";
  const open = (bracket) => lines.push({ pointer, text: `${pad}${key}${bracket}` });
  if (Array.isArray(value) && value.length) {
    open("[");
    value.forEach((item, i) => jsonLines(item, `${pointer}/${i}`, depth + 1, "", i < value.length - 1, lines));
    lines.push({ pointer: `${pointer}#end`, text: `${pad}]${tail}` });
  } else if (value && typeof value === "object" && Object.keys(value).length) {
    open("{");
    const entries = Object.entries(value);
    entries.forEach(([name, item], i) => jsonLines(item, `${pointer}/${name.replaceAll("~", "~0")
      .replaceAll("/", "~1")}`, depth + 1, `${JSON.stringify(name)}: `, i < entries.length - 1, lines));
    lines.push({ pointer: `${pointer}#end`, text: `${pad}}${tail}` });
  } else {
    lines.push({ pointer, text: `${pad}${key}${JSON.stringify(value)}${tail}` });
  }
}

// -- the chart: accepted and refused requests per minute, as SVG --------------------------------

function chart(timeline) {
  const svgNS = "http://www.w3.org/2000/svg";
  const make = (tag, attrs, text) => {
    const node = document.createElementNS(svgNS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const width = 1000, height = 180, left = 40, bottom = 20;
  const svg = make("svg", { class: "chart", id: "chart", viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none", role: "img", "aria-label": "requests per minute" });
  const minutes = fillMinutes(timeline.slice(-MINUTES));
  const top = Math.max(1, ...minutes.map((m) => m.accepted + m.refused));
  const slot = (width - left) / MINUTES;
  const scale = (n) => (n / top) * (height - bottom - 10);
  svg.append(make("line", { class: "axis", x1: left, x2: width, y1: height - bottom, y2: height - bottom }));
  svg.append(make("text", { x: 0, y: 12 }, String(top)), make("text", { x: 0, y: height - bottom }, "0"));
  minutes.forEach((m, i) => {
    const x = left + i * slot + slot * 0.1, w = Math.max(slot * 0.8, 1);
    const a = scale(m.accepted), r = scale(m.refused);
    const base = height - bottom;
    const title = `${m.minute}: ${m.accepted} accepted, ${m.refused} refused`;
    svg.append(make("rect", { class: "accepted", x, y: base - a, width: w, height: a }, undefined));
    svg.append(make("rect", { class: "refused", x, y: base - a - r, width: w, height: r }));
    svg.lastChild.append(make("title", {}, title));
  });
  if (minutes.length) {
    svg.append(make("text", { x: left, y: height - 4 }, minutes[0].minute.slice(11, 16)));
    const lastX = left + (minutes.length - 1) * slot;
    svg.append(make("text", { x: Math.min(lastX, width - 40), y: height - 4 },
      minutes[minutes.length - 1].minute.slice(11, 16)));
  } else {
    svg.append(make("text", { x: left + 10, y: height / 2 }, "No requests yet."));
  }
  return svg;
}

function fillMinutes(timeline) {
  // minutes with no request are not reported; show them as gaps
  if (!timeline.length) return [];
  const byTime = new Map(timeline.map((m) => [Date.parse(m.minute), m]));
  const first = Date.parse(timeline[0].minute), last = Date.parse(timeline[timeline.length - 1].minute);
  const minutes = [];
  for (let t = Math.max(first, last - (MINUTES - 1) * 60000); t <= last; t += 60000) {
    minutes.push(byTime.get(t) || { minute: new Date(t).toISOString().replace(".000", ""), accepted: 0, refused: 0 });
  }
  return minutes;
}

// -- navigation, the account selector and live updates ------------------------------------------

function route() {
  const [view, ...rest] = (location.hash.slice(1).split("?")[0] || "overview").split("/");
  return { view: views[view] ? view : "overview", id: rest.length ? decodeURIComponent(rest.join("/")) : null };
}

function currentFilter(name) {
  return new URLSearchParams(location.hash.split("?")[1] || "").get(name) || "";
}

function setFilter(name, value) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  if (value) params.set(name, value); else params.delete(name);
  const base = location.hash.split("?")[0] || "#overview";
  location.hash = params.toString() ? `${base}?${params}` : base;
}

async function show(force) {
  const { view, id } = route();
  for (const name of Object.keys(views)) {
    document.getElementById(`nav-${name}`).classList.toggle("active", name === view);
  }
  try {
    const parts = await views[view](id);
    const key = JSON.stringify([location.hash, $account.value, parts.map((p) => p.outerHTML)]);
    $live.classList.remove("stale");
    if (!force && key === shownKey) return;
    shownKey = key;
    const scroll = window.scrollY;
    $main.replaceChildren(...parts);
    if (!force) window.scrollTo(0, scroll);
  } catch (error) {
    $live.classList.add("stale");
    $main.replaceChildren(el("h2", {}, "Cannot show this"), el("p", { class: "error" }, error.message));
    shownKey = null;
  }
}

async function loadAccounts() {
  const { data } = await get("accounts", { limit: 1000 }, false);
  const chosen = $account.value;
  const known = new Set([...$account.options].map((o) => o.value));
  for (const account of data) {
    if (!known.has(account.id)) $account.append(el("option", { value: account.id }, account.id));
  }
  $account.value = chosen;
}

// Every second while the page is visible; slower when the server takes long to answer (a report of
// millions of records costs the server a scan each time), so an open page never weighs on a dry run.
function poll(delay = POLL_MS) {
  clearTimeout(polling);
  polling = setTimeout(async () => {
    const typing = document.activeElement && document.activeElement.id === "customer-search";
    if (document.hidden || typing) return poll();
    const began = performance.now();
    await Promise.all([show(false), loadAccounts().catch(() => {})]);
    poll(Math.min(MAX_POLL_MS, Math.max(POLL_MS, SLOWDOWN * (performance.now() - began))));
  }, delay);
}

window.addEventListener("hashchange", () => { window.scrollTo(0, 0); show(true); });
$account.addEventListener("change", () => show(true));
loadAccounts().catch(() => {}).then(() => show(true)).then(poll);
