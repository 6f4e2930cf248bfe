// wiretrace report. Every piece of document text goes into the page through textContent, never innerHTML.
"use strict";
(function () {
  const O = window.WT_OVERVIEW;
  const COLS = O.columns;
  const col = (name) => COLS.indexOf(name);
  const PAGE = 50;
  let rows = O.clusters;
  let sortKey = col("size"), sortDesc = true, page = 0;

  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  const fmtTime = (ms) => (ms === null || ms === undefined ? "" : new Date(ms).toISOString().slice(0, 16).replace("T", " "));
  const pct = (x) => (x === null || x === undefined ? "" : Math.round(x * 100) + "%");

  function summary() {
    const s = O.summary;
    document.getElementById("run").textContent = "run " + s.run_id;
    const box = document.getElementById("summary");
    const card = (label, value) => { const c = el("div", { class: "card" }); c.append(el("b", {}, value), el("span", {}, label)); box.append(c); };
    card("documents", s.documents);
    const reasons = Object.entries(s.rejects).map(([k, n]) => k + " " + n).join(", ");
    card("rejects" + (reasons ? " (" + reasons + ")" : ""), Object.values(s.rejects).reduce((a, b) => a + b, 0));
    for (const [rel, n] of Object.entries(s.pairs)) card("pairs: " + rel, n);
    card("clusters", s.clusters);
  }

  function charts() {
    const c = O.charts, layout = (title) => ({ title: { text: title, font: { size: 14 } }, margin: { t: 40, l: 60, r: 20, b: 80 } });
    const cfg = { displayModeBar: false, responsive: true };
    Plotly.newPlot("chart-sizes", [{ type: "bar", x: c.sizes.size, y: c.sizes.count }], layout("Cluster sizes"), cfg);
    Plotly.newPlot("chart-delays", [{ type: "histogram", x: c.delays_hours, nbinsx: 40 }], layout("Delay from origin to copy (hours)"), cfg);
    const xs = [...new Set(c.matrix.map((r) => r[1]))], ys = [...new Set(c.matrix.map((r) => r[0]))];
    const z = ys.map((y) => xs.map((x) => { const hit = c.matrix.find((r) => r[0] === y && r[1] === x); return hit ? hit[2] : 0; }));
    Plotly.newPlot("chart-matrix", [{ type: "heatmap", x: xs, y: ys, z: z, colorscale: "Blues" }], layout("Who re-uses whom (origin source → copier)"), cfg);
    Plotly.newPlot("chart-share", [{ type: "bar", x: c.copy_share.source, y: c.copy_share.share }], layout("Share of each outlet's documents that are copies"), cfg);
    Plotly.newPlot("chart-uncredited", [{ type: "bar", x: c.uncredited.source, y: c.uncredited.count }], layout("Copies that carry no credit"), cfg);
  }

  const HEAD = [["cluster_id", "cluster"], ["size", "size"], ["title", "origin title"], ["origin_source", "origin source"],
    ["credited_agency", "credited"], ["external_origin", "external origin"], ["confidence", "confidence"],
    ["first_ms", "first"], ["last_ms", "last"], ["sources", "sources"], ["containment", "max containment"]];

  function header() {
    const tr = document.querySelector("#clusters thead tr");
    for (const [key, label] of HEAD) {
      const th = el("th", { "data-key": key }, label);
      th.addEventListener("click", () => { const i = col(key); sortDesc = sortKey === i ? !sortDesc : true; sortKey = i; page = 0; render(); });
      tr.append(th);
    }
  }

  function filtered() {
    const q = document.getElementById("filter").value.trim().toLowerCase();
    const min = Number(document.getElementById("min-size").value || 2);
    const out = rows.filter((r) => r[col("size")] >= min && (!q || r.some((v) => v !== null && String(v).toLowerCase().includes(q))));
    out.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * (sortDesc ? -1 : 1);
    });
    return out;
  }

  function render() {
    const list = filtered(), body = document.querySelector("#clusters tbody");
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(page, pages - 1);
    body.replaceChildren();
    for (const r of list.slice(page * PAGE, page * PAGE + PAGE)) {
      const tr = el("tr", { class: "row", "data-cluster": r[0] });
      for (const [key] of HEAD) {
        let v = r[col(key)];
        if (key === "first_ms" || key === "last_ms") v = fmtTime(v);
        if (key === "confidence" || key === "containment") v = pct(v);
        tr.append(el("td", {}, v));
      }
      tr.addEventListener("click", () => openCluster(r[0]));
      body.append(tr);
    }
    document.getElementById("page").textContent = "page " + (page + 1) + " of " + pages;
    document.getElementById("count").textContent = list.length + " clusters";
  }

  function loadChunk(clusterId, then) {
    if (window.WT_DETAILS && window.WT_DETAILS[clusterId]) return then();
    const index = rows.findIndex((r) => r[0] === clusterId);
    const chunk = Math.floor(O.clusters.indexOf(rows[index]) / O.chunk);
    const script = el("script", { src: "data/clusters-" + String(chunk).padStart(5, "0") + ".js" });
    script.addEventListener("load", then);
    document.body.append(script);
  }

  function openCluster(clusterId) {
    loadChunk(clusterId, () => showCluster(clusterId, window.WT_DETAILS[clusterId]));
  }

  function pairOf(d, a, b) {
    for (const p of d.pairs) {
      if (p.doc_id_a === a && p.doc_id_b === b) return { pair: p, flip: false };
      if (p.doc_id_a === b && p.doc_id_b === a) return { pair: p, flip: true };
    }
    return null;
  }

  function showCluster(clusterId, d) {
    document.getElementById("overview").hidden = true;
    const view = document.getElementById("cluster");
    view.hidden = false;
    const v = d.verdict || {};
    const origin = v.origin_doc_id || d.members[0].doc_id;
    document.getElementById("cluster-title").textContent = "Cluster " + clusterId + " — " + d.members.length + " documents";
    const box = document.getElementById("verdict");
    box.replaceChildren();
    box.className = "verdict";
    box.append(el("div", {}, "origin: " + (v.origin_doc_id || "undecided") + (v.external_origin ? " · external origin: " + v.external_origin : "") +
      (v.credited_agency ? " · credited: " + v.credited_agency : "") + " · confidence " + pct(v.confidence)));
    const ul = el("ul");
    for (const e of v.evidence || []) ul.append(el("li", {}, e));
    box.append(ul);
    const body = document.querySelector("#members tbody");
    body.replaceChildren();
    for (const m of d.members) {
      const tr = el("tr", { class: "row", "data-doc": m.doc_id });
      const link = pairOf(d, origin, m.doc_id);
      const rel = m.doc_id === origin ? "origin" : link ? link.pair.relation : "(via other members)";
      const contain = link ? (link.flip ? link.pair.containment_a : link.pair.containment_b) : null;
      for (const value of [fmtTime(m.published_ms), m.source, m.title || m.doc_id, rel, pct(contain)]) tr.append(el("td", {}, value));
      const td = el("td");
      const button = el("button", { class: "compare" }, "compare");
      button.addEventListener("click", () => compare(d, origin, m.doc_id));
      td.append(button);
      tr.append(td);
      body.append(tr);
    }
    const other = d.members.find((m) => m.doc_id !== origin && pairOf(d, origin, m.doc_id)) ||
      d.members.find((m) => m.doc_id !== origin);
    compare(d, origin, other ? other.doc_id : origin);
  }

  // Marks: 1 = shared passage, 2 = credit line, 4 = removed from the body (bit flags per character range).
  function paint(target, member, spans) {
    target.replaceChildren();
    target.append(el("h3", {}, member.source + " · " + (member.title || member.doc_id) + " · " + fmtTime(member.published_ms)));
    const text = member.text || "";
    const cuts = new Set([0, text.length]);
    const ranges = [];
    for (const [s, e] of spans) ranges.push([s, e, 1]);
    for (const [s, e] of member.credits) ranges.push([s, e, 2]);
    for (const [s, e] of member.removed) ranges.push([s, e, 4]);
    for (const [s, e] of ranges) { cuts.add(Math.max(0, Math.min(s, text.length))); cuts.add(Math.max(0, Math.min(e, text.length))); }
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const s = points[i], e = points[i + 1];
      let flags = 0;
      for (const [rs, re, f] of ranges) if (rs <= s && e <= re) flags |= f;
      let node = document.createTextNode(text.slice(s, e));
      if (flags & 2) { const span = el("span", { class: "credit" }); span.append(node); node = span; }
      if (flags & 1) { const mark = el("mark", { "data-start": s, "data-end": e }); mark.append(node); node = mark; }
      if (flags & 4) { const span = el("span", { class: "removed" }); span.append(node); node = span; }
      target.append(node);
    }
  }

  function compare(d, left, right) {
    const byId = Object.fromEntries(d.members.map((m) => [m.doc_id, m]));
    const link = pairOf(d, left, right);
    const spans = link ? link.pair.spans : [];
    const leftSpans = spans.map((s) => (link.flip ? [s[2], s[3]] : [s[0], s[1]]));
    const rightSpans = spans.map((s) => (link.flip ? [s[0], s[1]] : [s[2], s[3]]));
    paint(document.getElementById("left"), byId[left], leftSpans);
    paint(document.getElementById("right"), byId[right], rightSpans);
    document.getElementById("right").setAttribute("data-doc", right);
    document.getElementById("left").setAttribute("data-doc", left);
  }

  document.getElementById("back").addEventListener("click", () => {
    document.getElementById("cluster").hidden = true;
    document.getElementById("overview").hidden = false;
  });
  document.getElementById("filter").addEventListener("input", () => { page = 0; render(); });
  document.getElementById("min-size").addEventListener("input", () => { page = 0; render(); });
  document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); render(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; render(); });
  summary();
  header();
  render();
  charts();
  window.WT_READY = true;
})();
