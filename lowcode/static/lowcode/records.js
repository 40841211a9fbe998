/* Tack low-code — the record table.
 *
 * GET records/?form=&filter=<json>&sort=&cursor= with keyset "Load more"; columns chosen
 * by the reader (kept in localStorage per form); filters built from each field type's
 * operators (GET field-types/); the filter and sort live in the address so a view can be
 * shared. A row opens a side panel: values, approval state, history, edit (PATCH) and
 * delete with Undo (POST records/<id>/restore/). Exports reuse the current filter and sort.
 */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;
  var canManage = C.levels.indexOf("manage") !== -1;

  var SYSTEM = {
    number: { key: "number", type: "number", label: "#", sortable: true, system: true },
    created_by: { key: "created_by", type: "created_by", label: T.created_by, system: true },
    created_at: { key: "created_at", type: "created_at", label: T.created_at, sortable: true, system: true },
    updated_at: { key: "updated_at", type: "created_at", label: T.updated_at, sortable: true, system: true },
    approval_state: { key: "approval_state", type: "approval", label: T.approval, system: true },
  };
  var UNSORTABLE = { multi_select: 1, attachment: 1, image: 1, sub_table: 1, checkbox: 1 };
  var state = {
    fields: [],
    byKey: {},
    operators: {},
    columns: [],
    filters: [],
    sort: "",
    cursor: null,
    records: [],
    loading: false,
    open: null,
    editing: false,
    seq: 0,
  };
  var storageKey = "tack.lowcode.columns." + C.form_id;
  var head = document.querySelector("[data-head]");
  var body = document.querySelector("[data-body]");
  var table = document.querySelector("[data-table]");
  var empty = document.querySelector("[data-records-empty]");
  var count = document.querySelector("[data-count]");
  var more = document.querySelector('[data-action="more"]');
  var filtersBox = document.querySelector("[data-filters]");
  var clearButton = document.querySelector('[data-action="clear-filters"]');
  var drawer = document.querySelector("[data-drawer]");

  function column(key) {
    return SYSTEM[key] || state.byKey[key];
  }
  function allColumns() {
    return ["number"].concat(state.fields.map(function (f) {
      return f.key;
    }), ["created_by", "created_at", "updated_at", "approval_state"]);
  }

  /* --- Columns --------------------------------------------------------------------------- */
  function loadColumns() {
    var saved = null;
    try {
      saved = JSON.parse(window.localStorage.getItem(storageKey) || "null");
    } catch (_e) {
      saved = null;
    }
    var valid = allColumns();
    if (Array.isArray(saved)) {
      state.columns = saved.filter(function (k) {
        return valid.indexOf(k) !== -1;
      });
      if (state.columns.length) return;
    }
    state.columns = ["number"].concat(state.fields.slice(0, 6).map(function (f) {
      return f.key;
    }), ["created_at", "approval_state"]);
  }
  function paintColumnsMenu() {
    var menu = document.querySelector("[data-columns-menu]");
    menu.replaceChildren();
    menu.appendChild(el("p", "menu-label", T.choose_columns));
    allColumns().forEach(function (key) {
      var c = column(key);
      var box = h("input", { type: "checkbox", value: key });
      box.checked = state.columns.indexOf(key) !== -1;
      box.addEventListener("change", function () {
        var order = allColumns();
        var chosen = new Set(state.columns);
        if (box.checked) chosen.add(key);
        else chosen.delete(key);
        state.columns = order.filter(function (k) {
          return chosen.has(k);
        });
        try {
          window.localStorage.setItem(storageKey, JSON.stringify(state.columns));
        } catch (_e) {
          /* private mode: the choice lasts for this page only */
        }
        paintHead();
        paintBody();
      });
      menu.appendChild(h("label", { className: "check" }, [box, c.label]));
    });
  }

  /* --- Table ------------------------------------------------------------------------------ */
  function paintHead() {
    head.replaceChildren();
    state.columns.forEach(function (key) {
      var c = column(key);
      var th = h("th", { scope: "col" });
      var sortable = c.system ? c.sortable : !UNSORTABLE[c.type] && !(c.options && c.options.multiple);
      if (sortable) {
        var b = h("button", { type: "button", text: c.label });
        if (state.sort === key) th.setAttribute("aria-sort", "ascending");
        else if (state.sort === "-" + key) th.setAttribute("aria-sort", "descending");
        b.addEventListener("click", function () {
          state.sort = state.sort === key ? "-" + key : state.sort === "-" + key ? "" : key;
          paintHead();
          reload();
        });
        th.appendChild(b);
      } else th.textContent = c.label;
      head.appendChild(th);
    });
  }
  function cell(record, key) {
    if (key === "number") return el("span", "lc-num", "#" + record.number);
    if (key === "created_by") return L.display(SYSTEM.created_by, record.created_by);
    if (key === "created_at" || key === "updated_at") return L.display(SYSTEM.created_at, record[key]);
    if (key === "approval_state") return record.approval_state ? L.stateBadge(record.approval_state) : el("span", "lc-value is-empty", "—");
    return L.display(state.byKey[key], record.data[key]);
  }
  function row(record) {
    var tr = h("tr", { tabindex: "0", "data-record": String(record.id) });
    if (state.open && state.open.id === record.id) tr.classList.add("is-open");
    state.columns.forEach(function (key) {
      var td = el("td");
      td.appendChild(cell(record, key));
      tr.appendChild(td);
    });
    tr.addEventListener("click", function () {
      openRecord(record.id);
    });
    tr.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        openRecord(record.id);
      }
    });
    return tr;
  }
  function paintBody() {
    body.replaceChildren();
    state.records.forEach(function (record) {
      body.appendChild(row(record));
    });
    var none = state.records.length === 0 && !state.loading;
    empty.hidden = !none;
    table.hidden = none;
    document.querySelector("[data-empty-title]").textContent = state.filters.length ? T.no_results : T.no_records;
    document.querySelector("[data-empty-text]").hidden = state.filters.length > 0;
    count.textContent = state.records.length ? L.fmt(T.n_records_loaded, { count: state.records.length }) : "";
    more.hidden = !state.cursor;
  }

  /* --- Filters ----------------------------------------------------------------------------- */
  function filterFields() {
    return state.fields.filter(function (f) {
      return (state.operators[f.type] || []).length > 0;
    }).concat([SYSTEM.created_at]);
  }
  function operatorsFor(key) {
    var c = column(key);
    if (key === "created_at") return ["gte", "lte", "range"];
    return state.operators[c.type] || [];
  }
  function valueFor(field, op, raw) {
    var convert = function (text) {
      if (field.type === "number" || field.type === "computed") return text === "" ? null : Number(text);
      if (field.type === "money") return text === "" ? null : Math.round(Number(text) * 100);
      if (field.type === "checkbox") return text === "true";
      if (field.type === "member" || field.type === "department" || field.type === "relation") return Number(text) || text;
      return text;
    };
    if (op === "range") return [convert(raw[0] || ""), convert(raw[1] || "")];
    if (op === "in") return String(raw).split(",").map(function (s) {
      return convert(s.trim());
    }).filter(function (v) {
      return v !== "" && v !== null;
    });
    return convert(raw);
  }
  function valueInput(field, op, current, onChange) {
    var wrap = el("span", "lc-filter-value");
    if (op === "empty" || op === "not_empty") return wrap;
    var type = field.type;
    var make = function (value, label) {
      var input;
      if ((type === "single_select" || type === "multi_select") && op !== "in") {
        input = h("select", { "aria-label": label || T.value });
        input.appendChild(h("option", { value: "", text: T.choose }));
        ((field.options && field.options.choices) || []).forEach(function (c) {
          input.appendChild(h("option", { value: c.id, text: c.label }));
        });
      } else if (type === "checkbox") {
        input = h("select", { "aria-label": label || T.value });
        input.appendChild(h("option", { value: "true", text: T.yes }));
        input.appendChild(h("option", { value: "false", text: T.no }));
      } else {
        var inputType = type === "date" ? "date" : type === "created_at" || type === "datetime" ? "date" : (type === "number" || type === "money" || type === "computed") && op !== "in" ? "number" : "text";
        input = h("input", { type: inputType, "aria-label": label || T.value, step: "any", placeholder: op === "in" ? "a, b, c" : T.value });
      }
      input.value = value === undefined || value === null ? "" : String(value);
      return input;
    };
    if (op === "range") {
      var raw = Array.isArray(current) ? current : ["", ""];
      var a = make(raw[0], T.min);
      var b = make(raw[1], T.max);
      var fire = function () {
        onChange([a.value, b.value]);
      };
      a.addEventListener("input", fire);
      b.addEventListener("input", fire);
      wrap.appendChild(a);
      wrap.appendChild(el("span", "muted", "–"));
      wrap.appendChild(b);
    } else {
      var input = make(Array.isArray(current) ? current.join(", ") : current);
      input.addEventListener("input", function () {
        onChange(input.value);
      });
      input.addEventListener("change", function () {
        onChange(input.value);
      });
      wrap.appendChild(input);
      wrap.input = input;
    }
    return wrap;
  }
  function paintFilters() {
    filtersBox.replaceChildren();
    state.filters.forEach(function (f, index) {
      var rowNode = el("div", "lc-filter-row");
      var fieldSel = h("select", { "aria-label": T.field });
      filterFields().forEach(function (c) {
        fieldSel.appendChild(h("option", { value: c.key, text: c.label }));
      });
      fieldSel.value = f.field;
      var opSel = h("select", { "aria-label": T.operator });
      operatorsFor(f.field).forEach(function (op) {
        opSel.appendChild(h("option", { value: op, text: T["op_" + op] || op }));
      });
      opSel.value = f.op;
      fieldSel.addEventListener("change", function () {
        f.field = fieldSel.value;
        f.op = operatorsFor(f.field)[0];
        f.raw = "";
        paintFilters();
        reloadSoon();
      });
      opSel.addEventListener("change", function () {
        f.op = opSel.value;
        f.raw = f.op === "range" ? ["", ""] : "";
        paintFilters();
        reloadSoon();
      });
      var value = valueInput(column(f.field), f.op, f.raw, function (raw) {
        f.raw = raw;
        reloadSoon();
      });
      var x = h("button", { type: "button", className: "lc-icon-btn", "aria-label": T.remove, text: "×" });
      x.addEventListener("click", function () {
        state.filters.splice(index, 1);
        paintFilters();
        reload();
      });
      rowNode.appendChild(fieldSel);
      rowNode.appendChild(opSel);
      rowNode.appendChild(value);
      rowNode.appendChild(x);
      filtersBox.appendChild(rowNode);
    });
    clearButton.hidden = state.filters.length === 0;
  }
  function filterParam() {
    var list = [];
    state.filters.forEach(function (f) {
      var c = column(f.field);
      if (!c) return;
      if (f.op === "empty" || f.op === "not_empty") {
        list.push({ field: f.field, op: f.op });
        return;
      }
      var v = valueFor(c, f.op, f.raw === undefined ? "" : f.raw);
      if (v === "" || v === null || (Array.isArray(v) && !v.length) || (typeof v === "number" && isNaN(v))) return;
      if (f.op === "range" && v[0] === null && v[1] === null) return;
      list.push({ field: f.field, op: f.op, value: v });
    });
    return list.length ? JSON.stringify(list) : "";
  }
  document.querySelector('[data-action="add-filter"]').addEventListener("click", function () {
    var first = filterFields()[0];
    if (!first) return;
    state.filters.push({ field: first.key, op: operatorsFor(first.key)[0], raw: "" });
    paintFilters();
    var inputs = filtersBox.querySelectorAll(".lc-filter-row:last-child select");
    if (inputs[0]) inputs[0].focus();
  });
  clearButton.addEventListener("click", function () {
    state.filters = [];
    paintFilters();
    reload();
  });

  /* --- Loading ----------------------------------------------------------------------------- */
  function query(cursor) {
    var params = new URLSearchParams({ form: String(C.form_id), limit: "50" });
    var filter = filterParam();
    if (filter) params.set("filter", filter);
    if (state.sort) params.set("sort", state.sort);
    if (cursor) params.set("cursor", cursor);
    if (state.bin) params.set("deleted", "1");
    return params;
  }
  function syncAddress() {
    var params = new URLSearchParams();
    var filter = filterParam();
    if (filter) params.set("filter", filter);
    if (state.sort) params.set("sort", state.sort);
    var search = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (search ? "?" + search : ""));
    ["csv", "xlsx"].forEach(function (kind) {
      var link = document.querySelector('[data-export="' + kind + '"]');
      var p = new URLSearchParams(params);
      p.set("as", kind);
      link.href = C.export_url + "?" + p.toString();
    });
  }
  function load(append) {
    var seq = ++state.seq;
    state.loading = true;
    table.setAttribute("aria-busy", "true");
    more.disabled = true;
    return L.api("records/?" + query(append ? state.cursor : null).toString()).then(
      function (page) {
        if (seq !== state.seq) return;
        state.loading = false;
        table.removeAttribute("aria-busy");
        more.disabled = false;
        state.records = append ? state.records.concat(page.results) : page.results;
        state.cursor = page.next_cursor;
        paintBody();
      },
      function (err) {
        if (seq !== state.seq) return;
        state.loading = false;
        more.disabled = false;
        table.removeAttribute("aria-busy");
        L.toast(err.message, "error");
        paintBody();
      }
    );
  }
  function reload() {
    syncAddress();
    return load(false);
  }
  var reloadSoon = L.debounce(reload, 300);
  more.addEventListener("click", function () {
    load(true);
  });
  var binToggle = document.querySelector("[data-bin]");
  if (binToggle) {
    binToggle.addEventListener("change", function () {
      state.bin = binToggle.checked;
      closeDrawer();
      reload();
    });
  }
  document.addEventListener("lc:imported", function () {
    reload();
  });

  /* --- Side panel ------------------------------------------------------------------------------ */
  var drawerBody = document.querySelector("[data-drawer-body]");
  var drawerFoot = document.querySelector("[data-drawer-foot]");
  var CHANGE_LABELS = { created: T.change_created, updated: T.change_updated, deleted: T.change_deleted, restored: T.change_restored, imported: T.change_imported };
  function closeDrawer() {
    drawer.hidden = true;
    var opened = state.open;
    state.open = null;
    state.editing = false;
    body.querySelectorAll("tr.is-open").forEach(function (tr) {
      tr.classList.remove("is-open");
    });
    if (opened) {
      var tr = body.querySelector('[data-record="' + opened.id + '"]');
      if (tr) tr.focus();
    }
  }
  document.querySelector('[data-action="close-drawer"]').addEventListener("click", closeDrawer);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !drawer.hidden && !document.querySelector("dialog[open]")) closeDrawer();
  });
  function replaceRecord(record) {
    state.records = state.records.map(function (r) {
      return r.id === record.id ? record : r;
    });
    paintBody();
  }
  function paintDrawer() {
    var record = state.open;
    drawerBody.replaceChildren();
    drawerFoot.replaceChildren();
    document.querySelector("[data-drawer-title]").textContent = L.fmt(T.record_n, { n: record.number });
    var badge = document.querySelector("[data-drawer-state]");
    badge.replaceChildren();
    if (record.approval_state) badge.appendChild(L.stateBadge(record.approval_state));
    if (state.editing) {
      var formNode = h("form", { className: "lc-edit-form", novalidate: true });
      var box = el("div");
      formNode.appendChild(box);
      var controller = L.renderForm(box, state.fields, record.data, { partial: true, idPrefix: "ed" });
      var error = h("p", { className: "field-error", role: "alert", hidden: true });
      formNode.appendChild(error);
      drawerBody.appendChild(formNode);
      var save = h("button", { type: "submit", className: "btn btn-primary", text: T.save });
      save.setAttribute("form", "lc-edit");
      formNode.id = "lc-edit";
      var cancel = h("button", { type: "button", className: "btn", text: T.cancel });
      cancel.addEventListener("click", function () {
        state.editing = false;
        paintDrawer();
      });
      formNode.addEventListener("submit", function (event) {
        event.preventDefault();
        var collected = controller.collect();
        var data = {};
        Object.keys(collected.data).forEach(function (k) {
          if (collected.data[k] !== null || record.data[k] !== undefined) data[k] = collected.data[k];
        });
        var clientErrors = {};
        Object.keys(collected.errors).forEach(function (k) {
          if (collected.errors[k][0] !== T.required) clientErrors[k] = collected.errors[k];
        });
        if (Object.keys(clientErrors).length) {
          controller.setErrors(clientErrors);
          return;
        }
        save.disabled = true;
        save.textContent = T.saving;
        L.api("records/" + record.id + "/", { method: "PATCH", body: { data: data } }).then(
          function (updated) {
            state.open = updated;
            state.editing = false;
            replaceRecord(updated);
            paintDrawer();
            L.toast(T.record_saved, "success");
          },
          function (err) {
            save.disabled = false;
            save.textContent = T.save;
            var rest = controller.setErrors(err.fields);
            error.textContent = err.message + (rest.length ? " " + rest.join(" ") : "");
            error.hidden = false;
          }
        );
      });
      drawerFoot.appendChild(save);
      drawerFoot.appendChild(cancel);
      var firstInput = formNode.querySelector("input, select, textarea");
      if (firstInput) firstInput.focus();
      return;
    }
    var dl = el("dl", "lc-dl");
    state.fields.forEach(function (f) {
      dl.appendChild(el("dt", "", f.label));
      var dd = el("dd");
      if (f.type === "sub_table" && Array.isArray(record.data[f.key]) && record.data[f.key].length) {
        var cols = (f.options && f.options.columns) || [];
        var t = el("table", "table lc-subtable-table");
        var hr = el("tr");
        cols.forEach(function (c) {
          hr.appendChild(el("th", "", c.label));
        });
        t.appendChild(h("thead", {}, [hr]));
        var tb = el("tbody");
        record.data[f.key].forEach(function (r) {
          var tr = el("tr");
          cols.forEach(function (c) {
            var td = el("td");
            td.appendChild(L.display(c, r[c.key]));
            tr.appendChild(td);
          });
          tb.appendChild(tr);
        });
        t.appendChild(tb);
        dd.appendChild(t);
      } else if ((f.type === "image" || f.type === "attachment") && Array.isArray(record.data[f.key])) {
        var files = el("div", "lc-files-view");
        record.data[f.key].forEach(function (id) {
          var url = C.api + "lowcode/records/" + record.id + "/files/" + id + "/";
          var link = h("a", { href: url, target: "_blank", rel: "noopener", className: "lc-file-link" });
          if (f.type === "image") {
            var img = h("img", { src: url, alt: f.label + " " + id, className: "lc-file-thumb", loading: "lazy" });
            img.addEventListener("error", function () {
              link.replaceChildren(document.createTextNode("#" + id));
            });
            link.appendChild(img);
          }
          else link.textContent = "#" + id;
          files.appendChild(link);
        });
        dd.appendChild(files);
      } else dd.appendChild(L.display(f, record.data[f.key]));
      dl.appendChild(dd);
    });
    dl.appendChild(el("dt", "", T.created_by));
    dl.appendChild(h("dd", {}, [L.display(SYSTEM.created_by, record.created_by)]));
    dl.appendChild(el("dt", "", T.created_at));
    dl.appendChild(h("dd", {}, [L.display(SYSTEM.created_at, record.created_at)]));
    dl.appendChild(el("dt", "", T.approval));
    var approvalCell = h("dd", {}, [L.stateBadge(record.approval_state || "")]);
    if (record.approval_state) {
      approvalCell.appendChild(document.createTextNode(" "));
      approvalCell.appendChild(h("a", { href: C.pages + "approvals/?box=submitted", text: T.open_record }));
    }
    dl.appendChild(approvalCell);
    drawerBody.appendChild(dl);
    var history = el("section");
    history.appendChild(el("h3", "lc-subhead", T.history));
    var list = el("ol", "lc-timeline");
    list.appendChild(h("li", {}, [el("span", "muted", T.loading)]));
    history.appendChild(list);
    drawerBody.appendChild(history);
    L.api("records/" + record.id + "/history/").then(function (changes) {
      list.replaceChildren();
      changes.forEach(function (change) {
        var li = el("li", "is-" + change.kind);
        var who = el("strong");
        if (change.actor_id) {
          L.loadName("member", change.actor_id).then(function (n) {
            who.textContent = n + " ";
          });
        }
        li.appendChild(who);
        li.appendChild(document.createTextNode(CHANGE_LABELS[change.kind] || change.kind));
        li.appendChild(el("div", "lc-time", L.when(change.at) + " · v" + change.version));
        var keys = Object.keys(change.changes || {});
        if (keys.length) {
          li.appendChild(el("div", "lc-diff", keys.map(function (k) {
            return (state.byKey[k] ? state.byKey[k].label : k);
          }).join(", ")));
        }
        list.appendChild(li);
      });
    }, function () {
      list.replaceChildren(el("li", "field-error", T.load_error));
    });
    var edit = h("button", { type: "button", className: "btn btn-primary", text: T.edit });
    edit.addEventListener("click", function () {
      state.editing = true;
      paintDrawer();
    });
    var del = h("button", { type: "button", className: "btn btn-ghost-danger", text: T.delete });
    del.addEventListener("click", function () {
      deleteRecord(record);
    });
    drawerFoot.appendChild(edit);
    drawerFoot.appendChild(del);
  }
  function openDeleted(record) {
    state.open = record;
    drawer.hidden = false;
    drawerBody.replaceChildren();
    drawerFoot.replaceChildren();
    document.querySelector("[data-drawer-title]").textContent = L.fmt(T.record_n, { n: record.number });
    document.querySelector("[data-drawer-state]").replaceChildren(el("span", "badge lc-badge-warn", T.change_deleted));
    var dl = el("dl", "lc-dl");
    state.fields.forEach(function (f) {
      dl.appendChild(el("dt", "", f.label));
      dl.appendChild(h("dd", {}, [L.display(f, record.data[f.key])]));
    });
    drawerBody.appendChild(dl);
    var restore = h("button", { type: "button", className: "btn btn-primary", text: T.restore });
    restore.addEventListener("click", function () {
      L.api("records/" + record.id + "/restore/", { method: "POST" }).then(function () {
        state.records = state.records.filter(function (r) {
          return r.id !== record.id;
        });
        closeDrawer();
        paintBody();
        L.toast(T.record_restored, "success");
      }, function (err) {
        L.toast(err.message, "error");
      });
    });
    drawerFoot.appendChild(restore);
    restore.focus();
  }
  function openRecord(id) {
    if (state.bin) {
      var found = state.records.find(function (r) {
        return r.id === id;
      });
      if (found) openDeleted(found);
      return;
    }
    L.api("records/" + id + "/").then(
      function (record) {
        state.open = record;
        state.editing = false;
        drawer.hidden = false;
        body.querySelectorAll("tr").forEach(function (tr) {
          tr.classList.toggle("is-open", Number(tr.dataset.record) === id);
        });
        paintDrawer();
        document.querySelector('[data-action="close-drawer"]').focus();
      },
      function (err) {
        L.toast(err.message, "error");
      }
    );
  }
  function deleteRecord(record) {
    L.api("records/" + record.id + "/", { method: "DELETE" }).then(
      function () {
        var index = state.records.findIndex(function (r) {
          return r.id === record.id;
        });
        state.records = state.records.filter(function (r) {
          return r.id !== record.id;
        });
        closeDrawer();
        paintBody();
        L.toast(T.record_deleted, "", {
          label: T.undo,
          run: function () {
            L.api("records/" + record.id + "/restore/", { method: "POST" }).then(
              function (restored) {
                state.records.splice(Math.max(index, 0), 0, restored);
                paintBody();
                L.toast(T.record_restored, "success");
              },
              function (err) {
                L.toast(err.message, "error");
              }
            );
          },
        });
      },
      function (err) {
        L.toast(err.message, "error");
      }
    );
  }

  /* --- Start ------------------------------------------------------------------------------- */
  function restoreFromAddress() {
    var params = new URLSearchParams(window.location.search);
    state.sort = params.get("sort") || "";
    try {
      var list = JSON.parse(params.get("filter") || "[]");
      if (Array.isArray(list)) {
        state.filters = list.filter(function (f) {
          return f && column(f.field);
        }).map(function (f) {
          var c = column(f.field);
          var raw = f.value;
          if (c.type === "money") raw = Array.isArray(raw) ? raw.map(function (v) {
            return v === null ? "" : v / 100;
          }) : raw / 100;
          if (f.op === "in" && Array.isArray(raw)) raw = raw.join(", ");
          return { field: f.field, op: f.op, raw: raw };
        });
      }
    } catch (_e) {
      state.filters = [];
    }
  }
  Promise.all([L.api("forms/" + C.form_id + "/"), L.api("field-types/")]).then(
    function (loaded) {
      var form = loaded[0];
      loaded[1].forEach(function (t) {
        state.operators[t.type] = t.operators;
      });
      state.fields = form.published_version ? form.published_version.fields : [];
      state.fields.forEach(function (f) {
        state.byKey[f.key] = f;
      });
      loadColumns();
      restoreFromAddress();
      paintColumnsMenu();
      paintHead();
      paintFilters();
      var wanted = Number(new URLSearchParams(window.location.search).get("record"));
      reload().then(function () {
        if (wanted > 0) openRecord(wanted);
      });
    },
    function (err) {
      L.toast(err.message, "error");
    }
  );
})();
