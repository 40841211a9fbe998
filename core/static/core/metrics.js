/* Tack — the usage console (organisation admins) and the platform dashboard (staff).
 *
 * Reads its settings from the "metrics-config" JSON script, fetches the daily series with
 * TackApi and draws it with Chart.js. The range buttons switch between 30 and 90 days.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("metrics-config");
  if (!configNode || !window.TackApi) return;
  var config = JSON.parse(configNode.textContent);
  var chart = null;
  var errorBox = document.querySelector("[data-metrics-error]");

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function isoDaysAgo(today, days) {
    var d = new Date(today + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - (days - 1));
    return d.toISOString().slice(0, 10);
  }

  function showError(message) {
    if (!errorBox) return;
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function draw(canvas, labels, datasets, scales) {
    if (!window.Chart) return;
    if (chart) chart.destroy();
    chart = new window.Chart(canvas, {
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: scales,
      },
    });
    canvas.setAttribute("data-rendered", "true");
  }

  function orgConsole(canvas, days) {
    var url = config.daily_url + "?from=" + isoDaysAgo(config.today, days) + "&to=" + config.today;
    return window.TackApi.request(url).then(function (body) {
      var labels = body.days.map(function (d) { return d.date.slice(5); });
      var share = body.days.map(function (d) {
        return d.active_share === null ? null : Math.round(d.active_share * 1000) / 10;
      });
      var systems = body.days.map(function (d) { return d.systems_used; });
      var dagDays = body.days.filter(function (d) { return d.is_dag; }).length;
      var brand = css("--brand", "#1f6feb");
      draw(canvas, labels, [
        { type: "line", label: canvas.dataset.labelShare || "Active members (%)", data: share,
          borderColor: brand, backgroundColor: brand, yAxisID: "share", spanGaps: true, tension: 0.25 },
        { type: "line", label: canvas.dataset.labelNeed || "Needed (%)",
          data: labels.map(function () { return config.required_share; }),
          borderColor: "#9aa4b2", borderDash: [6, 4], pointRadius: 0, yAxisID: "share" },
        { type: "bar", label: canvas.dataset.labelSystems || "Systems used", data: systems,
          backgroundColor: "rgba(46, 160, 67, 0.35)", yAxisID: "systems" },
      ], {
        share: { position: "left", min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } },
        systems: { position: "right", min: 0, suggestedMax: Math.max(config.required_systems + 2, 8),
                   grid: { drawOnChartArea: false } },
      });
      var summary = document.querySelector("[data-metrics-summary]");
      if (summary) summary.textContent = (summary.dataset.template || "{n} of {days} days active")
        .replace("{n}", dagDays).replace("{days}", body.days.length);
      showError("");
    });
  }

  function platform(canvas, days) {
    var url = config.platform_url + "?from=" + isoDaysAgo(config.today, days) + "&to=" + config.today;
    return window.TackApi.request(url).then(function (body) {
      var labels = body.days.map(function (d) { return d.date.slice(5); });
      draw(canvas, labels, [
        { type: "line", label: "DAG", data: body.days.map(function (d) { return d.dag_count; }),
          borderColor: css("--brand", "#1f6feb"), yAxisID: "orgs", tension: 0.25 },
        { type: "line", label: canvas.dataset.labelDeep || "Deeply integrated",
          data: body.days.map(function (d) { return d.deeply_integrated_count; }),
          borderColor: "#8250df", yAxisID: "orgs", tension: 0.25 },
        { type: "bar", label: "DAU", data: body.days.map(function (d) { return d.dau; }),
          backgroundColor: "rgba(154, 164, 178, 0.35)", yAxisID: "users" },
      ], {
        orgs: { position: "left", min: 0, ticks: { precision: 0 } },
        users: { position: "right", min: 0, grid: { drawOnChartArea: false } },
      });
      showError("");
    });
  }

  var definitionForm = document.querySelector("[data-definition-form]");
  if (definitionForm) {
    definitionForm.addEventListener("submit", function (event) {
      event.preventDefault();
      definitionForm.querySelectorAll("[data-error]").forEach(function (p) { p.hidden = true; });
      var data = new FormData(definitionForm);
      var body = {
        min_active_share: data.get("min_active_share"),
        min_systems: data.get("min_systems"),
        min_usage_minutes: data.get("min_usage_minutes") || 0,
        note: data.get("note") || "",
      };
      window.TackApi.request(definitionForm.dataset.url, { method: "POST", body: body })
        .then(function () { window.location.reload(); })
        .catch(function (err) {
          var shown = false;
          Object.keys(err.fields || {}).forEach(function (name) {
            var p = definitionForm.querySelector('[data-error="' + name + '"]');
            if (p) { p.textContent = err.fields[name].join(" "); p.hidden = false; shown = true; }
          });
          if (!shown) {
            var general = definitionForm.querySelector('[data-error="_form"]');
            general.textContent = err.message || String(err);
            general.hidden = false;
          }
        });
    });
  }

  var orgCanvas = document.querySelector("[data-metrics-chart]");
  var opsCanvas = document.querySelector("[data-ops-chart]");
  var canvas = orgCanvas || opsCanvas;
  if (!canvas) return;
  var load = orgCanvas ? orgConsole : platform;

  function show(days) {
    document.querySelectorAll("[data-range]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.range === String(days)));
    });
    load(canvas, days).catch(function (err) { showError(err.message || String(err)); });
  }

  document.querySelectorAll("[data-range]").forEach(function (button) {
    button.addEventListener("click", function () { show(Number(button.dataset.range)); });
  });
  var pressed = document.querySelector('[data-range][aria-pressed="true"]');
  show(pressed ? Number(pressed.dataset.range) : 30);
})();
