/* evaldsl report: the sample browser. Reads the JSON in #evaldsl-data and renders one page of rows at a time.
   Every piece of data goes into the page through textContent, never as HTML. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("evaldsl-data").textContent);
  var root = document.getElementById("browser");
  var items = data.items, cols = data.cols;
  var state = { q: "", ev: -1, col: -1, metric: "", min: null, max: null, errors: false, page: 0, size: 25 };
  var filtered = items;
  var open = {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "cls") { node.className = attrs[k]; }
        else { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) { return "—"; }
    var a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e6) { return String(v); }
    return a >= 100 ? v.toFixed(1) : (a >= 10 ? v.toFixed(2) : v.toFixed(3));
  }

  function promptText(p) {
    if (!Array.isArray(p)) { return String(p || ""); }
    return p.map(function (m) { return (m && m.content) || ""; }).join("\n\n");
  }

  function text(v) {
    if (v === null || v === undefined) { return ""; }
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  // ---------------------------------------------------------------- filtering

  function visibleCols() {
    if (state.col >= 0) { return [state.col]; }
    return cols.map(function (_c, i) { return i; });
  }

  function haystack(item) {
    if (item._h === undefined) {
      var parts = [promptText(item.p), text(item.r), text(item["in"])];
      item.o.forEach(function (o) {
        parts.push(text(o.o), text(o.err));
        (o.j || []).forEach(function (j) { j.calls.forEach(function (c) { parts.push(text(c.why)); }); });
      });
      item._h = parts.join("\n").toLowerCase();
    }
    return item._h;
  }

  function matches(item, shown) {
    if (state.ev >= 0 && item.e !== state.ev) { return false; }
    var outs = item.o.filter(function (o) { return shown[o.c]; });
    if (!outs.length) { return false; }
    if (state.errors && !outs.some(function (o) { return o.err; })) { return false; }
    if (state.metric) {
      var ok = outs.some(function (o) {
        var v = o.s[state.metric];
        if (typeof v !== "number") { return false; }
        if (state.min !== null && v < state.min) { return false; }
        if (state.max !== null && v > state.max) { return false; }
        return true;
      });
      if (!ok) { return false; }
    }
    if (state.q && haystack(item).indexOf(state.q) < 0) { return false; }
    return true;
  }

  function apply() {
    var shown = {};
    visibleCols().forEach(function (c) { shown[c] = true; });
    filtered = items.filter(function (it) { return matches(it, shown); });
    var pages = Math.max(1, Math.ceil(filtered.length / state.size));
    if (state.page >= pages) { state.page = pages - 1; }
    render();
  }

  // ---------------------------------------------------------------- controls

  function select(id, label, options, onChange) {
    var s = el("select", { id: id });
    options.forEach(function (o) { s.appendChild(el("option", { value: String(o[0]), text: o[1] })); });
    s.addEventListener("change", function () { onChange(s.value); });
    return el("label", null, [el("span", { text: label }), s]);
  }

  function numberBox(id, label, key) {
    var input = el("input", { id: id, type: "number", step: "any" });
    input.addEventListener("input", function () {
      var v = input.value === "" ? null : Number(input.value);
      state[key] = (v === null || isNaN(v)) ? null : v;
      state.page = 0;
      apply();
    });
    return el("label", null, [el("span", { text: label }), input]);
  }

  var timer = null;
  var search = el("input", { id: "f-search", type: "search", placeholder: "search prompts, outputs, references…" });
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.q = search.value.trim().toLowerCase(); state.page = 0; apply(); }, 120);
  });
  var errorsBox = el("input", { id: "f-errors", type: "checkbox" });
  errorsBox.addEventListener("change", function () { state.errors = errorsBox.checked; state.page = 0; apply(); });

  var controls = el("div", { cls: "controls", id: "controls" }, [
    el("label", null, [el("span", { text: "Search" }), search]),
    select("f-eval", "Eval", [[-1, "all evals"]].concat(data.evals.map(function (e, i) { return [i, e]; })),
      function (v) { state.ev = Number(v); state.page = 0; apply(); }),
    select("f-col", "Model", [[-1, "all models"]].concat(cols.map(function (c, i) { return [i, c.label]; })),
      function (v) { state.col = Number(v); state.page = 0; apply(); }),
    select("f-metric", "Metric", [["", "any metric"]].concat(data.metrics.map(function (m) { return [m, m]; })),
      function (v) { state.metric = v; state.page = 0; apply(); }),
    numberBox("f-min", "min", "min"),
    numberBox("f-max", "max", "max"),
    el("label", null, [errorsBox, el("span", { text: "errors only" })]),
    select("f-size", "Rows per page", [[25, "25"], [50, "50"], [100, "100"]],
      function (v) { state.size = Number(v); state.page = 0; apply(); })
  ]);

  var count = el("span", { id: "sample-count" });
  function pageButton(id, label, target) {
    var b = el("button", { id: id, type: "button", text: label });
    b.addEventListener("click", function () {
      var pages = Math.max(1, Math.ceil(filtered.length / state.size));
      state.page = Math.min(pages - 1, Math.max(0, target()));
      render();
    });
    return b;
  }
  var pager = el("div", { cls: "pager" }, [
    pageButton("p-first", "«", function () { return 0; }),
    pageButton("p-prev", "‹ prev", function () { return state.page - 1; }),
    pageButton("p-next", "next ›", function () { return state.page + 1; }),
    pageButton("p-last", "»", function () { return Infinity; }),
    count
  ]);
  var table = el("table", { cls: "samples", id: "samples-table" });
  root.appendChild(controls);
  root.appendChild(pager);
  root.appendChild(table);

  // ---------------------------------------------------------------- rendering

  function chips(o) {
    var box = el("div", { cls: "chips" });
    Object.keys(o.s).forEach(function (m) {
      var v = o.s[m];
      box.appendChild(el("span", { cls: "chip" + (v === 0 ? " zero" : v === 1 ? " one" : ""), text: m + " " + fmt(v) }));
    });
    if (o.err) { box.appendChild(el("span", { cls: "chip err", text: "error" })); }
    if (o.tr) { box.appendChild(el("span", { cls: "chip", text: "truncated" })); }
    return box;
  }

  function outputText(item, o) {
    if (o.o !== undefined) { return o.o; }
    if (item.ch && Array.isArray(o.ll) && o.ll.length) {
      var best = 0;
      o.ll.forEach(function (v, i) { if (v > o.ll[best]) { best = i; } });
      return "→ " + item.ch[best];
    }
    if (typeof o.ll === "number") { return "log-likelihood " + fmt(o.ll) + " over " + fmt(o.nt) + " tokens"; }
    return "";
  }

  function snippet(s, n) { return s.length > n ? s.slice(0, n) + "…" : s; }

  function messagesBlock(p) {
    var box = el("div");
    (Array.isArray(p) ? p : []).forEach(function (m) {
      box.appendChild(el("div", { cls: "msg-role", text: (m && m.role) || "" }));
      box.appendChild(el("pre", { text: (m && m.content) || "" }));
    });
    if (!box.childNodes.length) { box.appendChild(el("div", { cls: "muted", text: "(no prompt)" })); }
    return box;
  }

  function judgeBlock(j) {
    var v = j.v || {};
    var verdict = v.winner ? "winner " + v.winner : (v.label ? v.label + " " : "") + "score " + fmt(v.score);
    var box = el("div", { cls: "judge" }, [
      el("div", null, [el("b", { text: "judge " + j.n + ": " }), el("span", { text: verdict })])
    ]);
    if (v.error) { box.appendChild(el("div", { cls: "bad", text: v.error })); }
    j.calls.forEach(function (c, i) {
      var head = j.calls.length > 1 ? "call " + (i + 1) + (c.sw ? " (swapped)" : "") : "reasoning";
      box.appendChild(el("div", { cls: "muted", text: head }));
      box.appendChild(el("pre", { text: text(c.why) || "(no reasoning)" }));
      if (c.err) { box.appendChild(el("div", { cls: "bad", text: c.err })); }
    });
    return box;
  }

  function detail(item, shownCols, span) {
    var outs = el("div", { cls: "outs" });
    item.o.forEach(function (o) {
      if (shownCols.indexOf(o.c) < 0) { return; }
      var box = el("div", { cls: "out" }, [el("div", { cls: "head", text: cols[o.c].label }),
        el("pre", { text: outputText(item, o) || "(no output)" }), chips(o)]);
      if (o.err) { box.appendChild(el("div", { cls: "bad", text: text(o.err) })); }
      if (item.ch && Array.isArray(o.ll)) {
        box.appendChild(el("pre", { text: item.ch.map(function (c, i) {
          return fmt(o.ll[i]) + (item.lb && item.lb[i] ? "  ✓ " : "    ") + c;
        }).join("\n") }));
      }
      var flags = [];
      if (o.ca) { flags.push("cached"); }
      if (o.fr) { flags.push("finish: " + o.fr); }
      if (typeof o.ct === "number") { flags.push(o.ct + " completion tokens"); }
      if (typeof o.lat === "number") { flags.push(fmt(o.lat) + " s"); }
      if (flags.length) { box.appendChild(el("div", { cls: "muted", text: flags.join(" · ") })); }
      (o.j || []).forEach(function (j) { box.appendChild(judgeBlock(j)); });
      outs.appendChild(box);
    });
    var refs = el("ul");
    (item.r || []).forEach(function (r) { refs.appendChild(el("li", null, [el("code", { text: text(r) })])); });
    var cell = el("td", { colspan: String(span) }, [
      el("h4", { text: "Prompt" }), messagesBlock(item.p),
      el("h4", { text: "References" }), item.r && item.r.length ? refs : el("div", { cls: "muted", text: "(none)" }),
      el("details", null, [el("summary", { text: "Inputs (dataset row)" }),
        el("pre", { text: JSON.stringify(item["in"], null, 2) })]),
      el("h4", { text: "Outputs" }), outs
    ]);
    return el("tr", { cls: "detail" }, [cell]);
  }

  function render() {
    var shownCols = visibleCols();
    var pages = Math.max(1, Math.ceil(filtered.length / state.size));
    var start = state.page * state.size;
    var rows = filtered.slice(start, start + state.size);
    count.textContent = filtered.length
      ? "samples " + (start + 1) + "–" + (start + rows.length) + " of " + filtered.length +
        (filtered.length !== items.length ? " (filtered from " + items.length + ")" : "") +
        " · page " + (state.page + 1) + " of " + pages
      : "no sample matches (" + items.length + " in all)";
    count.setAttribute("data-matches", String(filtered.length));
    var head = el("tr", null, [el("th", { text: "#", style: "width:4em" }), el("th", { text: "eval", style: "width:9em" }),
      el("th", { text: "prompt" })]);
    shownCols.forEach(function (c) { head.appendChild(el("th", { text: cols[c].label })); });
    var body = el("tbody");
    var span = 3 + shownCols.length;
    rows.forEach(function (item) {
      var tr = el("tr", { cls: "item", tabindex: "0" }, [el("td", { cls: "num", text: String(item.i) }),
        el("td", { text: data.evals[item.e] }),
        el("td", null, [el("div", { cls: "snip", text: snippet(promptText(item.p) || text(item["in"]), 300) })])]);
      shownCols.forEach(function (c) {
        var o = null;
        item.o.forEach(function (x) { if (x.c === c) { o = x; } });
        if (!o) { tr.appendChild(el("td", { cls: "muted", text: "—" })); return; }
        var shown = outputText(item, o);
        tr.appendChild(el("td", null, [shown || !o.err ? el("div", { cls: "snip", text: snippet(shown, 240) })
          : el("div", { cls: "snip bad", text: snippet(text(o.err), 240) }), chips(o)]));
      });
      var key = item._k;
      var toggle = function () { open[key] = !open[key]; render(); };
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); } });
      body.appendChild(tr);
      if (open[key]) { tr.className += " open"; body.appendChild(detail(item, shownCols, span)); }
    });
    if (!rows.length) { body.appendChild(el("tr", null, [el("td", { cls: "empty", colspan: String(span), text: "No samples to show." })])); }
    table.textContent = "";
    table.appendChild(el("thead", null, [head]));
    table.appendChild(body);
    document.getElementById("p-prev").disabled = state.page === 0;
    document.getElementById("p-first").disabled = state.page === 0;
    document.getElementById("p-next").disabled = state.page >= pages - 1;
    document.getElementById("p-last").disabled = state.page >= pages - 1;
  }

  items.forEach(function (item, i) { item._k = i; });
  apply();
  // When the first page of rows was built, in ms since navigation start (bench/report_size.py reads it).
  document.body.setAttribute("data-ready", String(Math.round(performance.now())));
}());
