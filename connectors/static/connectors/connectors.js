/* Tack connectors — the connections list, a connection's page and the scenarios editor.
 *
 * Built on the low-code helpers (window.TackLowcode: API client with the session cookie and
 * CSRF header, DOM builders, toasts, confirmation). Settings forms are generated from each
 * connector's JSON Schema spec; secret fields ("x-secret" / writeOnly) are password inputs
 * that keep the stored value unless retyped. Every piece of data goes through textContent.
 */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;
  var MASK = "********";
  var LIVE = { queued: 1, running: 1, retrying: 1 };

  function capi(path, options) {
    return L.api(C.connectors_api + path, options);
  }

  /* --- Small displays ----------------------------------------------------------------- */
  function span(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return L.fmt(T.unit_s, { n: seconds });
    if (seconds < 3600) return L.fmt(T.unit_m, { n: Math.round(seconds / 60) });
    if (seconds < 86400) return L.fmt(T.unit_h, { n: Math.round(seconds / 3600) });
    return L.fmt(T.unit_d, { n: Math.round(seconds / 86400) });
  }
  function relative(iso) {
    if (!iso) return "";
    var diff = (new Date(iso).getTime() - Date.now()) / 1000;
    if (isNaN(diff)) return "";
    if (Math.abs(diff) < 10) return T.just_now;
    return diff < 0 ? L.fmt(T.ago, { when: span(-diff) }) : L.fmt(T.in_time, { when: span(diff) });
  }
  function timeNode(iso) {
    var node = h("time", { dateTime: iso || "", title: L.when(iso), text: relative(iso) });
    return node;
  }
  function runBadge(state) {
    return el("span", "cx-run cx-run-" + state, T["run_" + state] || state);
  }
  function healthBadge(conn) {
    if (conn.last_check_ok === true) return h("span", { className: "cx-health cx-health-ok", title: conn.last_check_message || "", text: T.health_ok });
    if (conn.last_check_ok === false) return h("span", { className: "cx-health cx-health-bad", title: conn.last_check_message || "", text: T.health_failed });
    return el("span", "cx-health", T.health_unknown);
  }
  function scheduleText(conn) {
    if (conn.schedule === "interval") return L.fmt(T.every_n_minutes, { n: conn.interval_minutes });
    if (conn.schedule === "cron") return conn.cron;
    return T.schedule_manual;
  }
  function counts(run) {
    return L.fmt(T.counts, { read: run.read_count, created: run.created_count, updated: run.updated_count, failed: run.failed_count });
  }
  function showFormError(form, name, messages) {
    var node = form.querySelector('[data-error="' + name + '"]');
    if (!node) return false;
    node.textContent = [].concat(messages || []).join(" ");
    node.hidden = !messages || !messages.length;
    return true;
  }
  function clearErrors(form) {
    form.querySelectorAll("[data-error]").forEach(function (node) {
      node.hidden = true;
    });
  }
  function parseJSON(text, fallback) {
    if (!String(text).trim()) return { value: fallback };
    try {
      return { value: JSON.parse(text) };
    } catch (e) {
      return { error: L.fmt(T.json_invalid, { message: e.message }) };
    }
  }
  function button(text, className, onClick) {
    var node = h("button", { type: "button", className: "btn " + (className || ""), text: text });
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }
  var seq = 0;
  function nextId(prefix) {
    seq += 1;
    return prefix + "-" + seq;
  }

  /* --- A form generated from a JSON Schema ---------------------------------------------
   * Supports string (with enum, format, long text), integer, number, boolean and arrays of
   * strings or of simple objects. ``errors`` paths are relative to the object: "database",
   * "items.0.name". Returns {node, collect() -> {value, errors}, setErrors(map)}. */
  function humanize(key) {
    var text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function isSecret(prop) {
    return !!(prop && (prop["x-secret"] || prop.writeOnly));
  }
  function scalarControl(prop, value, id, editing) {
    var type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    var input;
    if (prop.enum) {
      input = h("select", { id: id });
      if (!prop.default && prop.default !== 0) input.appendChild(h("option", { value: "", text: T.choose }));
      prop.enum.forEach(function (option, i) {
        var label = (prop["x-enum-labels"] && prop["x-enum-labels"][i]) || String(option);
        input.appendChild(h("option", { value: JSON.stringify(option), text: label }));
      });
      var current = value !== undefined ? value : prop.default;
      if (current !== undefined) input.value = JSON.stringify(current);
      return {
        input: input,
        get: function () {
          return input.value === "" ? undefined : JSON.parse(input.value);
        },
      };
    }
    if (type === "boolean") {
      input = h("input", { type: "checkbox", id: id });
      input.checked = value !== undefined ? !!value : !!prop.default;
      return {
        input: input,
        get: function () {
          return input.checked;
        },
      };
    }
    if (type === "integer" || type === "number") {
      input = h("input", { type: "number", id: id, step: type === "integer" ? "1" : "any", inputmode: type === "integer" ? "numeric" : "decimal" });
      if (prop.minimum !== undefined) input.min = prop.minimum;
      if (prop.maximum !== undefined) input.max = prop.maximum;
      if (value !== undefined && value !== null) input.value = value;
      else if (prop.default !== undefined) input.placeholder = String(prop.default);
      return {
        input: input,
        get: function () {
          if (input.value.trim() === "") return undefined;
          var n = Number(input.value);
          return isNaN(n) ? input.value : n;
        },
      };
    }
    var secret = isSecret(prop);
    var long = !secret && (prop.format === "textarea" || (prop.maxLength || 0) > 1000);
    input = h(long ? "textarea" : "input", { id: id, rows: long ? 4 : undefined, autocomplete: secret ? "new-password" : "off", spellcheck: "false" });
    if (!long) input.type = secret ? "password" : prop.format === "uri" ? "url" : prop.format === "email" ? "email" : "text";
    if (prop.maxLength) input.maxLength = prop.maxLength;
    var keep = secret && editing && value === MASK;
    if (keep) input.placeholder = T.secret_unchanged;
    else if (value !== undefined && value !== null) input.value = value;
    else if (prop.default !== undefined) input.value = prop.default;
    if (!keep && prop.examples && prop.examples.length) input.placeholder = String(prop.examples[0]);
    return {
      input: input,
      keep: keep,
      get: function () {
        if (keep && input.value === "") return MASK;
        return input.value === "" ? undefined : input.value;
      },
    };
  }

  /* Anything the generated form has no widget for (objects, anyOf, nested arrays): JSON. */
  function isComplex(prop) {
    var type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    if (prop.enum) return false;
    if (type === "object" || (!type && (prop.anyOf || prop.oneOf || prop.allOf))) return true;
    if (type === "array") {
      var items = prop.items || {};
      if (items.type === "object") return Object.keys(items.properties || {}).some(function (k) {
        return isComplex(items.properties[k]) || (items.properties[k].type === "array");
      });
      return isComplex(items);
    }
    return false;
  }
  function jsonControl(prop, value, id) {
    var input = h("textarea", { id: id, rows: 4, className: "mono cx-code", spellcheck: "false" });
    var type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    input.placeholder = type === "array" ? "[ ]" : type === "object" ? "{ }" : "";
    if (value !== undefined && value !== null) input.value = JSON.stringify(value, null, 2);
    else if (prop.default !== undefined) input.value = JSON.stringify(prop.default, null, 2);
    return {
      input: input,
      json: true,
      get: function () {
        var parsed = parseJSON(input.value, undefined);
        return parsed.error ? { __invalid: parsed.error } : parsed.value;
      },
    };
  }

  function objectRows(prop, value, labelId) {
    /* An array of simple objects (or strings): rows of inputs with add/remove. */
    var items = prop.items || { type: "string" };
    var simple = items.type !== "object";
    var columns = simple ? [["", items]] : Object.keys(items.properties || {}).map(function (k) {
      return [k, items.properties[k]];
    });
    var box = el("div", "cx-rows");
    var body = el("div", "cx-rows-body");
    box.appendChild(body);
    var rows = [];
    function addRow(rowValue) {
      var row = el("div", "cx-row");
      var controls = columns.map(function (col) {
        var id = nextId("cx-f");
        var cellValue = simple ? rowValue : rowValue && rowValue[col[0]];
        var ctl = isComplex(col[1]) || col[1].type === "array" ? jsonControl(col[1], cellValue, id) : scalarControl(col[1], cellValue, id, false);
        var wrap = el("div", "cx-row-cell");
        if (!simple) wrap.appendChild(h("label", { for: id, className: "cx-row-label", text: col[1].title || humanize(col[0]) }));
        else ctl.input.setAttribute("aria-labelledby", labelId);
        wrap.appendChild(ctl.input);
        row.appendChild(wrap);
        return { key: col[0], ctl: ctl };
      });
      var entry = { node: row, controls: controls };
      var remove = h("button", { type: "button", className: "btn btn-sm lc-row-remove", "aria-label": T.remove_row, text: "×" });
      remove.addEventListener("click", function () {
        rows = rows.filter(function (r) {
          return r !== entry;
        });
        row.remove();
      });
      row.appendChild(remove);
      body.appendChild(row);
      rows.push(entry);
    }
    (Array.isArray(value) ? value : []).forEach(addRow);
    box.appendChild(button("+ " + T.add_row, "btn-sm", function () {
      addRow(simple ? undefined : {});
    }));
    return {
      node: box,
      get: function () {
        var out = rows.map(function (r) {
          if (simple) return r.controls[0].ctl.get();
          var obj = {};
          r.controls.forEach(function (c) {
            var v = c.ctl.get();
            if (v !== undefined) obj[c.key] = v;
          });
          return obj;
        }).filter(function (v) {
          return v !== undefined && !(typeof v === "object" && !Object.keys(v).length);
        });
        return out.length ? out : undefined;
      },
    };
  }

  function hasInvalid(v) {
    if (v && typeof v === "object") {
      if (typeof v.__invalid === "string") return v.__invalid;
      var keys = Object.keys(v);
      for (var i = 0; i < keys.length; i++) {
        var inner = hasInvalid(v[keys[i]]);
        if (inner) return inner;
      }
    }
    return "";
  }
  function schemaForm(container, schema, values, editing) {
    values = values || {};
    container.replaceChildren();
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var grid = el("div", "cx-schema");
    var entries = [];
    Object.keys(props).forEach(function (key) {
      var prop = props[key];
      if (prop.readOnly) return;
      var id = nextId("cx-f");
      var type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
      var wrap = el("div", "field cx-field");
      wrap.dataset.key = key;
      var ctl;
      var labelNode;
      if (isComplex(prop)) {
        ctl = jsonControl(prop, values[key], id);
        labelNode = h("label", { for: id, text: prop.title || humanize(key) });
        if (required.indexOf(key) === -1) labelNode.appendChild(el("span", "optional", " " + T.optional));
        wrap.appendChild(labelNode);
        wrap.appendChild(ctl.input);
        type = "json";
      } else if (type === "array") {
        labelNode = h("p", { className: "cx-label", id: id + "-label", text: prop.title || humanize(key) });
        ctl = objectRows(prop, values[key], id + "-label");
        wrap.appendChild(labelNode);
        wrap.appendChild(ctl.node);
      } else if (type === "boolean") {
        ctl = scalarControl(prop, values[key], id, editing);
        wrap.classList.add("field-checkbox");
        wrap.appendChild(h("label", { className: "check" }, [ctl.input, " " + (prop.title || humanize(key))]));
      } else {
        ctl = scalarControl(prop, values[key], id, editing);
        labelNode = h("label", { for: id, text: prop.title || humanize(key) });
        if (required.indexOf(key) === -1) labelNode.appendChild(el("span", "optional", " " + T.optional));
        wrap.appendChild(labelNode);
        if (isSecret(prop)) {
          var lockWrap = el("div", "cx-secret");
          lockWrap.appendChild(ctl.input);
          lockWrap.appendChild(L.icon("lock"));
          wrap.appendChild(lockWrap);
        } else wrap.appendChild(ctl.input);
      }
      var helpText = prop.description || (isSecret(prop) && editing && ctl.keep ? T.secret_help : "");
      if (helpText) wrap.appendChild(h("p", { className: "help", id: id + "-help", text: helpText }));
      var error = h("p", { className: "field-error", id: id + "-error", hidden: true });
      wrap.appendChild(error);
      if (ctl.input) {
        ctl.input.setAttribute("aria-describedby", (helpText ? id + "-help " : "") + id + "-error");
        if (required.indexOf(key) !== -1) ctl.input.setAttribute("aria-required", "true");
      }
      grid.appendChild(wrap);
      entries.push({ key: key, ctl: ctl, wrap: wrap, error: error, required: required.indexOf(key) !== -1, type: type });
    });
    container.appendChild(grid);
    function show(entry, messages) {
      entry.error.textContent = messages.join(" ");
      entry.error.hidden = false;
      entry.wrap.classList.add("has-error");
      if (entry.ctl.input) entry.ctl.input.setAttribute("aria-invalid", "true");
    }
    return {
      collect: function () {
        var value = {};
        var errors = {};
        entries.forEach(function (entry) {
          var v = entry.ctl.get();
          if (v === undefined) {
            if (entry.required && entry.type !== "boolean") errors[entry.key] = [T.required];
            return;
          }
          if ((entry.type === "integer" || entry.type === "number") && typeof v !== "number") errors[entry.key] = [T.fix_fields];
          if (hasInvalid(v)) errors[entry.key] = [hasInvalid(v)];
          value[entry.key] = v;
        });
        return { value: value, errors: errors };
      },
      /* Paths relative to this object ("database", "items.0.name"); returns the rest. */
      setErrors: function (errors) {
        var rest = [];
        entries.forEach(function (entry) {
          entry.error.hidden = true;
          entry.wrap.classList.remove("has-error");
          if (entry.ctl.input) entry.ctl.input.removeAttribute("aria-invalid");
        });
        var first = null;
        Object.keys(errors || {}).forEach(function (path) {
          var key = path.split(".")[0];
          var entry = entries.find(function (e) {
            return e.key === key;
          });
          if (!entry) {
            rest = rest.concat(errors[path]);
            return;
          }
          show(entry, [].concat(errors[path]));
          first = first || entry;
        });
        if (first && first.ctl.input) first.ctl.input.focus();
        return rest;
      },
    };
  }

  /* Paths "config.database" -> {database: ...}; everything else in ``other``. */
  function splitErrors(fields, prefix) {
    var inner = {};
    var outer = {};
    Object.keys(fields || {}).forEach(function (path) {
      if (path.indexOf(prefix + ".") === 0) inner[path.slice(prefix.length + 1)] = fields[path];
      else outer[path] = fields[path];
    });
    return { inner: inner, outer: outer };
  }

  /* --- Schedule editor ---------------------------------------------------------------- */
  function scheduleEditor(container, conn) {
    conn = conn || { schedule: "manual", interval_minutes: 60, cron: "" };
    container.replaceChildren();
    var base = nextId("cx-sched");
    var fieldset = h("fieldset", { className: "lc-fieldset cx-schedule" }, [h("legend", { text: T.schedule })]);
    var radios = el("div", "cx-radios");
    var kinds = [["manual", T.schedule_manual], ["interval", T.schedule_interval], ["cron", T.schedule_cron]];
    var inputs = {};
    kinds.forEach(function (kind) {
      var radio = h("input", { type: "radio", name: base, value: kind[0] });
      radio.checked = (conn.schedule || "manual") === kind[0];
      inputs[kind[0]] = radio;
      radios.appendChild(h("label", { className: "check" }, [radio, " " + kind[1]]));
    });
    fieldset.appendChild(radios);
    var minutes = h("input", { type: "number", id: base + "-min", min: "1", max: "100000", step: "1", value: String(conn.interval_minutes || 60) });
    var minutesField = h("div", { className: "field cx-inline-field" }, [
      h("label", { for: base + "-min", text: T.interval_minutes }),
      minutes,
      h("p", { className: "field-error", "data-error": "interval_minutes", hidden: true }),
    ]);
    var cron = h("input", { type: "text", id: base + "-cron", maxLength: 100, value: conn.cron || "", placeholder: "0 6 * * 1-5", spellcheck: "false", className: "mono" });
    var cronField = h("div", { className: "field cx-inline-field" }, [
      h("label", { for: base + "-cron", text: T.cron }),
      cron,
      h("p", { className: "help", text: T.cron_help }),
      h("p", { className: "field-error", "data-error": "cron", hidden: true }),
    ]);
    fieldset.appendChild(minutesField);
    fieldset.appendChild(cronField);
    fieldset.appendChild(h("p", { className: "field-error", "data-error": "schedule", hidden: true }));
    function paint() {
      minutesField.hidden = !inputs.interval.checked;
      cronField.hidden = !inputs.cron.checked;
    }
    Object.keys(inputs).forEach(function (k) {
      inputs[k].addEventListener("change", paint);
    });
    paint();
    container.appendChild(fieldset);
    return {
      get: function () {
        var kind = Object.keys(inputs).find(function (k) {
          return inputs[k].checked;
        }) || "manual";
        var out = { schedule: kind, cron: kind === "cron" ? cron.value.trim() : "", interval_minutes: null };
        if (kind === "interval") out.interval_minutes = Number(minutes.value) || null;
        return out;
      },
    };
  }

  /* --- Copyable values (secrets shown once, webhook URLs) -------------------------------- */
  function copyField(value, label) {
    var input = h("input", { type: "text", readOnly: true, className: "mono", value: value, "aria-label": label });
    var copy = button(T.copy, "btn-sm", function () {
      input.select();
      var done = function () {
        L.toast(T.copied, "success");
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(value).then(done, done);
      else {
        document.execCommand("copy");
        done();
      }
    });
    return h("div", { className: "copy-field cx-copy" }, [input, copy]);
  }
  function webhookUrl(connectionId, stream) {
    return window.location.origin + "/hooks/connectors/" + connectionId + "/" + stream + "/";
  }
  function issuedBlock(issued, connectionId) {
    var box = el("div", "cx-secret-once");
    box.appendChild(el("p", "alert alert-warn", T.secret_once));
    if (issued.signing_secret) {
      box.appendChild(el("p", "cx-label", T.signing_secret));
      box.appendChild(copyField(issued.signing_secret, T.signing_secret));
    }
    if (issued.url) {
      box.appendChild(el("p", "cx-label", T.webhook_url));
      box.appendChild(copyField(webhookUrl(connectionId, "<stream>"), T.webhook_url));
    }
    return box;
  }

  /* --- Connections list --------------------------------------------------------------- */
  var catalogue = null;
  function loadCatalogue() {
    if (!catalogue) catalogue = capi("types/");
    return catalogue;
  }
  function typeTitle(types, type) {
    var found = types.find(function (t) {
      return t.type === type;
    });
    return found ? found.title : type;
  }

  function connectionsPage() {
    var table = document.querySelector("[data-connections]");
    var rowsNode = document.querySelector("[data-connection-rows]");
    var empty = document.querySelector("[data-connections-empty]");
    var loading = document.querySelector("[data-loading]");
    var types = [];
    var pollTimer = null;

    function row(conn) {
      var tr = el("tr");
      tr.dataset.connectionId = conn.id;
      tr.appendChild(h("td", {}, [
        h("a", { className: "cx-name", href: C.pages + conn.id + "/", text: conn.name }),
        h("div", { className: "muted cx-sub", text: typeTitle(types, conn.type) }),
      ]));
      var health = h("td", {}, [healthBadge(conn)]);
      if (conn.last_check_at) health.appendChild(h("div", { className: "muted cx-sub" }, [timeNode(conn.last_check_at)]));
      tr.appendChild(health);
      var run = conn.last_run;
      var runCell = el("td", "cx-last-run");
      if (run) {
        runCell.appendChild(runBadge(run.state));
        runCell.appendChild(h("div", { className: "muted cx-sub" }, [counts(run) + " · ", timeNode(run.finished_at || run.started_at || run.created_at)]));
      } else runCell.appendChild(el("span", "muted", T.never_run));
      tr.appendChild(runCell);
      var sched = h("td", {}, [el("span", "", scheduleText(conn))]);
      if (conn.next_sync_at && conn.enabled && conn.schedule !== "manual") sched.appendChild(h("div", { className: "muted cx-sub", text: L.fmt(T.next_sync, { when: relative(conn.next_sync_at) }) }));
      tr.appendChild(sched);
      tr.appendChild(h("td", {}, [el("span", "badge" + (conn.enabled ? " lc-badge-live" : ""), conn.enabled ? T.enabled : T.disabled)]));
      var sync = button(T.sync_now, "btn-sm", function () {
        sync.disabled = true;
        capi("connections/" + conn.id + "/sync/", { method: "POST", body: { full_refresh: false } }).then(
          function (_run, _x) {
            L.toast(T.sync_started, "success");
            load();
          },
          function (err) {
            sync.disabled = false;
            L.toast(err.message, "error");
          }
        );
      });
      sync.disabled = !!(run && LIVE[run.state]);
      tr.appendChild(h("td", { className: "col-actions" }, [h("div", { className: "row-actions" }, [
        sync,
        h("a", { className: "btn btn-sm", href: C.pages + conn.id + "/", text: T.open }),
      ])]));
      return tr;
    }
    function load() {
      return Promise.all([capi("connections/"), loadCatalogue()]).then(function (data) {
        types = data[1];
        var list = data[0];
        loading.hidden = true;
        rowsNode.replaceChildren.apply(rowsNode, list.map(row));
        table.hidden = list.length === 0;
        empty.hidden = list.length > 0;
        window.clearTimeout(pollTimer);
        if (list.some(function (c) {
          return c.last_run && LIVE[c.last_run.state];
        })) pollTimer = window.setTimeout(load, 3000);
      }, function (err) {
        loading.textContent = err.message;
      });
    }
    load();

    /* Add connection: catalogue, then the generated settings form. */
    var dialog = document.querySelector('[data-dialog="add"]');
    var form = dialog.querySelector("[data-add-form]");
    var title = dialog.querySelector("[data-add-title]");
    var cat = dialog.querySelector("[data-catalogue]");
    var stepCat = dialog.querySelector('[data-step="catalogue"]');
    var stepSet = dialog.querySelector('[data-step="settings"]');
    var back = dialog.querySelector("[data-add-back]");
    var save = dialog.querySelector("[data-add-save]");
    var chosen = null;
    var specCtl = null;
    var schedCtl = null;
    function showCatalogue() {
      chosen = null;
      title.textContent = T.choose_connector;
      stepCat.hidden = false;
      stepSet.hidden = true;
      back.hidden = true;
      save.hidden = true;
      testButton.hidden = true;
      testResult.hidden = true;
    }
    function choose(type) {
      chosen = type;
      clearErrors(form);
      title.textContent = type.title;
      dialog.querySelector("[data-add-description]").textContent = type.description;
      form.elements.name.value = type.title;
      specCtl = schemaForm(dialog.querySelector("[data-add-spec]"), type.spec, {}, false);
      schedCtl = type.push ? null : scheduleEditor(dialog.querySelector("[data-add-schedule]"), null);
      if (type.push) dialog.querySelector("[data-add-schedule]").replaceChildren();
      stepCat.hidden = true;
      stepSet.hidden = false;
      back.hidden = false;
      save.hidden = false;
      testButton.hidden = false;
      testResult.hidden = true;
      form.elements.name.focus();
    }
    function card(type) {
      var origin = type.origin === "built-in" ? T.built_in : L.fmt(T.plugin_from, { origin: type.origin });
      var node = h("button", { type: "button", className: "cx-type-card" }, [
        h("span", { className: "cx-type-head" }, [
          h("span", { className: "tile-icon tile-icon-sm", "aria-hidden": "true", text: (type.title || "?").charAt(0).toUpperCase() }),
          h("span", { className: "cx-type-title", text: type.title }),
        ]),
        h("span", { className: "cx-type-text", text: type.description }),
        h("span", { className: "cx-type-meta" }, [
          el("span", "badge" + (type.origin === "built-in" ? "" : " cx-badge-plugin"), origin),
          type.push ? el("span", "badge", T.push_connector) : null,
        ]),
      ]);
      node.dataset.type = type.type;
      node.addEventListener("click", function () {
        choose(type);
      });
      return node;
    }
    function open() {
      showCatalogue();
      cat.replaceChildren(el("div", "lc-loading", T.loading));
      dialog.showModal();
      loadCatalogue().then(function (list) {
        cat.removeAttribute("aria-busy");
        cat.replaceChildren.apply(cat, list.map(card));
      }, function (err) {
        cat.replaceChildren(el("p", "field-error", err.message));
      });
    }
    document.querySelectorAll('[data-action="add-connection"]').forEach(function (b) {
      b.addEventListener("click", open);
    });
    back.addEventListener("click", showCatalogue);
    /* "Test connection" saves the settings first (a check needs a stored connection), then
     * checks; fixing a field and testing again updates the same connection. */
    var testButton = dialog.querySelector("[data-add-test]");
    var testResult = dialog.querySelector("[data-add-test-result]");
    var createdId = null;
    var issuedShown = false;
    var issuedBox = dialog.querySelector("[data-add-issued]");
    function saveDraft() {
      clearErrors(form);
      testResult.hidden = true;
      var collected = specCtl.collect();
      if (Object.keys(collected.errors).length) {
        specCtl.setErrors(collected.errors);
        return Promise.reject(null);
      }
      specCtl.setErrors({});
      var body = { name: form.elements.name.value.trim(), config: collected.value };
      if (schedCtl) Object.assign(body, schedCtl.get());
      var request = createdId
        ? capi("connections/" + createdId + "/", { method: "PATCH", body: body })
        : capi("connections/", { method: "POST", body: Object.assign({ type: chosen.type }, body) });
      return request.then(function (conn) {
        createdId = conn.id;
        back.hidden = true; /* the draft connection now has this type */
        if (conn.issued && Object.keys(conn.issued).length) {
          /* shown once: keep the dialog open until the user has copied it */
          issuedShown = true;
          issuedBox.replaceChildren(issuedBlock(conn.issued, conn.id));
          issuedBox.hidden = false;
          save.textContent = T.open_connection;
          throw null;
        }
        return conn;
      }, function (err) {
        var parts = splitErrors(err.fields, "config");
        var rest = specCtl.setErrors(parts.inner);
        Object.keys(parts.outer).forEach(function (path) {
          if (!showFormError(form, path, parts.outer[path])) rest = rest.concat(parts.outer[path]);
        });
        showFormError(form, "_form", rest.length ? rest : Object.keys(err.fields).length ? [] : [err.message]);
        throw null;
      });
    }
    testButton.addEventListener("click", function () {
      testButton.disabled = save.disabled = true;
      saveDraft().then(function (conn) {
        return capi("connections/" + conn.id + "/check/", { method: "POST" }).then(function (checked) {
          testResult.replaceChildren(healthBadge(checked), " " + (checked.last_check_message || ""));
          testResult.hidden = false;
        }, function (err) {
          testResult.replaceChildren(el("span", "field-error", err.message));
          testResult.hidden = false;
        });
      }).catch(function () {}).then(function () {
        testButton.disabled = save.disabled = false;
      });
    });
    dialog.addEventListener("close", function () {
      if (createdId) load();
      createdId = null;
      issuedShown = false;
      issuedBox.replaceChildren();
      issuedBox.hidden = true;
      save.textContent = T.create_connection;
    });
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.value === "cancel") return;
      event.preventDefault();
      if (!chosen) return;
      save.disabled = testButton.disabled = true;
      saveDraft().then(function (conn) {
        L.toast(T.connection_created, "success");
        window.location.href = C.pages + conn.id + "/";
      }, function () {
        save.disabled = testButton.disabled = false;
      });
    });
  }

  /* --- One connection ----------------------------------------------------------------- */
  function connectionPage() {
    var id = C.connection_id;
    var state = { conn: null, type: null, streams: [], destinations: [], apps: null, runs: [], next: null, liveRun: null, forms: {} };
    var live = document.querySelector("[data-live]");
    var pollTimer = null;

    function paintHead() {
      var conn = state.conn;
      document.querySelector("[data-connection-name]").textContent = conn.name;
      document.querySelector("[data-crumb-name]").textContent = conn.name;
      var meta = document.querySelector("[data-connection-meta]");
      var bits = [el("span", "muted", state.type ? state.type.title : conn.type), healthBadge(conn)];
      if (conn.last_check_at) bits.push(h("span", { className: "muted cx-check-msg" }, [L.fmt(T.checked_at, { when: relative(conn.last_check_at) }), conn.last_check_message ? " — " + conn.last_check_message : ""]));
      bits.push(el("span", "muted", state.type && state.type.push ? T.push_connector : scheduleText(conn)));
      meta.replaceChildren.apply(meta, bits);
    }

    /* Settings */
    var settings = document.querySelector("[data-settings]");
    var specCtl = null;
    var schedCtl = null;
    function paintSettings() {
      settings.elements.name.value = state.conn.name;
      settings.querySelector("[data-enabled]").checked = state.conn.enabled;
      specCtl = schemaForm(settings.querySelector("[data-settings-spec]"), state.type ? state.type.spec : {}, state.conn.config, true);
      schedCtl = state.type && state.type.push ? null : scheduleEditor(settings.querySelector("[data-settings-schedule]"), state.conn);
    }
    settings.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(settings);
      var collected = specCtl.collect();
      if (Object.keys(collected.errors).length) {
        specCtl.setErrors(collected.errors);
        return;
      }
      specCtl.setErrors({});
      var body = { name: settings.elements.name.value.trim(), config: collected.value, enabled: settings.querySelector("[data-enabled]").checked };
      if (schedCtl) Object.assign(body, schedCtl.get());
      var status = settings.querySelector("[data-settings-status]");
      status.textContent = T.saving;
      capi("connections/" + id + "/", { method: "PATCH", body: body }).then(function (conn) {
        state.conn = conn;
        status.textContent = T.saved;
        L.toast(T.connection_saved, "success");
        paintHead();
        paintSettings();
      }, function (err) {
        status.textContent = "";
        var parts = splitErrors(err.fields, "config");
        var rest = specCtl.setErrors(parts.inner);
        Object.keys(parts.outer).forEach(function (path) {
          if (!showFormError(settings, path, parts.outer[path])) rest = rest.concat(parts.outer[path]);
        });
        showFormError(settings, "_form", rest.length ? rest : Object.keys(err.fields).length ? [] : [err.message]);
      });
    });
    settings.querySelector('[data-action="delete"]').addEventListener("click", function () {
      L.confirm(T.confirm_delete_connection).then(function (yes) {
        if (!yes) return;
        capi("connections/" + id + "/", { method: "DELETE" }).then(function () {
          window.location.href = C.pages;
        }, function (err) {
          L.toast(err.message, "error");
        });
      });
    });

    /* Test connection */
    var checkButton = document.querySelector('[data-action="check"]');
    checkButton.addEventListener("click", function () {
      checkButton.disabled = true;
      var label = checkButton.lastChild.textContent;
      checkButton.lastChild.textContent = T.testing;
      capi("connections/" + id + "/check/", { method: "POST" }).then(function (conn) {
        state.conn = conn;
        paintHead();
        L.toast(conn.last_check_message || (conn.last_check_ok ? T.health_ok : T.health_failed), conn.last_check_ok ? "success" : "error");
      }, function (err) {
        L.toast(err.message, "error");
        load();
      }).then(function () {
        checkButton.disabled = false;
        checkButton.lastChild.textContent = label;
      });
    });

    /* Runs */
    var runsTable = document.querySelector("[data-runs]");
    var runRows = document.querySelector("[data-run-rows]");
    var runsEmpty = document.querySelector("[data-runs-empty]");
    var runsMore = document.querySelector("[data-runs-more]");
    function errorsBlock(run) {
      var box = el("div", "cx-run-errors");
      if (run.error_message) box.appendChild(h("p", { className: "cx-error-text" }, [L.icon("alert"), " " + run.error_message + (run.error_kind ? " (" + run.error_kind + ")" : "")]));
      var errors = run.record_errors || [];
      if (errors.length) {
        var details = h("details", { className: "disclosure cx-record-errors" }, [h("summary", { className: "disclosure-summary", text: L.fmt(T.record_errors, { n: run.failed_count || errors.length }) })]);
        var list = el("ul", "cx-error-list");
        errors.forEach(function (e) {
          var fields = e.fields || {};
          var text = Object.keys(fields).map(function (k) {
            return k + ": " + [].concat(fields[k]).join(" ");
          }).join("; ") || e.message || "";
          list.appendChild(h("li", {}, [el("span", "mono", (e.stream ? e.stream + " " : "") + "#" + e.external_id), " " + text]));
        });
        details.appendChild(list);
        box.appendChild(details);
      }
      return box;
    }
    function runRow(run) {
      var tr = el("tr");
      tr.dataset.runId = run.id;
      var stateCell = h("td", {}, [runBadge(run.state)]);
      if (run.full_refresh) stateCell.appendChild(el("span", "badge cx-badge-small", T.full_refresh));
      tr.appendChild(stateCell);
      tr.appendChild(h("td", {}, [timeNode(run.started_at || run.created_at)]));
      tr.appendChild(h("td", { text: run.duration_seconds !== null && run.duration_seconds !== undefined ? span(run.duration_seconds) : "—" }));
      var result = h("td", {}, [el("span", "cx-counts", counts(run))]);
      if (run.error_message || (run.record_errors && run.record_errors.length)) result.appendChild(errorsBlock(run));
      tr.appendChild(result);
      tr.appendChild(h("td", { className: "muted", text: (C.triggers && C.triggers[run.trigger]) || run.trigger || "" }));
      return tr;
    }
    function paintRuns() {
      runRows.replaceChildren.apply(runRows, state.runs.map(runRow));
      runsTable.hidden = state.runs.length === 0;
      runsEmpty.hidden = state.runs.length > 0;
      runsMore.hidden = !state.next;
    }
    function loadRuns() {
      return capi("runs/?page_size=200&connection=" + id).then(function (page) {
        /* newest first, whatever order the API pages in */
        state.runs = L.results(page).slice().sort(function (a, b) {
          return b.id - a.id;
        });
        state.next = page.next;
        paintRuns();
        var active = state.runs.find(function (r) {
          return LIVE[r.state];
        });
        if (active) watch(active);
        else if (!state.liveRun) live.hidden = true;
      });
    }
    runsMore.querySelector("button").addEventListener("click", function () {
      if (!state.next) return;
      L.api(state.next).then(function (page) {
        state.runs = state.runs.concat(L.results(page));
        state.next = page.next;
        paintRuns();
      });
    });

    /* The live run: a progress bar, per-stream counts, retry info, cancel. */
    function paintLive(run) {
      live.hidden = false;
      live.dataset.state = run.state;
      var streams = Object.keys(run.progress || {});
      var expected = Math.max(streams.length, state.destinations.filter(function (d) {
        return d.enabled !== false;
      }).length, 1);
      var done = streams.filter(function (s) {
        return run.progress[s].done;
      }).length;
      var finished = !LIVE[run.state];
      var percent = finished ? 100 : Math.min(95, Math.round((done / expected) * 100 + (run.read_count ? 5 : 0)));
      var bar = h("div", { className: "cx-progress" + (finished ? "" : " is-live") + " cx-progress-" + run.state, role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(percent), "aria-label": T["run_" + run.state] || run.state });
      var fill = el("div", "cx-progress-fill");
      fill.style.width = percent + "%";
      bar.appendChild(fill);
      var head = h("div", { className: "cx-live-head" }, [
        runBadge(run.state),
        el("span", "cx-counts", counts(run)),
        el("span", "cx-live-spacer"),
      ]);
      if (!finished) {
        var cancel = button(T.cancel_run, "btn-sm btn-ghost-danger", function () {
          cancel.disabled = true;
          capi("runs/" + run.id + "/cancel/", { method: "POST" }).then(function (r) {
            L.toast(T.cancel_requested);
            paintLive(r);
          }, function (err) {
            cancel.disabled = false;
            L.toast(err.message, "error");
          });
        });
        if (run.cancel_requested) cancel.disabled = true;
        head.appendChild(cancel);
      }
      var children = [head, bar];
      if (run.state === "retrying") {
        var info = run.next_retry_at && new Date(run.next_retry_at).getTime() > Date.now()
          ? L.fmt(T.retrying_in, { when: span((new Date(run.next_retry_at).getTime() - Date.now()) / 1000), attempt: run.attempt + 1, max: C.max_attempts })
          : L.fmt(T.retrying_soon, { attempt: run.attempt + 1, max: C.max_attempts });
        children.push(h("p", { className: "cx-retry" }, [L.icon("clock"), " " + info]));
      }
      if (streams.length) {
        var list = el("ul", "cx-stream-progress");
        streams.forEach(function (name) {
          var p = run.progress[name];
          list.appendChild(h("li", { className: p.done ? "is-done" : "" }, [
            el("span", "mono", name),
            el("span", "", L.fmt(T.read_n, { n: p.read || 0 })),
            p.done ? h("span", { className: "cx-done" }, [L.icon("check"), " " + T.stream_done]) : null,
          ]));
        });
        children.push(list);
      }
      if (run.error_message || (run.record_errors && run.record_errors.length)) children.push(errorsBlock(run));
      live.replaceChildren.apply(live, [h("div", { className: "card-body" }, children)]);
    }
    function watch(run) {
      state.liveRun = run;
      paintLive(run);
      window.clearTimeout(pollTimer);
      if (!LIVE[run.state]) return;
      pollTimer = window.setTimeout(function () {
        capi("runs/" + run.id + "/").then(function (fresh) {
          if (LIVE[fresh.state]) watch(fresh);
          else {
            state.liveRun = fresh;
            paintLive(fresh);
            loadRuns();
            loadDestinations();
            capi("connections/" + id + "/").then(function (conn) {
              state.conn = conn;
              paintHead();
            });
          }
        }, function () {
          pollTimer = window.setTimeout(function () {
            watch(run);
          }, 3000);
        });
      }, 1000);
    }
    function startSync(full) {
      return function () {
        capi("connections/" + id + "/sync/", { method: "POST", body: { full_refresh: full } }).then(function (run) {
          L.toast(T.sync_started, "success");
          watch(run);
          loadRuns();
        }, function (err) {
          L.toast(err.message, "error");
        });
      };
    }
    document.querySelector('[data-action="sync"]').addEventListener("click", startSync(false));
    document.querySelector('[data-action="full-refresh"]').addEventListener("click", startSync(true));

    /* Streams and destinations */
    var streamsBox = document.querySelector("[data-streams]");
    function loadApps() {
      if (!state.apps) state.apps = L.api("apps/").then(L.results);
      return state.apps;
    }
    function formInfo(formId) {
      if (!state.forms[formId]) state.forms[formId] = L.api("forms/" + formId + "/");
      return state.forms[formId];
    }
    function destinationFor(stream) {
      return state.destinations.find(function (d) {
        return d.stream === stream.name;
      });
    }
    var COMPATIBLE = {
      string: ["text", "long_text", "email", "phone", "scanned_code", "single_select"],
      integer: ["number", "money", "serial"],
      number: ["number", "money"],
      boolean: ["checkbox"],
      date: ["date", "text"],
      datetime: ["datetime", "date", "text"],
    };
    function appPicker(id) {
      var select = h("select", { id: id });
      select.appendChild(h("option", { value: "", text: T.pick_app }));
      loadApps().then(function (apps) {
        apps.forEach(function (app) {
          select.appendChild(h("option", { value: String(app.id), text: app.name }));
        });
        if (!apps.length) select.replaceChildren(h("option", { value: "", text: T.no_apps_to_pick }));
      });
      return select;
    }

    function createFormPanel(stream, done) {
      var base = nextId("cx-cf");
      var app = appPicker(base + "-app");
      var name = h("input", { type: "text", id: base + "-name", maxLength: 80, placeholder: state.conn.name + ": " + stream.title });
      var error = h("p", { className: "field-error", role: "alert", hidden: true });
      var create = h("button", { type: "submit", className: "btn btn-primary btn-sm", text: T.create });
      var form = h("form", { className: "cx-panel", novalidate: true }, [
        h("p", { className: "help", text: T.create_form_help }),
        h("div", { className: "form-row" }, [
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-app", text: T.app }), app]),
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-name", text: T.form_name_optional }), name]),
        ]),
        error,
        h("div", { className: "cx-panel-actions" }, [create]),
      ]);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        error.hidden = true;
        if (!app.value) {
          error.textContent = T.pick_app;
          error.hidden = false;
          app.focus();
          return;
        }
        create.disabled = true;
        capi("connections/" + id + "/form-from-stream/", { method: "POST", body: { stream: stream.name, app: Number(app.value), name: name.value.trim() } }).then(function () {
          L.toast(T.form_created_from_stream, "success");
          done();
        }, function (err) {
          create.disabled = false;
          error.textContent = Object.keys(err.fields).map(function (k) {
            return [].concat(err.fields[k]).join(" ");
          }).filter(Boolean).join(" ") || err.message;
          error.hidden = false;
        });
      });
      return form;
    }

    function mapPanel(stream, dest, done) {
      var base = nextId("cx-map");
      var app = appPicker(base + "-app");
      var formSelect = h("select", { id: base + "-form", disabled: true }, [h("option", { value: "", text: T.pick_form })]);
      var table = el("div", "cx-mapping");
      var error = h("p", { className: "field-error", role: "alert", hidden: true });
      var save = h("button", { type: "submit", className: "btn btn-primary btn-sm", text: T.save, disabled: true });
      var forms = [];
      var selects = {};
      function paintMapping(form) {
        table.replaceChildren();
        selects = {};
        var fields = (form && form.published_version && form.published_version.fields) || [];
        if (!fields.length) return;
        table.appendChild(h("p", { className: "help", text: T.mapping_help }));
        var mapping = (dest && dest.form_id === form.id && dest.mapping) || {};
        fields.forEach(function (field) {
          if (L.READ_ONLY[field.type]) return;
          var sid = nextId("cx-m");
          var select = h("select", { id: sid });
          select.appendChild(h("option", { value: "", text: T.not_mapped }));
          stream.fields.forEach(function (sf) {
            var ok = (COMPATIBLE[sf.type] || []).indexOf(field.type) !== -1;
            select.appendChild(h("option", { value: sf.name, text: (sf.title || sf.name) + " (" + sf.type + ")" + (ok ? " ✓" : "") }));
          });
          var guess = mapping[field.key] || (stream.fields.find(function (sf) {
            return sf.name === field.key || sf.name === field.key.replace(/^ext_/, "") || (sf.title || "").toLowerCase() === String(field.label).toLowerCase();
          }) || {}).name || "";
          select.value = guess;
          var hint = el("span", "cx-hint");
          function paintHint() {
            var sf = stream.fields.find(function (f) {
              return f.name === select.value;
            });
            if (!sf) {
              hint.textContent = "";
              hint.className = "cx-hint";
            } else if ((COMPATIBLE[sf.type] || []).indexOf(field.type) !== -1) {
              hint.textContent = T.type_hint_ok;
              hint.className = "cx-hint is-ok";
            } else {
              hint.textContent = L.fmt(T.type_hint_warn, { from: sf.type, to: field.type });
              hint.className = "cx-hint is-warn";
            }
          }
          select.addEventListener("change", paintHint);
          paintHint();
          var err = h("p", { className: "field-error", hidden: true });
          selects[field.key] = { select: select, err: err };
          table.appendChild(h("div", { className: "cx-map-row", "data-key": field.key }, [
            h("label", { for: sid, className: "cx-map-label" }, [field.label, el("span", "muted mono", " " + field.type)]),
            el("span", "cx-map-arrow", "←"),
            h("div", {}, [select, hint, err]),
          ]));
        });
        save.disabled = false;
      }
      app.addEventListener("change", function () {
        formSelect.replaceChildren(h("option", { value: "", text: T.pick_form }));
        formSelect.disabled = true;
        table.replaceChildren();
        save.disabled = true;
        if (!app.value) return;
        L.api("forms/?app=" + app.value).then(function (data) {
          forms = L.results(data).filter(function (f) {
            return f.published_version;
          });
          forms.forEach(function (f) {
            formSelect.appendChild(h("option", { value: String(f.id), text: f.name }));
          });
          formSelect.disabled = false;
        });
      });
      formSelect.addEventListener("change", function () {
        paintMapping(forms.find(function (f) {
          return String(f.id) === formSelect.value;
        }));
      });
      var form = h("form", { className: "cx-panel", novalidate: true }, [
        h("div", { className: "form-row" }, [
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-app", text: T.app }), app]),
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-form", text: T.form }), formSelect]),
        ]),
        table,
        error,
        h("div", { className: "cx-panel-actions" }, [save]),
      ]);
      if (dest && dest.form_id) {
        formInfo(dest.form_id).then(function (f) {
          loadApps().then(function () {
            app.value = String(f.app_id);
            forms = [f];
            formSelect.replaceChildren(h("option", { value: String(f.id), text: f.name }));
            formSelect.disabled = false;
            paintMapping(f);
            L.api("forms/?app=" + f.app_id).then(function (data) {
              forms = L.results(data).filter(function (x) {
                return x.published_version;
              });
              formSelect.replaceChildren(h("option", { value: "", text: T.pick_form }));
              forms.forEach(function (x) {
                formSelect.appendChild(h("option", { value: String(x.id), text: x.name }));
              });
              formSelect.value = String(f.id);
            });
          });
        });
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        error.hidden = true;
        var mapping = {};
        Object.keys(selects).forEach(function (key) {
          selects[key].err.hidden = true;
          if (selects[key].select.value) mapping[key] = selects[key].select.value;
        });
        var body = { stream: stream.name, form: Number(formSelect.value), mapping: mapping };
        if (dest && dest.conversation_id) {
          body.conversation = dest.conversation_id;
          body.card_on = dest.card_on;
          body.card_title = dest.card_title;
          body.card_fields = dest.card_fields;
        }
        save.disabled = true;
        capi("connections/" + id + "/destinations/", { method: "POST", body: body }).then(function () {
          L.toast(T.destination_saved, "success");
          done();
        }, function (err) {
          save.disabled = false;
          var rest = [];
          Object.keys(err.fields).forEach(function (path) {
            var key = path.replace(/^mapping\./, "");
            if (path.indexOf("mapping.") === 0 && selects[key]) {
              selects[key].err.textContent = [].concat(err.fields[path]).join(" ");
              selects[key].err.hidden = false;
            } else rest = rest.concat(err.fields[path]);
          });
          error.textContent = rest.filter(Boolean).join(" ") || err.message;
          error.hidden = false;
        });
      });
      return form;
    }

    var conversations = null;
    function cardsPanel(stream, dest, done) {
      var base = nextId("cx-card");
      var conv = h("select", { id: base + "-conv" }, [h("option", { value: "", text: T.pick_conversation })]);
      if (!conversations) conversations = L.api("/api/v1/orgs/" + C.org_id + "/conversations/").then(L.results, function () {
        return [];
      });
      conversations.then(function (list) {
        list.forEach(function (item) {
          var c = item.conversation || item;
          if (c.kind === "direct" || c.kind === "notice") return;
          conv.appendChild(h("option", { value: String(c.id), text: item.title || c.name || "#" + c.id }));
        });
        if (dest.conversation_id) conv.value = String(dest.conversation_id);
      });
      var when = h("select", { id: base + "-when" }, ["created", "changed", "never"].map(function (k) {
        return h("option", { value: k, text: T["card_on_" + k] });
      }));
      when.value = dest.card_on && dest.card_on !== "never" ? dest.card_on : "created";
      var titleInput = h("input", { type: "text", id: base + "-title", maxLength: 200, value: dest.card_title || "", placeholder: "{name}", "aria-describedby": base + "-title-help" });
      var checks = el("div", "lc-checks");
      stream.fields.forEach(function (f) {
        var box = h("input", { type: "checkbox", value: f.name });
        box.checked = (dest.card_fields || []).indexOf(f.name) !== -1;
        checks.appendChild(h("label", { className: "check" }, [box, " " + (f.title || f.name)]));
      });
      var error = h("p", { className: "field-error", role: "alert", hidden: true });
      var save = h("button", { type: "submit", className: "btn btn-sm btn-primary", text: T.save_cards });
      var form = h("form", { className: "cx-panel", novalidate: true }, [
        h("p", { className: "help", text: T.chat_cards_help }),
        h("div", { className: "form-row" }, [
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-conv", text: T.conversation }), conv]),
          h("div", { className: "field" }, [h("label", { for: base + "-when", text: T.card_on }), when]),
        ]),
        h("div", { className: "field" }, [
          h("label", { for: base + "-title", text: T.card_title }),
          titleInput,
          h("p", { className: "help", id: base + "-title-help", text: T.card_title_help }),
        ]),
        h("fieldset", { className: "lc-fieldset" }, [h("legend", { text: T.card_fields }), checks]),
        error,
        h("div", { className: "cx-panel-actions" }, [save]),
      ]);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        error.hidden = true;
        var fields = Array.from(checks.querySelectorAll("input:checked")).map(function (b) {
          return b.value;
        });
        var body = {
          stream: stream.name,
          form: dest.form_id,
          mapping: dest.mapping,
          conversation: conv.value ? Number(conv.value) : null,
          card_on: conv.value ? when.value : "never",
          card_title: titleInput.value,
          card_fields: fields,
        };
        save.disabled = true;
        capi("connections/" + id + "/destinations/", { method: "POST", body: body }).then(function () {
          L.toast(T.destination_saved, "success");
          done();
        }, function (err) {
          save.disabled = false;
          error.textContent = Object.keys(err.fields).map(function (k) {
            return [].concat(err.fields[k]).join(" ");
          }).filter(Boolean).join(" ") || err.message;
          error.hidden = false;
        });
      });
      return form;
    }

    function streamCard(stream) {
      var dest = destinationFor(stream);
      var card = el("article", "card cx-stream");
      card.dataset.stream = stream.name;
      var headText = h("div", { className: "cx-stream-head-text" }, [
        h("h3", { className: "card-title", text: stream.title || stream.name }),
        h("p", { className: "muted cx-sub" }, [
          el("span", "mono", stream.name),
          " · " + L.fmt(T.n_fields, { n: stream.fields.length }) + " · ",
          el("span", "", stream.supports_incremental ? T.incremental : T.full_only),
        ]),
      ]);
      var head = h("div", { className: "card-head cx-stream-head" }, [headText]);
      card.appendChild(head);
      var body = el("div", "card-body");
      var panelHolder = el("div", "cx-panel-holder");
      function toggle(make, trigger) {
        var openNow = trigger.getAttribute("aria-expanded") === "true";
        card.querySelectorAll("[aria-expanded]").forEach(function (b) {
          b.setAttribute("aria-expanded", "false");
        });
        panelHolder.replaceChildren();
        if (openNow) return;
        trigger.setAttribute("aria-expanded", "true");
        panelHolder.appendChild(make());
        var first = panelHolder.querySelector("select, input");
        if (first) first.focus();
      }
      function refresh() {
        loadDestinations();
      }
      var buttons = el("div", "cx-stream-actions");
      if (dest && dest.form_id) {
        var formName = el("strong", "", "…");
        var target = h("p", { className: "cx-dest" }, [el("span", "muted", T.syncs_into + " "), formName]);
        formInfo(dest.form_id).then(function (f) {
          formName.textContent = f.name;
        }, function () {
          formName.textContent = "#" + dest.form_id;
        });
        if (dest.conversation_id && dest.card_on !== "never") target.appendChild(el("span", "badge cx-badge-small", T.chat_cards));
        body.appendChild(target);
        buttons.appendChild(h("a", { className: "btn btn-sm btn-primary", href: C.apps_pages + "forms/" + dest.form_id + "/records/", text: T.see_records }));
        var mapBtn = button(T.mapping, "btn-sm");
        mapBtn.setAttribute("aria-expanded", "false");
        mapBtn.addEventListener("click", function () {
          toggle(function () {
            return mapPanel(stream, dest, refresh);
          }, mapBtn);
        });
        buttons.appendChild(mapBtn);
        var cardsBtn = button(T.chat_cards, "btn-sm");
        cardsBtn.setAttribute("aria-expanded", "false");
        cardsBtn.addEventListener("click", function () {
          toggle(function () {
            return cardsPanel(stream, dest, refresh);
          }, cardsBtn);
        });
        buttons.appendChild(cardsBtn);
      } else {
        body.appendChild(el("p", "muted cx-dest", T.no_destination));
        var createBtn = button(T.create_form, "btn-sm btn-primary");
        createBtn.dataset.action = "create-form";
        createBtn.setAttribute("aria-expanded", "false");
        createBtn.addEventListener("click", function () {
          toggle(function () {
            return createFormPanel(stream, refresh);
          }, createBtn);
        });
        buttons.appendChild(createBtn);
        var mapExisting = button(T.map_form, "btn-sm");
        mapExisting.setAttribute("aria-expanded", "false");
        mapExisting.addEventListener("click", function () {
          toggle(function () {
            return mapPanel(stream, dest, refresh);
          }, mapExisting);
        });
        buttons.appendChild(mapExisting);
      }
      if (dest) {
        if (!dest.enabled) head.appendChild(el("span", "badge cx-badge-small", T.paused));
        var pauseBtn = button(dest.enabled ? T.pause : T.resume, "btn-sm");
        pauseBtn.dataset.action = "toggle-destination";
        pauseBtn.addEventListener("click", function () {
          pauseBtn.disabled = true;
          capi("destinations/" + dest.id + "/", { method: "PATCH", body: { enabled: !dest.enabled } }).then(function (saved) {
            L.toast(saved.enabled ? T.destination_resumed : T.destination_paused, "success");
            refresh();
          }, function (err) {
            pauseBtn.disabled = false;
            L.toast(err.message, "error");
          });
        });
        buttons.appendChild(pauseBtn);
        var removeBtn = button(T.remove_destination, "btn-sm btn-danger");
        removeBtn.dataset.action = "remove-destination";
        removeBtn.addEventListener("click", function () {
          L.confirm(T.confirm_remove_destination).then(function (yes) {
            if (!yes) return;
            capi("destinations/" + dest.id + "/", { method: "DELETE" }).then(function () {
              L.toast(T.destination_removed, "success");
              refresh();
            }, function (err) {
              L.toast(err.message, "error");
            });
          });
        });
        buttons.appendChild(removeBtn);
      }
      body.appendChild(buttons);
      body.appendChild(panelHolder);
      card.appendChild(body);
      return card;
    }
    function receivingCard() {
      var body = el("div", "card-body");
      body.appendChild(el("p", "help", T.webhook_help));
      state.streams.forEach(function (stream) {
        body.appendChild(el("p", "cx-label", stream.title || stream.name));
        body.appendChild(copyField(webhookUrl(id, stream.name), T.webhook_url));
      });
      var secretHolder = el("div", "");
      var rotate = button(T.rotate_secret, "btn-sm", function () {
        L.confirm(T.confirm_rotate).then(function (yes) {
          if (!yes) return;
          capi("connections/" + id + "/rotate-secret/", { method: "POST" }).then(function (issued) {
            secretHolder.replaceChildren(issuedBlock(issued, id));
          }, function (err) {
            L.toast(err.message, "error");
          });
        });
      });
      body.appendChild(secretHolder);
      body.appendChild(h("div", { className: "cx-panel-actions" }, [rotate]));
      return h("article", { className: "card cx-receiving" }, [
        h("div", { className: "card-head" }, [h("h3", { className: "card-title", text: T.receiving })]),
        body,
      ]);
    }
    function paintStreams() {
      streamsBox.removeAttribute("aria-busy");
      var cards = state.streams.map(streamCard);
      if (state.type && state.type.push) cards.unshift(receivingCard());
      if (!state.streams.length) cards.push(h("div", { className: "card" }, [el("p", "card-body muted", T.no_streams)]));
      streamsBox.replaceChildren.apply(streamsBox, cards);
    }
    function loadDestinations() {
      return capi("connections/" + id + "/destinations/").then(function (list) {
        state.destinations = L.results(list);
        paintStreams();
      });
    }
    function loadStreams() {
      return Promise.all([capi("connections/" + id + "/streams/"), capi("connections/" + id + "/destinations/")]).then(function (data) {
        state.streams = data[0];
        state.destinations = L.results(data[1]);
        paintStreams();
      }, function (err) {
        streamsBox.removeAttribute("aria-busy");
        var retry = button(T.retry, "btn-sm", function () {
          loadStreams();
        });
        streamsBox.replaceChildren(h("div", { className: "card" }, [h("div", { className: "card-body" }, [
          h("p", { className: "field-error", text: L.fmt(T.streams_error, { message: err.message }) }),
          retry,
        ])]));
      });
    }

    /* Actions */
    var actionsForm = document.querySelector("[data-actions]");
    var pick = actionsForm.querySelector("[data-action-pick]");
    var paramsBox = actionsForm.querySelector("[data-action-params]");
    var resultBox = actionsForm.querySelector("[data-action-result]");
    var paramsCtl = null;
    function paintActions() {
      var actions = (state.type && state.type.actions) || [];
      if (!actions.length) {
        actionsForm.replaceChildren(el("p", "card-body muted", T.no_actions));
        return;
      }
      pick.replaceChildren.apply(pick, actions.map(function (a) {
        return h("option", { value: a.name, text: a.title || a.name });
      }));
      paintParams();
    }
    function paintParams() {
      var action = ((state.type && state.type.actions) || []).find(function (a) {
        return a.name === pick.value;
      });
      resultBox.hidden = true;
      paramsCtl = schemaForm(paramsBox, (action && action.params_schema) || {}, {}, false);
    }
    pick.addEventListener("change", paintParams);
    actionsForm.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(actionsForm);
      var collected = paramsCtl.collect();
      if (Object.keys(collected.errors).length) {
        paramsCtl.setErrors(collected.errors);
        return;
      }
      paramsCtl.setErrors({});
      var run = actionsForm.querySelector("[data-action-run]");
      run.disabled = true;
      run.textContent = T.running;
      capi("connections/" + id + "/actions/", { method: "POST", body: { action: pick.value, params: collected.value } }).then(function (result) {
        resultBox.textContent = JSON.stringify(result, null, 2);
        resultBox.hidden = false;
        L.toast(T.action_done, "success");
      }, function (err) {
        var parts = splitErrors(err.fields, "params");
        var rest = paramsCtl.setErrors(parts.inner);
        Object.keys(parts.outer).forEach(function (p) {
          rest = rest.concat(parts.outer[p]);
        });
        showFormError(actionsForm, "_action", rest.filter(Boolean).length ? rest : [err.message]);
      }).then(function () {
        run.disabled = false;
        run.textContent = T.run_action;
      });
    });

    function load() {
      return Promise.all([capi("connections/" + id + "/"), loadCatalogue()]).then(function (data) {
        state.conn = data[0];
        state.type = data[1].find(function (t) {
          return t.type === state.conn.type;
        }) || null;
        paintHead();
        paintSettings();
        paintActions();
        if (state.type && state.type.push) {
          runsEmpty.textContent = T.no_pushes;
          document.querySelector('[data-action="sync"]').hidden = true;
          document.querySelector('[data-action="full-refresh"]').hidden = true;
        }
      }, function (err) {
        L.toast(err.message, "error");
      });
    }
    load().then(function () {
      loadStreams();
      loadRuns();
    });
  }

  /* --- Scenarios ------------------------------------------------------------------------ */
  function scenariosPage() {
    var listNode = document.querySelector("[data-scenarios]");
    var empty = document.querySelector("[data-scenarios-empty]");
    var editor = document.querySelector("[data-editor]");
    var state = { scenarios: [], connections: [], types: [], current: null };

    function paintList() {
      listNode.removeAttribute("aria-busy");
      listNode.replaceChildren.apply(listNode, state.scenarios.map(function (s) {
        var link = h("button", { type: "button", className: "cx-side-item" + (state.current && state.current.id === s.id ? " is-active" : "") }, [
          el("span", "lc-list-title", s.name),
          el("span", "muted mono cx-sub", s.slug),
        ]);
        link.addEventListener("click", function () {
          edit(s);
        });
        return h("li", {}, [link]);
      }));
      empty.hidden = state.scenarios.length > 0;
    }
    function load() {
      return capi("scenarios/").then(function (list) {
        state.scenarios = list;
        paintList();
      });
    }
    function actionsOf(connectionId) {
      var conn = state.connections.find(function (c) {
        return c.id === connectionId;
      });
      var type = conn && state.types.find(function (t) {
        return t.type === conn.type;
      });
      return (type && type.actions) || [];
    }
    function textArea(id, value, rows) {
      var node = h("textarea", { id: id, rows: rows || 4, className: "mono cx-code", spellcheck: "false" });
      node.value = value === undefined ? "" : JSON.stringify(value, null, 2);
      return node;
    }
    function jsonField(label, id, value, rows, help) {
      var area = textArea(id, value, rows);
      var err = h("p", { className: "field-error", id: id + "-error", hidden: true });
      area.setAttribute("aria-describedby", (help ? id + "-help " : "") + id + "-error");
      area.addEventListener("input", function () {
        var parsed = parseJSON(area.value, undefined);
        err.textContent = parsed.error || "";
        err.hidden = !parsed.error;
      });
      return { area: area, err: err, node: h("div", { className: "field" }, [h("label", { for: id, text: label }), area, help ? h("p", { className: "help", id: id + "-help", text: help }) : null, err]) };
    }
    function stepRow(step, rowsBox, rows) {
      var base = nextId("cx-step");
      var idInput = h("input", { type: "text", id: base + "-id", maxLength: 40, value: step.id || "", className: "mono" });
      var conn = h("select", { id: base + "-conn" }, [h("option", { value: "", text: T.pick_connection })]);
      state.connections.forEach(function (c) {
        conn.appendChild(h("option", { value: String(c.id), text: c.name }));
      });
      if (step.connection) conn.value = String(step.connection);
      var action = h("select", { id: base + "-action" });
      function paintActions() {
        action.replaceChildren(h("option", { value: "", text: T.pick_action }));
        actionsOf(Number(conn.value)).forEach(function (a) {
          action.appendChild(h("option", { value: a.name, text: a.title || a.name }));
        });
      }
      paintActions();
      if (step.action) action.value = step.action;
      conn.addEventListener("change", paintActions);
      var params = jsonField(T.params_json, base + "-params", step.params || {}, 3, T.params_hint);
      var err = h("p", { className: "field-error", hidden: true });
      var row = { get: null, node: null, err: err, params: params };
      var remove = h("button", { type: "button", className: "btn btn-sm btn-ghost-danger", text: T.remove });
      var node = h("div", { className: "cx-step" }, [
        h("div", { className: "form-row" }, [
          h("div", { className: "field cx-step-id" }, [h("label", { for: base + "-id", text: T.step_id }), idInput]),
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-conn", text: T.connection }), conn]),
          h("div", { className: "field lc-grow" }, [h("label", { for: base + "-action", text: T.action }), action]),
          h("div", { className: "cx-step-remove" }, [remove]),
        ]),
        params.node,
        err,
      ]);
      row.node = node;
      row.get = function () {
        var parsed = parseJSON(params.area.value, {});
        return { parsed: parsed, value: { id: idInput.value.trim(), connection: conn.value ? Number(conn.value) : null, action: action.value, params: parsed.value } };
      };
      remove.addEventListener("click", function () {
        var index = rows.indexOf(row);
        if (index !== -1) rows.splice(index, 1);
        node.remove();
      });
      rowsBox.appendChild(node);
      rows.push(row);
      return row;
    }

    function edit(scenario) {
      state.current = scenario;
      paintList();
      var s = scenario || { name: "", slug: "", description: "", input_schema: { type: "object", properties: {} }, steps: [{ id: "step1", params: {} }], output: {}, timeout_seconds: 20 };
      var base = nextId("cx-sc");
      var form = h("form", { className: "card", novalidate: true });
      var body = el("div", "card-body");
      var name = h("input", { type: "text", id: base + "-name", maxLength: 200, value: s.name, name: "name" });
      var slug = h("input", { type: "text", id: base + "-slug", maxLength: 60, value: s.slug || "", className: "mono", name: "slug" });
      var timeout = h("input", { type: "number", id: base + "-timeout", min: "1", max: "60", value: String(s.timeout_seconds || 20) });
      body.appendChild(h("div", { className: "form-row" }, [
        h("div", { className: "field lc-grow" }, [h("label", { for: base + "-name", text: T.name }), name, h("p", { className: "field-error", "data-error": "name", hidden: true })]),
        h("div", { className: "field lc-grow" }, [h("label", { for: base + "-slug", text: T.slug }), slug, h("p", { className: "help", text: T.slug_help }), h("p", { className: "field-error", "data-error": "slug", hidden: true })]),
        h("div", { className: "field" }, [h("label", { for: base + "-timeout", text: T.timeout }), timeout, h("p", { className: "field-error", "data-error": "timeout_seconds", hidden: true })]),
      ]));
      if (scenario) {
        body.appendChild(h("p", { className: "cx-endpoint" }, [el("span", "badge", "POST"), " ", el("code", "mono", scenario.url)]));
      }
      var input = jsonField(T.input_schema, base + "-input", s.input_schema, 6);
      input.err.dataset.error = "input_schema";
      body.appendChild(input.node);
      body.appendChild(h("h3", { className: "form-section-title", text: T.steps }));
      var rowsBox = el("div", "cx-steps");
      var rows = [];
      (s.steps || []).forEach(function (step) {
        stepRow(step, rowsBox, rows);
      });
      body.appendChild(rowsBox);
      body.appendChild(h("p", { className: "field-error", "data-error": "steps", hidden: true }));
      body.appendChild(button("+ " + T.add_step, "btn-sm", function () {
        stepRow({ id: "step" + (rows.length + 1), params: {} }, rowsBox, rows);
      }));
      var output = jsonField(T.output_json, base + "-output", s.output || {}, 4, T.params_hint);
      output.err.dataset.error = "output";
      body.appendChild(output.node);
      body.appendChild(h("p", { className: "field-error", "data-error": "_form", role: "alert", hidden: true }));
      form.appendChild(body);
      var foot = h("div", { className: "card-foot card-foot-end" });
      if (scenario) {
        foot.appendChild(button(T.delete, "btn-ghost-danger", function () {
          L.confirm(T.confirm_delete_scenario).then(function (yes) {
            if (!yes) return;
            capi("scenarios/" + scenario.id + "/", { method: "DELETE" }).then(function () {
              L.toast(T.scenario_deleted);
              state.current = null;
              editor.replaceChildren(h("div", { className: "card" }, [el("p", "card-body muted", T.select_scenario)]));
              load();
            });
          });
        }));
      }
      foot.appendChild(h("button", { type: "submit", className: "btn btn-primary", text: T.save }));
      form.appendChild(foot);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        clearErrors(form);
        rows.forEach(function (r) {
          r.err.hidden = true;
        });
        var inputParsed = parseJSON(input.area.value, {});
        var outputParsed = parseJSON(output.area.value, {});
        var bad = false;
        if (inputParsed.error) {
          showFormError(form, "input_schema", [inputParsed.error]);
          bad = true;
        }
        if (outputParsed.error) {
          showFormError(form, "output", [outputParsed.error]);
          bad = true;
        }
        var steps = rows.map(function (r) {
          var got = r.get();
          if (got.parsed.error) {
            r.params.err.textContent = got.parsed.error;
            r.params.err.hidden = false;
            bad = true;
          }
          return got.value;
        });
        if (bad) return;
        var payload = { name: name.value.trim(), slug: slug.value.trim(), input_schema: inputParsed.value, steps: steps, output: outputParsed.value, timeout_seconds: Number(timeout.value) || 20 };
        var request = scenario ? capi("scenarios/" + scenario.id + "/", { method: "PUT", body: payload }) : capi("scenarios/", { method: "POST", body: payload });
        request.then(function (saved) {
          L.toast(T.scenario_saved, "success");
          load().then(function () {
            edit(saved);
          });
        }, function (err) {
          var rest = [];
          Object.keys(err.fields).forEach(function (path) {
            var m = /^steps\[(\d+)\]/.exec(path);
            if (m && rows[Number(m[1])]) {
              var r = rows[Number(m[1])];
              r.err.textContent = (r.err.hidden ? "" : r.err.textContent + " ") + [].concat(err.fields[path]).join(" ");
              r.err.hidden = false;
            } else if (!showFormError(form, path, err.fields[path])) rest = rest.concat(err.fields[path]);
          });
          showFormError(form, "_form", rest.filter(Boolean).length ? rest : Object.keys(err.fields).length ? [] : [err.message]);
        });
      });
      var children = [form];
      if (scenario) children.push(tokensCard(scenario), runsCard(scenario));
      editor.replaceChildren.apply(editor, children);
      name.focus();
    }

    function tokensCard(scenario) {
      var card = h("section", { className: "card" }, [h("div", { className: "card-head" }, [h("h2", { className: "card-title", text: T.tokens })])]);
      var body = el("div", "card-body");
      var list = el("ul", "list-plain cx-tokens");
      var secretBox = el("div", "cx-secret-once");
      secretBox.hidden = true;
      function paint(tokens) {
        list.replaceChildren.apply(list, tokens.map(function (t) {
          var meta = [t.revoked_at ? T.revoked : t.expires_at ? L.fmt(T.expires, { when: L.when(t.expires_at) }) : "", t.last_used_at ? L.fmt(T.last_used, { when: relative(t.last_used_at) }) : T.never_used].filter(Boolean).join(" · ");
          var item = h("li", {}, [el("strong", "", t.name || "—"), " ", el("span", "mono muted", t.prefix + "…"), el("span", "muted cx-sub", " " + meta)]);
          if (!t.revoked_at) {
            var revoke = button(T.revoke, "btn-sm btn-danger", function () {
              L.confirm(T.confirm_revoke_token).then(function (yes) {
                if (!yes) return;
                capi("scenario-tokens/" + t.id + "/revoke/", { method: "POST" }).then(function () {
                  L.toast(T.token_revoked, "success");
                  capi("scenarios/" + scenario.id + "/tokens/").then(paint);
                }, function (err) {
                  L.toast(err.message, "error");
                });
              });
            });
            revoke.dataset.action = "revoke-token";
            revoke.setAttribute("aria-label", T.revoke + " " + (t.name || t.prefix));
            item.appendChild(document.createTextNode(" "));
            item.appendChild(revoke);
          }
          return item;
        }));
        if (!tokens.length) list.appendChild(el("li", "muted", T.no_tokens));
      }
      capi("scenarios/" + scenario.id + "/tokens/").then(paint);
      var nameId = nextId("cx-tok");
      var nameInput = h("input", { type: "text", id: nameId, maxLength: 80, placeholder: T.token_name });
      var create = h("button", { type: "submit", className: "btn btn-sm", text: T.new_token });
      var form = h("form", { className: "lc-inline-create", novalidate: true }, [h("label", { for: nameId, className: "sr-only", text: T.token_name }), nameInput, create]);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        capi("scenarios/" + scenario.id + "/tokens/", { method: "POST", body: { name: nameInput.value.trim() || T.new_token } }).then(function (data) {
          nameInput.value = "";
          var code = h("input", { type: "text", readOnly: true, className: "mono", value: data.secret, "aria-label": T.tokens });
          var copy = button(T.copy, "btn-sm", function () {
            code.select();
            (navigator.clipboard ? navigator.clipboard.writeText(data.secret) : Promise.reject()).then(function () {
              L.toast(T.copied, "success");
            }, function () {
              document.execCommand("copy");
              L.toast(T.copied, "success");
            });
          });
          secretBox.replaceChildren(el("p", "alert alert-warn", T.token_created), h("div", { className: "copy-field" }, [code, copy]));
          secretBox.hidden = false;
          capi("scenarios/" + scenario.id + "/tokens/").then(paint);
        }, function (err) {
          L.toast(err.message, "error");
        });
      });
      body.appendChild(secretBox);
      body.appendChild(list);
      body.appendChild(form);
      card.appendChild(body);
      return card;
    }

    function runsCard(scenario) {
      var card = h("section", { className: "card" }, [h("div", { className: "card-head" }, [h("h2", { className: "card-title", text: T.recent_runs })])]);
      var body = el("div", "card-body");
      card.appendChild(body);
      capi("scenarios/" + scenario.id + "/runs/").then(function (runs) {
        if (!runs.length) {
          body.appendChild(el("p", "muted", T.no_scenario_runs));
          return;
        }
        var list = el("ul", "list-plain cx-scenario-runs");
        runs.slice(0, 20).forEach(function (r) {
          var item = h("li", {}, [
            el("span", "cx-run cx-run-" + (r.ok ? "succeeded" : "failed"), r.ok ? T.ok : T.error),
            " ",
            timeNode(r.at),
            el("span", "muted", " · " + r.duration_ms + " ms"),
          ]);
          if (r.error) {
            var details = h("details", { className: "disclosure" }, [h("summary", { className: "disclosure-summary", text: typeof r.error === "string" ? r.error : r.error.message || T.error })]);
            details.appendChild(h("pre", { className: "cx-json", text: JSON.stringify({ error: r.error, steps: r.steps }, null, 2) }));
            item.appendChild(details);
          }
          list.appendChild(item);
        });
        body.appendChild(list);
      });
      return card;
    }

    document.querySelector('[data-action="new-scenario"]').addEventListener("click", function () {
      edit(null);
    });
    Promise.all([load(), capi("connections/"), loadCatalogue()]).then(function (data) {
      state.connections = data[1];
      state.types = data[2];
    }, function (err) {
      L.toast(err.message, "error");
    });
  }

  if (C.page === "connections") connectionsPage();
  else if (C.page === "connection") connectionPage();
  else if (C.page === "scenarios") scenariosPage();
})();
