/* Tack low-code — an app's page: forms, lookups (with their editor) and settings. */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;
  var manage = C.levels.indexOf("manage") !== -1;
  var viewAll = C.levels.indexOf("view_all") !== -1;
  var state = { app: null, forms: [], lookups: [] };

  /* --- Forms -------------------------------------------------------------------------- */
  var formsList = document.querySelector("[data-forms]");
  var formsEmpty = document.querySelector("[data-forms-empty]");
  function formRow(form) {
    var li = el("li", "lc-list-row");
    li.dataset.formId = form.id;
    var main = el("div", "lc-list-main");
    main.appendChild(el("span", "lc-list-title", form.name));
    var meta = el("span", "lc-list-meta");
    if (form.published_version) meta.appendChild(el("span", "badge lc-badge-live", L.fmt(T.version_n, { n: form.published_version.number })));
    else meta.appendChild(el("span", "badge", T.not_published));
    if (manage && form.published_version && form.has_unpublished_changes) meta.appendChild(el("span", "badge lc-badge-warn", T.unpublished_changes));
    if (form.description) meta.appendChild(el("span", "muted", form.description));
    main.appendChild(meta);
    li.appendChild(main);
    var actions = el("div", "lc-list-actions");
    if (form.published_version) {
      actions.appendChild(h("a", { className: "btn btn-sm btn-primary", href: C.pages + "forms/" + form.id + "/fill/", text: T.fill }));
      actions.appendChild(h("a", { className: "btn btn-sm", href: C.pages + "forms/" + form.id + "/records/", text: T.records }));
    }
    if (manage) actions.appendChild(h("a", { className: "btn btn-sm", href: C.pages + "forms/" + form.id + "/design/", text: T.design }));
    if (manage && form.published_version) actions.appendChild(h("a", { className: "btn btn-sm", href: C.pages + "forms/" + form.id + "/qr-sheet/", text: T.qr_codes }));
    li.appendChild(actions);
    return li;
  }
  function paintForms() {
    formsList.replaceChildren();
    formsList.removeAttribute("aria-busy");
    var visible = state.forms.filter(function (f) {
      return manage || f.published_version;
    });
    visible.forEach(function (f) {
      formsList.appendChild(formRow(f));
    });
    formsEmpty.hidden = visible.length > 0;
    formsList.hidden = visible.length === 0;
  }

  var newForm = document.querySelector("[data-new-form]");
  if (newForm) {
    newForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = newForm.querySelector("[data-new-form-error]");
      var name = newForm.elements.name.value.trim();
      error.hidden = true;
      if (!name) {
        error.textContent = T.required;
        error.hidden = false;
        newForm.elements.name.focus();
        return;
      }
      L.api("forms/", { method: "POST", body: { app: C.app_id, name: name } }).then(
        function (form) {
          window.location.href = C.pages + "forms/" + form.id + "/design/";
        },
        function (err) {
          error.textContent = (err.fields.name || [err.message]).join(" ");
          error.hidden = false;
        }
      );
    });
  }

  /* --- Lookups ----------------------------------------------------------------------- */
  var lookupsList = document.querySelector("[data-lookups]");
  var lookupsEmpty = document.querySelector("[data-lookups-empty]");
  function paintLookups() {
    if (!lookupsList) return;
    lookupsList.replaceChildren();
    state.lookups.forEach(function (lookup) {
      var li = el("li", "lc-list-row");
      var main = el("div", "lc-list-main");
      main.appendChild(h("a", { className: "lc-list-title", href: C.pages + "lookups/" + lookup.id + "/", text: lookup.name }));
      var form = state.forms.find(function (f) {
        return f.id === lookup.form_id;
      });
      main.appendChild(el("span", "lc-list-meta muted", (form ? form.name + " · " : "") + T.input_field + ": " + lookup.input_field));
      li.appendChild(main);
      var actions = el("div", "lc-list-actions");
      actions.appendChild(h("a", { className: "btn btn-sm", href: C.pages + "lookups/" + lookup.id + "/", text: T.search }));
      if (manage) {
        var edit = h("button", { type: "button", className: "btn btn-sm", text: T.edit });
        edit.addEventListener("click", function () {
          openLookup(lookup);
        });
        actions.appendChild(edit);
        var del = h("button", { type: "button", className: "btn btn-sm btn-ghost-danger", text: T.delete });
        del.addEventListener("click", function () {
          L.confirm(T.confirm_delete_lookup).then(function (yes) {
            if (!yes) return;
            L.api("lookups/" + lookup.id + "/", { method: "DELETE" }).then(loadLookups, function (err) {
              L.toast(err.message, "error");
            });
          });
        });
        actions.appendChild(del);
      }
      li.appendChild(actions);
      lookupsList.appendChild(li);
    });
    lookupsEmpty.hidden = state.lookups.length > 0;
  }
  function loadLookups() {
    if (!viewAll) return Promise.resolve();
    return L.api("lookups/?app=" + C.app_id).then(function (list) {
      state.lookups = list;
      paintLookups();
    });
  }

  var lookupDialog = document.querySelector('[data-dialog="lookup"]');
  var lookupForm = document.querySelector("[data-lookup-form]");
  var editingLookup = null;
  function publishedFields(formId) {
    var form = state.forms.find(function (f) {
      return f.id === Number(formId);
    });
    return form && form.published_version ? form.published_version.fields : [];
  }
  function fillLookupFields(lookup) {
    var fields = publishedFields(lookupForm.elements.form.value);
    var input = lookupForm.elements.input_field;
    input.replaceChildren();
    fields.forEach(function (f) {
      if (["text", "number", "phone", "email", "scanned_code", "serial", "single_select", "date", "money", "computed"].indexOf(f.type) === -1) return;
      input.appendChild(h("option", { value: f.key, text: f.label + (f.indexed ? " ⚡" : "") }));
    });
    var indexed = fields.find(function (f) {
      return f.indexed;
    });
    input.value = lookup ? lookup.input_field : indexed ? indexed.key : input.value;
    var columns = lookupForm.querySelector("[data-lookup-columns]");
    columns.replaceChildren();
    fields.forEach(function (f) {
      var box = h("input", { type: "checkbox", value: f.key, name: "columns" });
      box.checked = lookup ? lookup.columns.indexOf(f.key) !== -1 : true;
      columns.appendChild(h("label", { className: "check" }, [box, f.label]));
    });
  }
  function openLookup(lookup) {
    editingLookup = lookup || null;
    lookupForm.reset();
    lookupForm.querySelectorAll("[data-error]").forEach(function (n) {
      n.hidden = true;
    });
    var select = lookupForm.elements.form;
    select.replaceChildren();
    state.forms.filter(function (f) {
      return f.published_version;
    }).forEach(function (f) {
      select.appendChild(h("option", { value: String(f.id), text: f.name }));
    });
    if (lookup) {
      select.value = String(lookup.form_id);
      lookupForm.elements.name.value = lookup.name;
      lookupForm.elements.match.value = lookup.match;
    }
    fillLookupFields(lookup);
    lookupDialog.querySelector(".dialog-title").textContent = lookup ? lookup.name : T.new_lookup;
    lookupDialog.showModal();
    lookupForm.elements.name.focus();
  }
  if (lookupForm) {
    lookupForm.elements.form.addEventListener("change", function () {
      fillLookupFields(null);
    });
    lookupForm.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.value === "cancel") return;
      event.preventDefault();
      lookupForm.querySelectorAll("[data-error]").forEach(function (n) {
        n.hidden = true;
      });
      var body = {
        form: Number(lookupForm.elements.form.value),
        name: lookupForm.elements.name.value.trim(),
        input_field: lookupForm.elements.input_field.value,
        match: lookupForm.elements.match.value,
        columns: Array.from(lookupForm.querySelectorAll("[data-lookup-columns] input:checked")).map(function (b) {
          return b.value;
        }),
      };
      var show = function (key, message) {
        var node = lookupForm.querySelector('[data-error="' + key + '"]') || lookupForm.querySelector('[data-error="_form"]');
        node.textContent = message;
        node.hidden = false;
      };
      if (!body.name) {
        show("name", T.required);
        return;
      }
      if (!body.form) {
        show("form", T.required);
        return;
      }
      var path = editingLookup ? "lookups/" + editingLookup.id + "/" : "lookups/";
      L.api(path, { method: editingLookup ? "PUT" : "POST", body: body }).then(
        function () {
          lookupDialog.close();
          L.toast(T.lookup_saved, "success");
          loadLookups();
        },
        function (err) {
          var keys = Object.keys(err.fields);
          if (!keys.length) show("_form", err.message);
          keys.forEach(function (k) {
            show(k.split(".")[0], err.fields[k].join(" "));
          });
        }
      );
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest('[data-action="new-lookup"]');
    if (button) openLookup(null);
  });

  /* --- Settings and permissions ------------------------------------------------------- */
  var settings = document.querySelector("[data-settings]");
  var permsBox = document.querySelector("[data-perms]");
  var perms = null;
  var LEVELS = ["submit", "view_all", "manage"];
  var ROLES = ["owner", "admin", "member", "guest"];
  function paintPerms(depts) {
    permsBox.replaceChildren();
    LEVELS.forEach(function (level) {
      var grant = perms[level];
      var box = h("fieldset", { className: "lc-perm" });
      box.appendChild(h("legend", { text: T["level_" + level] }));
      var roles = el("div", "lc-checks lc-checks-inline");
      ROLES.forEach(function (role) {
        var input = h("input", { type: "checkbox", value: role });
        input.checked = grant.roles.indexOf(role) !== -1;
        input.addEventListener("change", function () {
          grant.roles = ROLES.filter(function (r) {
            return r === role ? input.checked : grant.roles.indexOf(r) !== -1;
          });
        });
        roles.appendChild(h("label", { className: "check" }, [input, T["role_" + role]]));
      });
      box.appendChild(roles);
      var chips = el("div", "lc-chips");
      grant.members.forEach(function (id) {
        var chip = el("span", "lc-chip");
        var label = el("span", "", L.names.member.get(id) || "…");
        L.loadName("member", id).then(function (name) {
          label.textContent = name;
        });
        chip.appendChild(label);
        var x = h("button", { type: "button", className: "lc-chip-x", "aria-label": T.remove, text: "×" });
        x.addEventListener("click", function () {
          grant.members = grant.members.filter(function (m) {
            return m !== id;
          });
          paintPerms(depts);
        });
        chip.appendChild(x);
        chips.appendChild(chip);
      });
      grant.departments.forEach(function (id) {
        var d = depts.find(function (x) {
          return x.id === id;
        });
        var chip = el("span", "lc-chip lc-chip-dept", d ? d.name : "#" + id);
        var x = h("button", { type: "button", className: "lc-chip-x", "aria-label": T.remove, text: "×" });
        x.addEventListener("click", function () {
          grant.departments = grant.departments.filter(function (m) {
            return m !== id;
          });
          paintPerms(depts);
        });
        chip.appendChild(x);
        chips.appendChild(chip);
      });
      box.appendChild(chips);
      var adders = el("div", "lc-perm-adders");
      if (C.can_browse_members) {
        var picker = L.memberPicker(function (item) {
          if (grant.members.indexOf(item.id) === -1) grant.members.push(item.id);
          paintPerms(depts);
        }, T.pick_member);
        picker.input.setAttribute("aria-label", T.pick_member + " (" + T["level_" + level] + ")");
        adders.appendChild(picker);
      }
      var dept = h("select", { className: "select-sm", "aria-label": T.pick_department + " (" + T["level_" + level] + ")" });
      dept.appendChild(h("option", { value: "", text: T.pick_department }));
      depts.forEach(function (d) {
        if (grant.departments.indexOf(d.id) === -1) dept.appendChild(h("option", { value: String(d.id), text: d.name }));
      });
      dept.addEventListener("change", function () {
        if (dept.value) grant.departments.push(Number(dept.value));
        paintPerms(depts);
      });
      if (depts.length) adders.appendChild(dept);
      box.appendChild(adders);
      permsBox.appendChild(box);
    });
  }
  if (settings) {
    settings.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = settings.querySelector("[data-settings-status]");
      var save = settings.querySelector("[data-settings-save]");
      settings.querySelectorAll("[data-error]").forEach(function (n) {
        n.hidden = true;
      });
      var body = {
        name: settings.elements.name.value.trim(),
        icon: settings.elements.icon.value.trim(),
        color: settings.elements.color.value,
        description: settings.elements.description.value.trim(),
        is_published: settings.elements.is_published.checked,
        permissions: perms,
      };
      save.disabled = true;
      status.textContent = T.saving;
      L.api("apps/" + C.app_id + "/", { method: "PATCH", body: body }).then(
        function (app) {
          save.disabled = false;
          status.textContent = T.saved;
          state.app = app;
          document.querySelector("[data-app-name]").textContent = app.name;
          var badge = document.querySelector("[data-app-state]");
          badge.textContent = app.is_published ? T.published : T.draft;
          badge.classList.toggle("lc-badge-live", app.is_published);
          L.toast(T.app_saved, "success");
        },
        function (err) {
          save.disabled = false;
          status.textContent = "";
          var keys = Object.keys(err.fields);
          var shown = false;
          keys.forEach(function (k) {
            var node = settings.querySelector('[data-error="' + k.split(".")[0] + '"]');
            if (node) {
              node.textContent = [].concat(err.fields[k]).join(" ");
              node.hidden = false;
              shown = true;
            }
          });
          if (!shown) {
            var node = settings.querySelector('[data-error="' + (err.code === "no_published_form" ? "is_published" : "permissions") + '"]');
            node.textContent = err.message;
            node.hidden = false;
          }
        }
      );
    });
  }

  /* --- Load --------------------------------------------------------------------------- */
  Promise.all([L.api("apps/" + C.app_id + "/"), L.api("forms/?app=" + C.app_id)]).then(
    function (loaded) {
      state.app = loaded[0];
      state.forms = loaded[1];
      paintForms();
      loadLookups();
      if (settings && manage) {
        perms = JSON.parse(JSON.stringify(state.app.permissions || {}));
        LEVELS.forEach(function (level) {
          perms[level] = Object.assign({ roles: [], members: [], departments: [] }, perms[level] || {});
        });
        L.departments().then(paintPerms);
      }
    },
    function (err) {
      formsList.replaceChildren(el("li", "lc-list-row field-error", err.message));
    }
  );
})();
