/* Import dialog (lowcode/partials/import_dialog.html): upload, progress, error report. */
(function () {
  "use strict";

  function csrfToken(root) {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function setup(root) {
    if (root.dataset.lcImportReady) return;
    root.dataset.lcImportReady = "1";
    var api = root.dataset.api;
    var formId = root.dataset.form;
    var s = root.dataset;
    var dialog = root.querySelector("[data-lc-import-dialog]");
    var form = root.querySelector("[data-lc-import-form]");
    var submit = root.querySelector("[data-lc-import-submit]");
    var statusBox = root.querySelector("[data-lc-import-status]");
    var bar = root.querySelector("[data-lc-import-progress]");
    var stateText = root.querySelector("[data-lc-import-state]");
    var counts = root.querySelector("[data-lc-import-counts]");
    var message = root.querySelector("[data-lc-import-message]");
    var report = root.querySelector("[data-lc-import-report]");
    var rows = root.querySelector("[data-lc-import-rows]");
    var labels = {};
    var timer = null;

    root.querySelector('[data-col="row"]').textContent = s.strRow;
    root.querySelector('[data-col="field"]').textContent = s.strField;
    root.querySelector('[data-col="problem"]').textContent = s.strProblem;

    function request(method, path, body) {
      var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
      if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken(root);
      if (body) options.body = body;
      return fetch(api + path, options).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = (data && data.error) || {};
            throw new Error(error.message || s.strNetwork);
          }
          return data;
        });
      });
    }

    function loadLabels() {
      request("GET", "forms/" + formId + "/").then(function (data) {
        var fields = (data.published_version && data.published_version.fields) || [];
        fields.forEach(function (f) { labels[f.key] = f.label; });
      }).catch(function () {});
    }

    function label(path) {
      var key = path.split(/[.[]/)[0];
      return labels[key] ? labels[key] + (path.length > key.length ? " " + path.slice(key.length) : "") : path;
    }

    function cell(row, text) {
      var td = document.createElement("td");
      td.textContent = text;
      row.appendChild(td);
    }

    function show(job) {
      statusBox.hidden = false;
      var total = job.total_rows || 0;
      bar.max = Math.max(total, 1);
      bar.value = job.state === "done" ? bar.max : Math.min(job.processed_rows, bar.max);
      stateText.textContent = { pending: s.strPending, running: s.strRunning, done: s.strDone, failed: s.strFailed }[job.state] || job.state;
      counts.textContent = format(s.strCounts, {
        created: job.created_count, errors: job.error_count, processed: job.processed_rows, total: total,
      });
      message.textContent = job.message || "";
      rows.textContent = "";
      (job.errors || []).forEach(function (entry) {
        Object.keys(entry.fields).forEach(function (path) {
          entry.fields[path].forEach(function (problem) {
            var tr = document.createElement("tr");
            cell(tr, String(entry.row));
            cell(tr, label(path));
            cell(tr, problem);
            rows.appendChild(tr);
          });
        });
      });
      if (job.error_count > (job.errors || []).length) {
        var tr = document.createElement("tr");
        var td = document.createElement("td");
        td.colSpan = 3;
        td.className = "muted";
        td.textContent = s.strMore;
        tr.appendChild(td);
        rows.appendChild(tr);
      }
      report.hidden = !(job.errors && job.errors.length);
    }

    function finished(job) {
      submit.disabled = false;
      if (job.state === "done" && job.created_count > 0) {
        root.dispatchEvent(new CustomEvent("lc:imported", { bubbles: true, detail: job }));
      }
    }

    function poll(id) {
      timer = window.setTimeout(function () {
        request("GET", "imports/" + id + "/").then(function (job) {
          show(job);
          if (job.state === "pending" || job.state === "running") poll(id);
          else finished(job);
        }).catch(function (error) {
          stateText.textContent = error.message;
          poll(id);
        });
      }, 500);
    }

    root.querySelector("[data-lc-import-open]").addEventListener("click", function () {
      if (!Object.keys(labels).length) loadLabels();
      if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
    });
    root.querySelector("[data-lc-import-close]").addEventListener("click", function () {
      if (timer) window.clearTimeout(timer);
      submit.disabled = false;
      dialog.close ? dialog.close() : dialog.removeAttribute("open");
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = form.elements.file.files[0];
      statusBox.hidden = false;
      report.hidden = true;
      rows.textContent = "";
      counts.textContent = "";
      message.textContent = "";
      if (!file) { stateText.textContent = s.strChoose; return; }
      var body = new FormData();
      body.append("form", formId);
      body.append("file", file);
      submit.disabled = true;
      bar.removeAttribute("value");
      stateText.textContent = s.strUploading;
      request("POST", "imports/", body).then(function (job) {
        show(job);
        if (job.state === "pending" || job.state === "running") poll(job.id);
        else finished(job);
      }).catch(function (error) {
        submit.disabled = false;
        bar.value = 0;
        stateText.textContent = error.message;
      });
    });
  }

  function init() {
    document.querySelectorAll("[data-lc-import]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
