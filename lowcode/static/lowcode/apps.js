/* Tack low-code — the apps home: my apps as cards and "New app". */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var grid = document.querySelector("[data-apps]");
  var empty = document.querySelector("[data-apps-empty]");
  var failed = document.querySelector("[data-apps-error]");

  function card(app) {
    var a = L.h("a", { className: "lc-app-card card", href: C.pages + app.id + "/" });
    var mark = L.el("span", "lc-app-icon", app.icon || app.name.charAt(0).toUpperCase());
    mark.style.setProperty("--app-color", app.color || "#1f6feb");
    a.appendChild(mark);
    var body = L.el("div", "lc-app-card-body");
    body.appendChild(L.el("h2", "lc-app-card-title", app.name));
    if (app.description) body.appendChild(L.el("p", "lc-app-card-text", app.description));
    var meta = L.el("p", "lc-app-card-meta");
    meta.appendChild(L.el("span", "badge" + (app.is_published ? " lc-badge-live" : ""), app.is_published ? T.published : T.draft));
    if (app.my_levels.indexOf("manage") !== -1) meta.appendChild(L.el("span", "badge", T.level_manage));
    body.appendChild(meta);
    a.appendChild(body);
    return a;
  }

  function load() {
    failed.hidden = true;
    grid.setAttribute("aria-busy", "true");
    L.api("apps/").then(
      function (apps) {
        grid.replaceChildren();
        grid.removeAttribute("aria-busy");
        apps.forEach(function (app) {
          grid.appendChild(card(app));
        });
        grid.hidden = apps.length === 0;
        empty.hidden = apps.length !== 0;
      },
      function () {
        grid.hidden = true;
        failed.hidden = false;
      }
    );
  }

  var dialog = document.querySelector('[data-dialog="new-app"]');
  var form = document.querySelector("[data-new-app-form]");
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    if (button.dataset.action === "new-app") {
      form.reset();
      form.querySelectorAll("[data-error]").forEach(function (n) {
        n.hidden = true;
      });
      dialog.showModal();
      form.elements.name.focus();
    } else if (button.dataset.action === "reload") load();
  });
  form.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    var name = form.elements.name.value.trim();
    var nameError = form.querySelector('[data-error="name"]');
    var formError = form.querySelector('[data-error="form"]');
    nameError.hidden = formError.hidden = true;
    if (!name) {
      nameError.textContent = T.required;
      nameError.hidden = false;
      form.elements.name.focus();
      return;
    }
    var submit = form.querySelector("[data-create-app]");
    submit.disabled = true;
    L.api("apps/", {
      method: "POST",
      body: { name: name, icon: form.elements.icon.value.trim(), description: form.elements.description.value.trim() },
    }).then(
      function (app) {
        window.location.href = C.pages + app.id + "/";
      },
      function (error) {
        submit.disabled = false;
        var message = (error.fields.name || []).join(" ");
        if (message) {
          nameError.textContent = message;
          nameError.hidden = false;
        } else {
          formError.textContent = error.message;
          formError.hidden = false;
        }
      }
    );
  });
  load();
})();
