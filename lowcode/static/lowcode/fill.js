/* Tack low-code — the fill page.
 *
 * Renders the published version's fields, pre-fills from the query string (QR codes link
 * here with ?<key>=<value>), submits once per page load with an idempotency key (a retry
 * after a network error cannot create a second record) and shows errors next to fields.
 */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var formNode = document.querySelector("[data-fill-form]");
  if (!formNode) return;
  var fieldsBox = document.querySelector("[data-fill-fields]");
  var errorBox = document.querySelector("[data-fill-error]");
  var submit = document.querySelector("[data-submit]");
  var done = document.querySelector("[data-fill-done]");
  var controller = null;
  var fields = [];
  var idempotencyKey = L.uuid();

  function prefill() {
    var values = {};
    fields.forEach(function (field) {
      if (!(field.key in C.prefill)) return;
      var value = L.parseText(field, C.prefill[field.key]);
      if (value !== undefined) values[field.key] = value;
    });
    return values;
  }
  function render(values) {
    controller = L.renderForm(fieldsBox, fields, values, {});
    fieldsBox.removeAttribute("aria-busy");
  }
  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  formNode.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!controller || submit.disabled) return;
    showError("");
    var collected = controller.collect();
    if (Object.keys(collected.errors).length) {
      var rest = controller.setErrors(collected.errors);
      showError(rest.length ? rest.join(" ") : T.fix_fields);
      return;
    }
    controller.setErrors({});
    submit.disabled = true;
    submit.classList.add("is-busy");
    submit.textContent = T.submitting;
    L.api("records/", { method: "POST", body: { form: C.form_id, data: collected.data, idempotency_key: idempotencyKey } }).then(
      function (record) {
        formNode.hidden = true;
        done.hidden = false;
        done.querySelector("[data-done-text]").textContent = L.fmt(T.submitted_text, { n: record.number });
        var pending = record.approval_state === "pending";
        done.querySelector("[data-done-approval]").hidden = !pending;
        done.querySelector("[data-done-inbox]").hidden = !pending;
        done.dataset.recordId = record.id;
        done.dataset.recordNumber = record.number;
        done.focus();
        window.scrollTo(0, 0);
      },
      function (err) {
        submit.disabled = false;
        submit.classList.remove("is-busy");
        submit.textContent = T.submit;
        var rest = controller.setErrors(err.fields);
        showError(rest.length ? err.message + " " + rest.join(" ") : err.message);
      }
    );
  });
  done.querySelector('[data-action="again"]').addEventListener("click", function () {
    idempotencyKey = L.uuid();
    render(prefill());
    done.hidden = true;
    formNode.hidden = false;
    submit.disabled = false;
    submit.classList.remove("is-busy");
    submit.textContent = T.submit;
    var first = fieldsBox.querySelector("input, select, textarea");
    if (first) first.focus();
  });

  L.api("forms/" + C.form_id + "/").then(
    function (form) {
      fields = form.published_version ? form.published_version.fields : [];
      render(prefill());
    },
    function (err) {
      fieldsBox.removeAttribute("aria-busy");
      fieldsBox.replaceChildren(L.el("p", "field-error", err.message));
    }
  );
})();
