/* Tack low-code — the app dashboard.
 *
 * Configuration and translated strings come from json_script "dashboard-config". Each
 * report card loads reports/<id>/data/ and shows a table (the data, for everyone and
 * for screen readers) and a Chart.js chart above it (decoration, with an aria-label).
 * Managers create, edit and delete reports with the editor (session cookie +
 * X-CSRFToken). User text only ever goes through textContent.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("dashboard-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var T = config.strings;
  var LANG = document.documentElement.lang || "en";
  var reportsById = {};
  config.reports.forEach(function (report) {
    reportsById[report.id] = report;
  });
  var formsById = {};
  config.forms.forEach(function (form) {
    formsById[form.id] = form;
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function fmt(text, vars) {
    return String(text).replace(/%\((\w+)\)s/g, function (_m, key) {
      return vars && key in vars ? String(vars[key]) : "";
    });
  }
  function cookie(name) {
    var found = document.cookie.split("; ").find(function (part) {
      return part.indexOf(name + "=") === 0;
    });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(config.api + path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(
        function (data) {
          if (!response.ok) throw data.error || { message: T.load_error };
          return data;
        },
        function () {
          throw { message: T.load_error };
        }
      );
    });
  }

  /* --- Numbers and colours ------------------------------------------------------------- */
  function formatter(data) {
    var money = data.decimals === 2 && /^[A-Z]{3}$/.test(data.unit || "");
    var format = new Intl.NumberFormat(LANG, {
      minimumFractionDigits: money ? 2 : 0,
      maximumFractionDigits: data.decimals || 0,
    });
    return function (value) {
      if (value === null || value === undefined) return "–";
      return format.format(value);
    };
  }
  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }
  var PALETTE = ["#1f6feb", "#0f766e", "#d97706", "#c92a2a", "#7c3aed", "#0891b2",
    "#65a30d", "#db2777", "#475569", "#ca8a04", "#2563eb", "#059669"];

  /* --- Rendering one report ------------------------------------------------------------- */
  function renderTable(box, report, data, format) {
    box.replaceChildren();
    var table = el("table", "table dash-table");
    var caption = el("caption", "sr-only", report.name);
    table.appendChild(caption);
    var head = el("thead");
    var headRow = el("tr");
    var groupHead = el("th", "", data.columns[0].label);
    groupHead.scope = "col";
    var valueLabel = data.columns[1].label + (data.unit ? " (" + data.unit + ")" : "");
    var valueHead = el("th", "dash-num", valueLabel);
    valueHead.scope = "col";
    headRow.append(groupHead, valueHead);
    head.appendChild(headRow);
    var body = el("tbody");
    data.rows.forEach(function (row) {
      var tr = el("tr");
      var th = el("th", "", row.label);
      th.scope = "row";
      tr.append(th, el("td", "dash-num", format(row.value)));
      body.appendChild(tr);
    });
    var foot = el("tfoot");
    var footRow = el("tr");
    var footHead = el("th", "", T.total);
    footHead.scope = "row";
    footRow.append(footHead, el("td", "dash-num", format(data.total)));
    foot.appendChild(footRow);
    table.append(head, body, foot);
    box.appendChild(table);
    box.hidden = false;
  }

  var charts = {};
  function renderChart(card, report, data, format) {
    var box = card.querySelector("[data-chart-box]");
    if (charts[report.id]) {
      charts[report.id].destroy();
      delete charts[report.id];
    }
    if (report.chart === "table" || typeof window.Chart !== "function" || !data.rows.length) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    var canvas = box.querySelector("canvas");
    canvas.setAttribute("aria-label", fmt(T.chart_of, { name: report.name }));
    var brand = cssVar("--brand", PALETTE[0]);
    var labels = data.rows.map(function (row) {
      return row.label;
    });
    var values = data.rows.map(function (row) {
      return row.value;
    });
    var pie = report.chart === "pie";
    var dataset = {
      label: data.columns[1].label,
      data: values,
      backgroundColor: pie
        ? data.rows.map(function (row, index) {
            return row.color || PALETTE[index % PALETTE.length];
          })
        : report.chart === "line"
          ? brand + "22"
          : data.rows.map(function (row) {
              return row.color || brand;
            }),
      borderColor: pie ? "#ffffff" : brand,
      borderWidth: pie ? 2 : report.chart === "line" ? 2 : 0,
      fill: report.chart === "line",
      cubicInterpolationMode: "monotone",
      pointRadius: report.chart === "line" && values.length > 40 ? 0 : 3,
      borderRadius: report.chart === "bar" ? 4 : 0,
      maxBarThickness: 48,
    };
    charts[report.id] = new window.Chart(canvas, {
      type: report.chart,
      data: { labels: labels, datasets: [dataset] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
        plugins: {
          legend: { display: pie, position: "right" },
          tooltip: {
            callbacks: {
              label: function (context) {
                var value = format(context.parsed && typeof context.parsed === "object" ? context.parsed.y : context.parsed);
                return " " + value + (data.unit ? " " + data.unit : "");
              },
            },
          },
        },
        scales: pie
          ? {}
          : {
              x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 45 } },
              y: {
                beginAtZero: true,
                ticks: {
                  precision: data.decimals || 0,
                  callback: function (v) {
                    return format(v);
                  },
                },
              },
            },
      },
    });
  }

  function loadReport(card) {
    var report = reportsById[card.dataset.reportId];
    if (!report) return;
    var status = card.querySelector("[data-report-status]");
    status.hidden = false;
    status.textContent = T.loading;
    request("GET", "reports/" + report.id + "/data/").then(
      function (data) {
        var format = formatter(data);
        var meta = card.querySelector("[data-report-meta]");
        var form = formsById[report.form];
        meta.textContent = (form ? form.name + " · " : "") + fmt(T.records, { count: new Intl.NumberFormat(LANG).format(data.record_count) });
        if (!data.rows.length) {
          status.textContent = T.no_data;
          card.querySelector("[data-chart-box]").hidden = true;
          return;
        }
        status.hidden = true;
        renderTable(card.querySelector("[data-table-box]"), report, data, format);
        renderChart(card, report, data, format);
      },
      function (error) {
        status.replaceChildren(el("span", "", (error && error.message) || T.load_error), " ");
        var retry = el("button", "link-button", T.retry);
        retry.type = "button";
        retry.addEventListener("click", function () {
          loadReport(card);
        });
        status.appendChild(retry);
      }
    );
  }

  document.querySelectorAll("[data-report-id]").forEach(loadReport);

  /* --- Editor (managers) ----------------------------------------------------------------- */
  var editor = document.querySelector("[data-editor]");
  if (!editor || !config.can_manage) return;
  var formNode = editor.querySelector("[data-editor-form]");
  var fields = formNode.elements;
  var editing = null;

  function fillSelect(select, options, selected) {
    select.replaceChildren();
    options.forEach(function (option) {
      var node = el("option", "", option.label);
      node.value = option.key;
      node.selected = option.key === selected;
      select.appendChild(node);
    });
  }
  function syncFields(report) {
    var form = formsById[fields.form.value] || config.forms[0];
    if (!form) return;
    fillSelect(fields.group_by, form.group_fields, report ? report.group_by : fields.group_by.value);
    fillSelect(fields.value_field, form.value_fields, report ? report.value_field : fields.value_field.value);
    toggle();
  }
  function toggle() {
    var form = formsById[fields.form.value];
    var group = form && form.group_fields.find(function (f) {
      return f.key === fields.group_by.value;
    });
    editor.querySelector("[data-bucket-field]").hidden = !(group && group.is_date);
    editor.querySelector("[data-value-field]").hidden = fields.aggregate.value === "count";
  }
  function clearErrors() {
    editor.querySelectorAll(".field-error").forEach(function (node) {
      node.remove();
    });
    editor.querySelectorAll(".has-error").forEach(function (node) {
      node.classList.remove("has-error");
    });
    editor.querySelector("[data-editor-error]").hidden = true;
  }
  function openEditor(report) {
    editing = report || null;
    clearErrors();
    editor.querySelector("[data-editor-title]").textContent = report ? T.edit_report : T.new_report;
    fields.name.value = report ? report.name : "";
    fields.form.value = report ? String(report.form) : String(config.forms[0].id);
    fields.chart.value = report ? report.chart : "bar";
    fields.aggregate.value = report ? report.aggregate : "count";
    fields.date_bucket.value = (report && report.date_bucket) || "day";
    syncFields(report);
    editor.hidden = false;
    refreshPreview();
    editor.scrollIntoView({ block: "start", behavior: "smooth" });
    fields.name.focus({ preventScroll: true });
  }
  function showErrors(error) {
    var box = editor.querySelector("[data-editor-error]");
    box.textContent = (error && error.message) || T.save_error;
    box.hidden = false;
    Object.keys((error && error.fields) || {}).forEach(function (path) {
      var name = path.split(/[.[]/)[0];
      var field = editor.querySelector('[data-field="' + name + '"]');
      if (!field) return;
      field.classList.add("has-error");
      field.appendChild(el("p", "field-error", error.fields[path].join(" ")));
    });
  }

  function editorBody() {
    var group = formsById[fields.form.value].group_fields.find(function (f) {
      return f.key === fields.group_by.value;
    });
    return {
      app: config.app_id,
      form: Number(fields.form.value),
      name: fields.name.value,
      chart: fields.chart.value,
      group_by: fields.group_by.value,
      date_bucket: group && group.is_date ? fields.date_bucket.value : "",
      aggregate: fields.aggregate.value,
      value_field: fields.aggregate.value === "count" ? "" : fields.value_field.value,
      filters: editing ? editing.filters : [],
    };
  }

  /* Live preview: the same computation as a saved report, nothing stored. */
  var preview = editor.querySelector("[data-preview]");
  var previewTimer = null;
  var previewSeq = 0;
  function refreshPreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(function () {
      var body = editorBody();
      var seq = ++previewSeq;
      var status = preview.querySelector("[data-report-status]");
      status.hidden = false;
      status.textContent = T.loading;
      request("POST", "reports/preview/", body).then(
        function (data) {
          if (seq !== previewSeq) return;
          var format = formatter(data);
          var pseudo = { id: "preview", name: body.name || T.preview, chart: body.chart };
          if (!data.rows.length) {
            status.textContent = T.no_data;
            preview.querySelector("[data-chart-box]").hidden = true;
            preview.querySelector("[data-table-box]").hidden = true;
            return;
          }
          status.hidden = true;
          renderTable(preview.querySelector("[data-table-box]"), pseudo, data, format);
          renderChart(preview, pseudo, data, format);
        },
        function (error) {
          if (seq !== previewSeq) return;
          var fieldsErrors = (error && error.fields) || {};
          var first = Object.keys(fieldsErrors).filter(function (key) {
            return key !== "name";
          })[0];
          status.textContent = first ? fieldsErrors[first].join(" ") : (error && error.message) || T.load_error;
          preview.querySelector("[data-chart-box]").hidden = true;
          preview.querySelector("[data-table-box]").hidden = true;
        }
      );
    }, 250);
  }

  formNode.addEventListener("change", function (event) {
    if (event.target === fields.form) syncFields(null);
    else toggle();
    refreshPreview();
  });
  formNode.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var body = editorBody();
    var save = editor.querySelector("[data-editor-save]");
    save.disabled = true;
    request(editing ? "PUT" : "POST", "reports/" + (editing ? editing.id + "/" : ""), body).then(
      function () {
        window.location.reload();
      },
      function (error) {
        save.disabled = false;
        showErrors(error);
      }
    );
  });

  function confirmDelete(report) {
    var text = fmt(T.delete_confirm, { name: report.name });
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(text));
    }
    dialog.querySelector("[data-confirm-text]").textContent = text;
    return new Promise(function (resolve) {
      dialog.addEventListener(
        "close",
        function () {
          resolve(dialog.returnValue === "confirm");
        },
        { once: true }
      );
      dialog.showModal();
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var card = button.closest("[data-report-id]");
    var report = card && reportsById[card.dataset.reportId];
    switch (button.dataset.action) {
      case "new-report":
        openEditor(null);
        break;
      case "cancel-editor":
        editor.hidden = true;
        break;
      case "edit-report":
        if (report) openEditor(report);
        break;
      case "delete-report":
        if (!report) break;
        confirmDelete(report).then(function (ok) {
          if (!ok) return;
          request("DELETE", "reports/" + report.id + "/").then(
            function () {
              if (charts[report.id]) charts[report.id].destroy();
              card.remove();
              if (!document.querySelector("[data-report-id]")) {
                document.querySelector("[data-empty]").hidden = false;
              }
            },
            function (error) {
              window.alert((error && error.message) || T.load_error);
            }
          );
        });
        break;
    }
  });
})();
