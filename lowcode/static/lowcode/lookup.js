/* Tack low-code — a lookup page: one input, every matching record (lookups/<id>/run/?q=). */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;
  var form = document.querySelector("[data-lookup-form]");
  var input = document.querySelector("[data-lookup-q]");
  var results = document.querySelector("[data-lookup-results]");
  var head = document.querySelector("[data-lookup-head]");
  var body = document.querySelector("[data-lookup-body]");
  var count = document.querySelector("[data-lookup-count]");
  var emptyBox = document.querySelector("[data-lookup-empty]");
  var message = document.querySelector("[data-lookup-message]");
  var more = document.querySelector('[data-action="more"]');
  var state = { lookup: null, fields: [], columns: [], cursor: null, q: "", seq: 0, rows: 0 };

  function paintHead() {
    head.replaceChildren(h("th", { scope: "col", text: "#" }));
    state.columns.forEach(function (f) {
      head.appendChild(h("th", { scope: "col", text: f.label }));
    });
    head.appendChild(h("th", { scope: "col", text: T.approval }));
    head.appendChild(h("th", { scope: "col", text: T.created_at }));
  }
  function addRows(records) {
    records.forEach(function (record) {
      var tr = h("tr", { "data-record": String(record.id), tabindex: "0" });
      var open = function () {
        window.location.href = C.pages + "forms/" + C.form_id + "/records/?record=" + record.id;
      };
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", function (event) {
        if (event.key === "Enter") open();
      });
      tr.appendChild(h("td", {}, [el("span", "lc-num", "#" + record.number)]));
      state.columns.forEach(function (f) {
        tr.appendChild(h("td", {}, [L.display(f, record.data[f.key])]));
      });
      tr.appendChild(h("td", {}, [L.stateBadge(record.approval_state || "")]));
      tr.appendChild(h("td", {}, [L.display({ type: "created_at" }, record.created_at)]));
      body.appendChild(tr);
    });
  }
  function run(append) {
    var q = input.value.trim();
    if (!q) {
      results.hidden = true;
      emptyBox.hidden = false;
      message.textContent = T.lookup_hint;
      return;
    }
    var seq = ++state.seq;
    state.q = q;
    var params = new URLSearchParams({ q: q });
    if (append && state.cursor) params.set("cursor", state.cursor);
    form.setAttribute("aria-busy", "true");
    more.disabled = true;
    L.api("lookups/" + C.lookup_id + "/run/?" + params.toString()).then(
      function (page) {
        if (seq !== state.seq) return;
        form.removeAttribute("aria-busy");
        more.disabled = false;
        if (!append) {
          body.replaceChildren();
          state.rows = 0;
        }
        addRows(page.results);
        state.rows += page.results.length;
        state.cursor = page.next_cursor;
        more.hidden = !state.cursor;
        results.hidden = state.rows === 0;
        emptyBox.hidden = state.rows > 0;
        message.textContent = L.fmt(T.lookup_empty, { q: q });
        count.textContent = L.fmt(T.n_records_loaded, { count: state.rows });
        var url = new URL(window.location.href);
        url.searchParams.set("q", q);
        window.history.replaceState(null, "", url.pathname + url.search);
      },
      function (err) {
        if (seq !== state.seq) return;
        form.removeAttribute("aria-busy");
        more.disabled = false;
        results.hidden = true;
        emptyBox.hidden = false;
        message.textContent = err.message;
      }
    );
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(false);
  });
  input.addEventListener("input", L.debounce(function () {
    if (input.value.trim().length >= 2 || !input.value.trim()) run(false);
  }, 350));
  more.addEventListener("click", function () {
    run(true);
  });

  Promise.all([L.api("lookups/" + C.lookup_id + "/"), L.api("forms/" + C.form_id + "/")]).then(
    function (loaded) {
      state.lookup = loaded[0];
      var form = loaded[1];
      state.fields = form.published_version ? form.published_version.fields : [];
      var byKey = {};
      state.fields.forEach(function (f) {
        byKey[f.key] = f;
      });
      var keys = state.lookup.columns.length ? state.lookup.columns : state.fields.map(function (f) {
        return f.key;
      });
      state.columns = keys.map(function (k) {
        return byKey[k];
      }).filter(Boolean);
      var inputField = byKey[state.lookup.input_field];
      if (inputField) {
        input.placeholder = inputField.label + " — " + T.lookup_prompt;
        document.querySelector("[data-lookup-label]").textContent = inputField.label;
      }
      paintHead();
      if (input.value.trim()) run(false);
    },
    function (err) {
      message.textContent = err.message;
    }
  );
})();
