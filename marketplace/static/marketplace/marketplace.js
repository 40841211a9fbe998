/* Tack marketplace pages: every form marked data-mp-form is sent to the REST API with
 * window.TackApi (session cookie + CSRF header), then the page reloads or moves on.
 *
 * Body: named fields become JSON (textarea[data-json] parsed, [data-lines] split into a
 * list, [data-bool] true/false, [data-omit-empty] left out when blank); data-extra-<key>
 * adds a number. The install form sends exactly the scopes shown (the consent) and the
 * chosen plan; a consent form sends its data-scopes. Errors appear in the form's
 * [data-mp-errors] box, with one line per field path (manifest problems by JSON path).
 * data-then: "secret" shows the returned client secret once; "partner" opens the new
 * partner; "queue" returns to the review queue; otherwise the page reloads.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("mp-config");
  if (!configNode || !window.TackApi) return;
  var config = JSON.parse(configNode.textContent);
  var S = config.strings || {};

  function clearErrors(form) {
    var box = form.querySelector("[data-mp-errors]");
    if (box) {
      box.hidden = true;
      box.textContent = "";
    }
    return box;
  }

  function showErrors(form, message, fields) {
    var box = clearErrors(form);
    if (!box) return;
    var head = document.createElement("p");
    head.textContent = message || S.error;
    box.appendChild(head);
    var paths = Object.keys(fields || {});
    if (paths.length) {
      var list = document.createElement("ul");
      list.className = "mp-error-list";
      paths.forEach(function (path) {
        var messages = fields[path];
        (Array.isArray(messages) ? messages : [messages]).forEach(function (text) {
          var item = document.createElement("li");
          var code = document.createElement("code");
          code.textContent = path;
          item.appendChild(code);
          item.appendChild(document.createTextNode(" " + (typeof text === "string" ? text : JSON.stringify(text))));
          list.appendChild(item);
        });
      });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function bodyOf(form) {
    if (form.hasAttribute("data-mp-install")) {
      var plan = form.querySelector("input[name=plan]:checked");
      return { app: config.app, scopes: config.scopes, plan: plan ? plan.value : null };
    }
    if (form.dataset.scopes !== undefined) {
      return { scopes: form.dataset.scopes.split(" ").filter(Boolean) };
    }
    var body = {};
    var named = form.querySelectorAll("input[name], textarea[name], select[name]");
    for (var i = 0; i < named.length; i++) {
      var field = named[i];
      var value = field.value;
      if (field.type === "radio" && !field.checked) continue;
      if (field.hasAttribute("data-omit-empty") && !value.trim()) continue;
      if (field.hasAttribute("data-json")) {
        try {
          value = JSON.parse(value);
        } catch (error) {
          throw new Error((S.invalid_json || "%(message)s").replace("%(message)s", error.message));
        }
      } else if (field.hasAttribute("data-lines")) {
        value = value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
      } else if (field.hasAttribute("data-bool")) {
        value = value === "true";
      }
      body[field.name] = value;
    }
    Object.keys(form.dataset).forEach(function (key) {
      if (key.indexOf("extra") === 0 && key.length > 5) {
        body[key.charAt(5).toLowerCase() + key.slice(6)] = Number(form.dataset[key]);
      }
    });
    return Object.keys(body).length ? body : undefined;
  }

  function showSecret(form, data) {
    var result = form.querySelector("[data-mp-result]");
    if (!result) return window.location.reload();
    result.querySelectorAll("[data-mp-field]").forEach(function (node) {
      node.textContent = data[node.dataset.mpField] || "";
    });
    var link = result.querySelector("[data-mp-field-href]");
    if (link && data.id) link.href = "/partners/apps/" + data.id + "/";
    result.hidden = false;
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }

  function after(form, data) {
    var then = form.dataset.then;
    if (form.hasAttribute("data-mp-install")) window.location.assign(config.done);
    else if (then === "secret") showSecret(form, data || {});
    else if (then === "partner" && data) window.location.assign("/partners/" + data.id + "/");
    else if (then === "queue" && config.queue) window.location.assign(config.queue);
    else window.location.reload();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-mp-form]") || event.defaultPrevented) return;
    event.preventDefault();
    clearErrors(form);
    var url = form.dataset.url || config.api;
    var method = form.dataset.method || "POST";
    var body;
    try {
      body = bodyOf(form);
    } catch (error) {
      showErrors(form, error.message, {});
      return;
    }
    if (form.dataset.editing) {
      url = config.versions_api + form.dataset.editing + "/";
      method = "PATCH";
      body = { manifest: body.manifest };
    }
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    window.TackApi.request(url, { method: method, body: body }, S)
      .then(function (data) { after(form, data); })
      .catch(function (error) {
        showErrors(form, error.message, error.fields);
        buttons.forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); });
      });
  });

  // The install button waits for the "I allow" box.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches("[data-mp-agree]")) return;
    var submit = box.form && box.form.querySelector("[data-mp-submit]");
    if (submit) submit.disabled = !box.checked;
  });

  // "Edit manifest" loads a draft into the editor, which then saves that draft.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-mp-edit]");
    if (!button) return;
    var form = document.querySelector("[data-mp-manifest-form]");
    if (!form) return;
    var area = form.querySelector("textarea[data-json]");
    area.value = JSON.stringify(JSON.parse(button.dataset.manifest), null, 2);
    form.dataset.editing = button.dataset.mpEdit;
    var title = document.querySelector("[data-mp-editor-title]");
    if (title) title.textContent = title.dataset.editTitle + " · " + (JSON.parse(button.dataset.manifest).version || "");
    area.focus();
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  });
})();
