/* Tack billing pages: forms marked data-billing-form are sent to the billing API with
 * window.TackApi (session cookie + CSRF header), then the page reloads.
 *
 * Named fields become JSON; [data-bool] sends true/false, [data-int] a whole number.
 * data-key adds an idempotency key made once per page view, so a double click or a retry
 * after a network error never pays (or pays out) twice. data-confirm names a string in
 * the configuration to confirm first. Errors show in the form's [data-billing-errors].
 */
(function () {
  "use strict";

  var node = document.getElementById("billing-config");
  if (!node) return;  // window.TackApi (core/api.js) may load after this file: used on submit
  var config = JSON.parse(node.textContent);
  var S = config.strings || {};

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function bodyOf(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) return;
      if (field.hasAttribute("data-bool")) body[field.name] = field.value === "true";
      else if (field.hasAttribute("data-int")) body[field.name] = parseInt(field.value, 10);
      else body[field.name] = field.value;
    });
    if (form.hasAttribute("data-key")) {
      if (!form.dataset.idempotencyKey) form.dataset.idempotencyKey = newKey();
      body.idempotency_key = form.dataset.idempotencyKey;
    }
    return body;
  }

  function showError(form, error) {
    var box = form.querySelector("[data-billing-errors]");
    if (!box) return;
    var parts = [error.message || S.error];
    Object.keys(error.fields || {}).forEach(function (name) {
      var messages = error.fields[name];
      parts.push((Array.isArray(messages) ? messages : [messages]).join(" "));
    });
    box.textContent = parts.join(" ");
    box.hidden = false;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-billing-form]")) return;
    event.preventDefault();
    if (!window.TackApi) return;
    var confirmKey = form.dataset.confirm;
    if (confirmKey && !window.confirm(S[confirmKey] || "")) return;
    var box = form.querySelector("[data-billing-errors]");
    if (box) box.hidden = true;
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    window.TackApi.request(form.dataset.url, { method: "POST", body: bodyOf(form) }, S)
      .then(function () { window.location.reload(); })
      .catch(function (error) {
        showError(form, error);
        buttons.forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); });
      });
  });
})();
