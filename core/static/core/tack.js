/* Tack — small progressive enhancements for the server-rendered pages.
 *
 * Every page works without this file; it adds: menus that close on outside
 * click or Escape, a confirmation dialog for destructive forms
 * (data-confirm), auto-submitting selects (data-autosubmit), copy buttons
 * (data-copy), dismissible messages (data-dismiss) and the live branding
 * preview on the organisation settings page. Listeners are delegated from the
 * document, so content swapped in by htmx needs no re-initialisation.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* --- Menus (<details data-menu>) --------------------------------------------- */
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  document.addEventListener("click", function (event) {
    var menu = event.target.closest("details[data-menu]");
    closeMenus(menu);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details[data-menu][open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
  });

  /* --- Confirmation before destructive actions (<form data-confirm="…">) ---------- */
  var dialog = null;
  var pendingForm = null;

  function confirmDialog() {
    if (dialog === null) {
      dialog = document.getElementById("confirm-dialog");
      if (dialog && typeof dialog.showModal === "function") {
        dialog.addEventListener("close", function () {
          var form = pendingForm;
          pendingForm = null;
          if (form && dialog.returnValue === "confirm") {
            form.dataset.confirmed = "yes";
            if (typeof form.requestSubmit === "function") form.requestSubmit();
            else form.submit();
          }
        });
      } else {
        dialog = undefined;
      }
    }
    return dialog;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-confirm]")) return;
    if (form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed;
      return;
    }
    var box = confirmDialog();
    event.preventDefault();
    if (!box) {
      if (window.confirm(form.dataset.confirm)) {
        form.dataset.confirmed = "yes";
        form.submit();
      }
      return;
    }
    box.querySelector("[data-confirm-text]").textContent = form.dataset.confirm;
    var ok = box.querySelector("[data-confirm-ok]");
    if (!ok.dataset.defaultLabel) ok.dataset.defaultLabel = ok.textContent;
    ok.textContent = form.dataset.confirmButton || ok.dataset.defaultLabel;
    pendingForm = form;
    box.returnValue = "";
    box.showModal();
  });

  /* --- Selects that submit their form on change (<select data-autosubmit>) -------- */
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches("select[data-autosubmit]") || !select.form) return;
    if (typeof select.form.requestSubmit === "function") select.form.requestSubmit();
    else select.form.submit();
  });

  /* --- Dismissible messages and copy buttons ---------------------------------------- */
  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = dismiss.closest(".flash, .alert");
      if (box) box.remove();
      return;
    }

    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var field = document.querySelector(copy.dataset.copy);
      if (!field) return;
      var done = function () {
        var label = copy.querySelector("span");
        if (!label) return;
        if (!copy.dataset.label) copy.dataset.label = label.textContent;
        label.textContent = copy.dataset.copiedLabel || copy.dataset.label;
        window.setTimeout(function () {
          label.textContent = copy.dataset.label;
        }, 1800);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
        });
      } else {
        field.select();
        try {
          document.execCommand("copy");
          done();
        } catch (error) {
          /* the text stays selected for a manual copy */
        }
      }
      return;
    }
  });

  /* --- Branding preview on the organisation settings page --------------------------- */
  function textOn(hex) {
    var rgb = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    var dark = 0.0093; /* relative luminance of #111827 */
    return 1.05 / (lum + 0.05) >= (lum + 0.05) / (dark + 0.05) ? "#ffffff" : "#111827";
  }

  function previewRoot() {
    return document.querySelector("[data-brand-preview-root]");
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    var root = previewRoot();
    if (!root) return;
    if (input.matches("[data-brand-preview=colour]") && /^#[0-9a-f]{6}$/i.test(input.value)) {
      root.style.setProperty("--preview-brand", input.value);
      root.style.setProperty("--preview-on", textOn(input.value));
      var out = document.querySelector("[data-brand-preview-value]");
      if (out) out.textContent = input.value;
    } else if (input.name === "brand_name") {
      var name = root.querySelector("[data-brand-preview-name]");
      if (name) name.textContent = input.value.trim() || name.dataset.defaultName;
    }
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    var root = previewRoot();
    if (!root || !input.matches("[data-brand-preview=logo]")) return;
    var file = input.files && input.files[0];
    var img = root.querySelector("[data-brand-preview-logo]");
    var mark = root.querySelector("[data-brand-preview-mark]");
    if (!img || !file || !/^image\//.test(file.type)) return;
    img.src = URL.createObjectURL(file);
    img.hidden = false;
    if (mark) mark.hidden = true;
  });
})();
