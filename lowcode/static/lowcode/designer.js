/* Tack low-code — the form designer.
 *
 * Palette (GET field-types/) -> canvas (the draft's field list) -> properties panel.
 * Fields are added by dragging a type onto the canvas (native HTML5 drag and drop) or by
 * clicking it; they are reordered by dragging or with the move up/down buttons (and
 * Alt+Arrow keys). "Save draft" PATCHes forms/<id>/ with the field list and maps the
 * envelope's error paths (fields[3].options.choices) back to the fields; "Publish" POSTs
 * forms/<id>/publish/. The second tab is a live preview; the third edits the approval flow
 * (GET/PUT forms/<id>/approval-flow/).
 */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;

  var GLYPHS = {
    text: "Aa", long_text: "¶", number: "#", money: "¥", date: "31", datetime: "◷",
    single_select: "◉", multi_select: "☑", checkbox: "✓", member: "☺", department: "⌂",
    attachment: "⊞", image: "▣", phone: "☎", email: "@", serial: "№", scanned_code: "▥",
    sub_table: "▦", relation: "⇄", computed: "ƒ", created_by: "☺", created_at: "◷",
  };
  var PLACEHOLDER_TYPES = ["text", "long_text", "number", "money", "phone", "email", "scanned_code", "checkbox"];
  var CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD", "TWD", "KRW", "AUD", "CAD", "CHF"];

  var state = {
    form: null,
    types: [],
    byType: {},
    fields: [],
    publishedKeys: new Set(),
    selected: null,
    errors: {},
    dirty: false,
    saving: false,
    appForms: [],
    nextUid: 1,
  };

  var palette = document.querySelector("[data-palette]");
  var canvas = document.querySelector("[data-canvas]");
  var canvasWrap = document.querySelector(".lc-canvas-wrap");
  var canvasEmpty = document.querySelector("[data-canvas-empty]");
  var props = document.querySelector("[data-props]");
  var saveState = document.querySelector("[data-save-state]");
  var announcer = document.querySelector("[data-announce]");
  var banner = document.querySelector("[data-banner]");
  var nameInput = document.querySelector("[data-form-name]");

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = text;
    }, 30);
  }
  function setDirty(dirty) {
    state.dirty = dirty;
    saveState.textContent = dirty ? T.unsaved : T.all_saved;
    saveState.classList.toggle("is-dirty", dirty);
  }
  window.addEventListener("beforeunload", function (event) {
    if (state.dirty) {
      event.preventDefault();
      event.returnValue = T.leave_unsaved;
    }
  });

  /* --- Field model ------------------------------------------------------------------ */
  function slug(text) {
    var s = String(text || "")
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "");
    if (!/^[a-z]/.test(s)) s = s ? "f_" + s : "";
    return s.slice(0, 40).replace(/_+$/, "");
  }
  function uniqueKey(base, except) {
    var keys = new Set(state.fields.filter(function (f) {
      return f !== except;
    }).map(function (f) {
      return f.key;
    }));
    if (!base) base = "field";
    var key = base;
    var n = 2;
    while (keys.has(key)) {
      var suffix = "_" + n++;
      key = base.slice(0, 40 - suffix.length) + suffix;
    }
    return key;
  }
  function defaultOptions(type) {
    if (type === "single_select" || type === "multi_select") {
      return { choices: [{ id: "opt1", label: L.fmt(T.choice_n, { n: 1 }) }, { id: "opt2", label: L.fmt(T.choice_n, { n: 2 }) }] };
    }
    if (type === "money") return { currency: "CNY" };
    if (type === "sub_table") return { columns: [{ key: "item", type: "text", label: T.new_field }] };
    if (type === "computed") {
      var numeric = state.fields.filter(function (f) {
        return f.type === "number" || f.type === "money";
      });
      return { expression: numeric.length ? numeric[0].key : "" };
    }
    if (type === "relation") {
      var other = state.appForms.find(function (f) {
        return f.id !== C.form_id;
      });
      return other ? { form: other.id } : {};
    }
    return {};
  }
  function newField(type) {
    var info = state.byType[type];
    var label = info ? info.label : T.new_field;
    var field = { key: "", type: type, label: label, options: defaultOptions(type) };
    field._uid = state.nextUid++;
    field.key = uniqueKey(slug(label) || type);
    return field;
  }
  function withUid(field) {
    field._uid = state.nextUid++;
    field._keyTouched = true;
    field._loaded = true;
    return field;
  }
  function clean(field) {
    var out = {};
    Object.keys(field).forEach(function (k) {
      if (k.charAt(0) === "_") return;
      var v = field[k];
      if ((k === "help" || k === "placeholder") && !v) return;
      if ((k === "required" || k === "indexed") && !v) return;
      if (k === "width" && v === "full") return;
      if (k === "options") {
        var o = {};
        Object.keys(v || {}).forEach(function (ok) {
          var ov = v[ok];
          if (ov === undefined || ov === null || ov === "" || (typeof ov === "number" && isNaN(ov))) return;
          o[ok] = ov;
        });
        if (!Object.keys(o).length) return;
        v = o;
      }
      out[k] = v;
    });
    return out;
  }
  function findField(uid) {
    return state.fields.find(function (f) {
      return f._uid === uid;
    });
  }
  function indexOf(uid) {
    for (var i = 0; i < state.fields.length; i++) if (state.fields[i]._uid === uid) return i;
    return -1;
  }

  /* --- Palette ------------------------------------------------------------------------ */
  var dragging = null;
  function paintPalette() {
    palette.replaceChildren();
    palette.removeAttribute("aria-busy");
    state.types.forEach(function (t) {
      var button = h("button", { type: "button", className: "lc-palette-item", draggable: "true", "data-type": t.type, title: T.palette_hint }, [
        h("span", { className: "lc-glyph", "aria-hidden": "true", text: GLYPHS[t.type] || "•" }),
        h("span", { className: "lc-palette-label", text: t.label }),
      ]);
      button.addEventListener("click", function () {
        addField(t.type, state.fields.length);
      });
      button.addEventListener("dragstart", function (event) {
        dragging = { type: t.type };
        event.dataTransfer.effectAllowed = "copy";
        event.dataTransfer.setData("text/plain", t.type);
      });
      button.addEventListener("dragend", endDrag);
      palette.appendChild(h("li", {}, [button]));
    });
  }

  /* --- Canvas ------------------------------------------------------------------------- */
  var marker = h("li", { className: "lc-drop-marker", "aria-hidden": "true" });
  function endDrag() {
    dragging = null;
    marker.remove();
    canvasWrap.classList.remove("is-over");
    canvas.querySelectorAll(".is-dragging").forEach(function (n) {
      n.classList.remove("is-dragging");
    });
  }
  function dropIndex(clientY) {
    var items = Array.from(canvas.querySelectorAll(".lc-canvas-item"));
    for (var i = 0; i < items.length; i++) {
      var rect = items[i].getBoundingClientRect();
      if (clientY < rect.top + rect.height / 2) return i;
    }
    return items.length;
  }
  canvasWrap.addEventListener("dragover", function (event) {
    if (!dragging) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = dragging.type ? "copy" : "move";
    canvasWrap.classList.add("is-over");
    var index = dropIndex(event.clientY);
    var items = canvas.querySelectorAll(".lc-canvas-item");
    if (index < items.length) canvas.insertBefore(marker, items[index]);
    else canvas.appendChild(marker);
  });
  canvasWrap.addEventListener("dragleave", function (event) {
    if (!canvasWrap.contains(event.relatedTarget)) {
      canvasWrap.classList.remove("is-over");
      marker.remove();
    }
  });
  canvasWrap.addEventListener("drop", function (event) {
    if (!dragging) return;
    event.preventDefault();
    var index = dropIndex(event.clientY);
    var what = dragging;
    endDrag();
    if (what.type) addField(what.type, index);
    else if (what.uid) {
      var from = indexOf(what.uid);
      if (from < index) index -= 1;
      moveField(what.uid, index);
    }
  });

  canvasWrap.addEventListener("click", function (event) {
    if (!event.target.closest(".lc-canvas-item") && state.selected !== null) select(null);
  });

  function addField(type, index) {
    var field = newField(type);
    state.fields.splice(index, 0, field);
    state.selected = field._uid;
    setDirty(true);
    paintCanvas();
    paintProps();
    announce(L.fmt(T.field_added, { label: field.label }));
    var labelInput = props.querySelector("[data-prop=label]");
    if (labelInput) {
      labelInput.focus();
      labelInput.select();
    }
  }
  function moveField(uid, to) {
    var from = indexOf(uid);
    if (from === -1 || to < 0 || to >= state.fields.length || from === to) {
      paintCanvas();
      return;
    }
    var field = state.fields.splice(from, 1)[0];
    state.fields.splice(to, 0, field);
    setDirty(true);
    paintCanvas();
    announce(L.fmt(T.field_moved, { n: to + 1 }));
  }
  function removeField(uid) {
    var index = indexOf(uid);
    if (index === -1) return;
    var field = state.fields.splice(index, 1)[0];
    if (state.selected === uid) state.selected = null;
    setDirty(true);
    paintCanvas();
    paintProps();
    L.toast(L.fmt(T.field_removed, { label: field.label }), "", {
      label: T.undo,
      run: function () {
        state.fields.splice(Math.min(index, state.fields.length), 0, field);
        state.selected = field._uid;
        setDirty(true);
        paintCanvas();
        paintProps();
      },
    });
  }
  function duplicateField(uid) {
    var index = indexOf(uid);
    var source = state.fields[index];
    var copy = JSON.parse(JSON.stringify(clean(source)));
    copy._uid = state.nextUid++;
    copy.key = uniqueKey(source.key);
    copy.label = source.label;
    state.fields.splice(index + 1, 0, copy);
    state.selected = copy._uid;
    setDirty(true);
    paintCanvas();
    paintProps();
  }
  function select(uid) {
    state.selected = uid;
    canvas.querySelectorAll(".lc-canvas-item").forEach(function (item) {
      var on = Number(item.dataset.uid) === uid;
      item.classList.toggle("is-selected", on);
      item.setAttribute("aria-current", on ? "true" : "false");
    });
    paintProps();
  }

  function itemContent(field, item) {
    item.replaceChildren();
    var info = state.byType[field.type] || { label: field.type };
    var head = el("div", "lc-item-head");
    head.appendChild(h("span", { className: "lc-grip", "aria-hidden": "true", text: "⠿" }));
    var title = el("span", "lc-item-label", field.label || "—");
    if (field.required) title.appendChild(h("span", { className: "lc-required", "aria-hidden": "true", text: " *" }));
    head.appendChild(title);
    head.appendChild(el("span", "badge lc-type-badge", info.label));
    if (field.indexed) head.appendChild(el("span", "badge lc-badge-live", "⚡"));
    if (field.width === "half") head.appendChild(el("span", "badge", "½"));
    head.appendChild(el("code", "lc-item-key", field.key));
    var tools = el("div", "lc-item-tools");
    var index = indexOf(field._uid);
    [
      ["↑", T.move_up, function () {
        moveField(field._uid, index - 1);
        focusItem(field._uid);
      }, index === 0],
      ["↓", T.move_down, function () {
        moveField(field._uid, index + 1);
        focusItem(field._uid);
      }, index === state.fields.length - 1],
      ["❐", T.duplicate, function () {
        duplicateField(field._uid);
      }],
      ["×", T.remove, function () {
        removeField(field._uid);
      }],
    ].forEach(function (spec) {
      var b = h("button", { type: "button", className: "lc-icon-btn", "aria-label": spec[1] + ": " + field.label, title: spec[1], text: spec[0] });
      if (spec[3]) b.disabled = true;
      b.addEventListener("click", function (event) {
        event.stopPropagation();
        spec[2]();
      });
      tools.appendChild(b);
    });
    head.appendChild(tools);
    item.appendChild(head);
    var preview = el("div", "lc-item-preview");
    preview.inert = true;
    L.renderForm(preview, [Object.assign({}, field, { width: "full", label: "", required: false })], {}, { preview: true, idPrefix: "cv" + field._uid });
    item.appendChild(preview);
    var errs = state.errors[field._uid];
    if (errs && errs.length) {
      item.classList.add("is-invalid");
      item.appendChild(el("p", "field-error", errs.map(function (e) {
        return e.messages.join(" ");
      }).join(" · ")));
    } else item.classList.remove("is-invalid");
  }
  function focusItem(uid) {
    var item = canvas.querySelector('[data-uid="' + uid + '"]');
    if (item) item.focus();
  }
  function paintCanvas() {
    canvas.replaceChildren();
    state.fields.forEach(function (field) {
      var item = h("li", {
        className: "lc-canvas-item" + (field._uid === state.selected ? " is-selected" : "") + (field.width === "half" ? " is-half" : ""),
        draggable: "true",
        tabindex: "0",
        "data-uid": String(field._uid),
        "data-key": field.key,
        "aria-current": field._uid === state.selected ? "true" : "false",
        "aria-label": field.label + " (" + ((state.byType[field.type] || {}).label || field.type) + ")",
      });
      itemContent(field, item);
      item.addEventListener("click", function () {
        select(field._uid);
      });
      item.addEventListener("keydown", function (event) {
        if (event.target !== item) return;
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select(field._uid);
          var first = props.querySelector("input, select, textarea");
          if (first) first.focus();
        } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
          event.preventDefault();
          moveField(field._uid, indexOf(field._uid) + (event.key === "ArrowUp" ? -1 : 1));
          focusItem(field._uid);
        } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
          event.preventDefault();
          var sibling = event.key === "ArrowUp" ? item.previousElementSibling : item.nextElementSibling;
          if (sibling) sibling.focus();
        } else if (event.key === "Delete") {
          event.preventDefault();
          removeField(field._uid);
        }
      });
      item.addEventListener("dragstart", function (event) {
        dragging = { uid: field._uid };
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", field.key);
        window.setTimeout(function () {
          item.classList.add("is-dragging");
        }, 0);
      });
      item.addEventListener("dragend", endDrag);
      canvas.appendChild(item);
    });
    canvasEmpty.hidden = state.fields.length > 0;
    canvas.classList.toggle("is-empty", state.fields.length === 0);
    paintPreview();
  }
  function refreshItem(field) {
    var item = canvas.querySelector('[data-uid="' + field._uid + '"]');
    if (item) {
      item.dataset.key = field.key;
      item.classList.toggle("is-half", field.width === "half");
      itemContent(field, item);
    }
    schedulePreview();
  }

  /* --- Properties panel ----------------------------------------------------------------- */
  function propErrors(field, prefix) {
    var errs = state.errors[field._uid] || [];
    return errs.filter(function (e) {
      return prefix === "*" ? true : e.sub.indexOf(prefix) === 0;
    });
  }
  function errorNode(field, prefix, claimed) {
    var list = propErrors(field, prefix);
    list.forEach(function (e) {
      claimed.add(e);
    });
    var p = h("p", { className: "field-error", role: "alert", hidden: list.length === 0 });
    p.textContent = list.map(function (e) {
      return e.messages.join(" ");
    }).join(" ");
    return p;
  }
  function changed(field) {
    setDirty(true);
    refreshItem(field);
  }
  function textProp(field, claimed, name, label, opts) {
    opts = opts || {};
    var id = "prop-" + name;
    var input = h(opts.textarea ? "textarea" : "input", { id: id, "data-prop": name, maxLength: opts.max || 100 });
    if (!opts.textarea) input.type = opts.type || "text";
    if (opts.rows) input.rows = opts.rows;
    var current = opts.get ? opts.get() : field[name];
    input.value = current === undefined || current === null ? "" : String(current);
    if (opts.disabled) input.disabled = true;
    var err = errorNode(field, opts.errPath || "." + name, claimed);
    input.addEventListener("input", function () {
      if (opts.set) opts.set(input.value);
      else field[name] = input.value;
      err.hidden = true;
      changed(field);
    });
    var wrap = h("div", { className: "field" }, [h("label", { for: id, text: label }), input]);
    if (opts.help) wrap.appendChild(h("p", { className: "help", text: opts.help }));
    wrap.appendChild(err);
    return wrap;
  }
  function numberOption(field, claimed, name, label, opts) {
    opts = opts || {};
    return textProp(field, claimed, "opt-" + name, label, {
      type: "number",
      errPath: ".options." + name,
      get: function () {
        return (field.options || {})[name];
      },
      set: function (v) {
        field.options = field.options || {};
        if (v === "") delete field.options[name];
        else field.options[name] = opts.integer ? parseInt(v, 10) : Number(v);
      },
    });
  }
  function checkProp(field, name, label, disabled) {
    var input = h("input", { type: "checkbox", "data-prop": name });
    input.checked = !!field[name];
    input.disabled = !!disabled;
    input.addEventListener("change", function () {
      field[name] = input.checked;
      changed(field);
    });
    return h("label", { className: "check" }, [input, label]);
  }
  function selectProp(field, claimed, id, label, choices, get, set, errPath) {
    var select = h("select", { id: id });
    choices.forEach(function (c) {
      select.appendChild(h("option", { value: String(c[0]), text: c[1] }));
    });
    select.value = String(get() === undefined ? "" : get());
    var err = errorNode(field, errPath, claimed);
    select.addEventListener("change", function () {
      set(select.value);
      err.hidden = true;
      changed(field);
    });
    return h("div", { className: "field" }, [h("label", { for: id, text: label }), select, err]);
  }

  function choicesEditor(field, claimed) {
    var box = h("fieldset", { className: "lc-fieldset" }, [h("legend", { text: T.choices })]);
    var list = el("ol", "lc-choices");
    var choices = field.options.choices || (field.options.choices = []);
    function nextId() {
      var n = choices.length + 1;
      var ids = new Set(choices.map(function (c) {
        return c.id;
      }));
      while (ids.has("opt" + n)) n++;
      return "opt" + n;
    }
    function paint() {
      list.replaceChildren();
      choices.forEach(function (choice, i) {
        var input = h("input", { type: "text", value: choice.label, maxLength: 100, "aria-label": L.fmt(T.choice_n, { n: i + 1 }) });
        input.addEventListener("input", function () {
          choice.label = input.value;
          changed(field);
        });
        input.addEventListener("keydown", function (event) {
          if (event.key === "Enter") {
            event.preventDefault();
            choices.splice(i + 1, 0, { id: nextId(), label: L.fmt(T.choice_n, { n: choices.length + 1 }) });
            changed(field);
            paint();
            list.querySelectorAll("input")[i + 1].select();
          }
        });
        var up = h("button", { type: "button", className: "lc-icon-btn", "aria-label": T.move_up, text: "↑", disabled: i === 0 });
        up.addEventListener("click", function () {
          choices.splice(i - 1, 0, choices.splice(i, 1)[0]);
          changed(field);
          paint();
        });
        var x = h("button", { type: "button", className: "lc-icon-btn", "aria-label": T.remove + ": " + choice.label, text: "×" });
        x.addEventListener("click", function () {
          choices.splice(i, 1);
          changed(field);
          paint();
        });
        list.appendChild(h("li", { className: "lc-choice-row" }, [input, up, x]));
      });
    }
    paint();
    box.appendChild(list);
    var add = h("button", { type: "button", className: "btn btn-sm", text: "+ " + T.add_choice });
    add.addEventListener("click", function () {
      choices.push({ id: nextId(), label: L.fmt(T.choice_n, { n: choices.length + 1 }) });
      changed(field);
      paint();
      var inputs = list.querySelectorAll("input");
      inputs[inputs.length - 1].select();
    });
    box.appendChild(add);
    box.appendChild(errorNode(field, ".options", claimed));
    return box;
  }

  function columnsEditor(field, claimed) {
    var box = h("fieldset", { className: "lc-fieldset" }, [h("legend", { text: T.columns })]);
    var list = el("ol", "lc-columns");
    var columns = field.options.columns || (field.options.columns = []);
    var allowed = state.types.filter(function (t) {
      return t.in_sub_table && !t.read_only && t.type !== "sub_table";
    });
    function paint() {
      list.replaceChildren();
      columns.forEach(function (col, i) {
        var label = h("input", { type: "text", value: col.label, maxLength: 100, "aria-label": T.label + " " + (i + 1) });
        var keyTouched = false;
        var key = h("input", { type: "text", value: col.key, maxLength: 40, className: "mono", "aria-label": T.key + " " + (i + 1) });
        label.addEventListener("input", function () {
          col.label = label.value;
          if (!keyTouched && !state.publishedKeys.has(field.key)) {
            col.key = slug(label.value) || "col" + (i + 1);
            key.value = col.key;
          }
          changed(field);
        });
        key.addEventListener("input", function () {
          keyTouched = true;
          col.key = key.value;
          changed(field);
        });
        var type = h("select", { "aria-label": T.column_type + " " + (i + 1) });
        allowed.forEach(function (t) {
          type.appendChild(h("option", { value: t.type, text: t.label }));
        });
        type.value = col.type;
        type.addEventListener("change", function () {
          col.type = type.value;
          col.options = defaultOptions(col.type);
          if (!Object.keys(col.options).length) delete col.options;
          changed(field);
          paint();
        });
        var req = h("input", { type: "checkbox" });
        req.checked = !!col.required;
        req.addEventListener("change", function () {
          if (req.checked) col.required = true;
          else delete col.required;
          changed(field);
        });
        var x = h("button", { type: "button", className: "lc-icon-btn", "aria-label": T.remove + ": " + col.label, text: "×" });
        x.addEventListener("click", function () {
          columns.splice(i, 1);
          changed(field);
          paint();
        });
        var row = h("li", { className: "lc-column-row" }, [
          h("div", { className: "lc-column-main" }, [label, type, x]),
          h("div", { className: "lc-column-sub" }, [key, h("label", { className: "check" }, [req, T.required_label])]),
        ]);
        if (col.type === "single_select" || col.type === "multi_select") {
          var choices = h("input", {
            type: "text",
            "aria-label": T.choices,
            placeholder: T.choices + " (a, b, c)",
            value: ((col.options && col.options.choices) || []).map(function (c) {
              return c.label;
            }).join(", "),
          });
          choices.addEventListener("input", function () {
            col.options = {
              choices: choices.value.split(/[,，、]/).map(function (s) {
                return s.trim();
              }).filter(Boolean).map(function (labelText, n) {
                return { id: "opt" + (n + 1), label: labelText };
              }),
            };
            changed(field);
          });
          row.appendChild(choices);
        }
        list.appendChild(row);
      });
    }
    paint();
    box.appendChild(list);
    var add = h("button", { type: "button", className: "btn btn-sm", text: "+ " + T.add_column });
    add.addEventListener("click", function () {
      var n = columns.length + 1;
      var keys = new Set(columns.map(function (c) {
        return c.key;
      }));
      while (keys.has("col" + n)) n++;
      columns.push({ key: "col" + n, type: "text", label: T.new_field + " " + n });
      changed(field);
      paint();
    });
    box.appendChild(add);
    box.appendChild(errorNode(field, ".options", claimed));
    return box;
  }

  /* The form's own settings, shown when no field is selected. */
  function formSettings() {
    var box = el("div", "lc-props-form lc-form-settings");
    box.appendChild(el("h3", "lc-pane-title", T.settings_tab));
    var desc = h("textarea", { id: "form-description", rows: 3, maxLength: 500 });
    desc.value = state.description;
    desc.addEventListener("input", function () {
      state.description = desc.value;
      setDirty(true);
    });
    box.appendChild(h("div", { className: "field" }, [h("label", { for: "form-description", text: T.description }), desc]));
    var version = state.form && state.form.published_version;
    var selects = version ? version.fields.filter(function (f) {
      return f.type === "single_select";
    }) : [];
    var qr = h("select", { id: "form-qr-field" });
    qr.appendChild(h("option", { value: "", text: T.none }));
    selects.forEach(function (f) {
      qr.appendChild(h("option", { value: f.key, text: f.label }));
    });
    qr.value = state.qrField;
    qr.disabled = selects.length === 0;
    qr.addEventListener("change", function () {
      state.qrField = qr.value;
      setDirty(true);
    });
    box.appendChild(h("div", { className: "field" }, [
      h("label", { for: "form-qr-field", text: T.qr_field }),
      qr,
      h("p", { className: "help", text: T.qr_field_help }),
    ]));
    return box;
  }

  function paintProps() {
    props.replaceChildren();
    var field = findField(state.selected);
    if (!field) {
      props.appendChild(el("p", "muted", T.select_field));
      props.appendChild(formSettings());
      return;
    }
    var info = state.byType[field.type] || { label: field.type, can_index: false, read_only: false };
    var claimed = new Set();
    var form = el("div", "lc-props-form");
    form.appendChild(h("p", { className: "lc-props-type" }, [
      h("span", { className: "lc-glyph", "aria-hidden": "true", text: GLYPHS[field.type] || "•" }),
      info.label,
    ]));
    var keyLocked = !!field._loaded && state.publishedKeys.has(field.key);
    form.appendChild(
      textProp(field, claimed, "label", T.label, {
        set: function (v) {
          field.label = v;
          if (!field._keyTouched && !keyLocked) {
            field.key = uniqueKey(slug(v) || field.type, field);
            var keyInput = props.querySelector("[data-prop=key]");
            if (keyInput) keyInput.value = field.key;
          }
        },
      })
    );
    var keyWrap = textProp(field, claimed, "key", T.key, {
      max: 40,
      disabled: keyLocked,
      help: keyLocked ? T.key_locked : T.key_help,
      set: function (v) {
        field.key = v;
        field._keyTouched = true;
      },
    });
    keyWrap.querySelector("input").classList.add("mono");
    form.appendChild(keyWrap);
    form.appendChild(textProp(field, claimed, "help", T.help_text, { textarea: true, rows: 2, max: 300 }));
    if (PLACEHOLDER_TYPES.indexOf(field.type) !== -1) form.appendChild(textProp(field, claimed, "placeholder", T.placeholder));
    var checks = el("div", "lc-props-checks");
    if (!info.read_only) checks.appendChild(checkProp(field, "required", T.required_label));
    if (info.can_index) checks.appendChild(checkProp(field, "indexed", T.indexed_label));
    form.appendChild(checks);
    form.appendChild(errorNode(field, ".required", claimed));
    form.appendChild(errorNode(field, ".indexed", claimed));
    form.appendChild(
      selectProp(field, claimed, "prop-width", T.width, [["full", T.width_full], ["half", T.width_half]], function () {
        return field.width || "full";
      }, function (v) {
        field.width = v;
      }, ".width")
    );
    field.options = field.options || {};
    var o = field.options;
    var type = field.type;
    if (type === "single_select" || type === "multi_select") form.appendChild(choicesEditor(field, claimed));
    if (type === "text" || type === "long_text") form.appendChild(numberOption(field, claimed, "max_length", T.max_length, { integer: true }));
    if (type === "number" || type === "computed") {
      form.appendChild(numberOption(field, claimed, "decimals", T.decimals, { integer: true }));
    }
    if (type === "number") {
      var row = el("div", "lc-props-row");
      row.appendChild(numberOption(field, claimed, "min", T.min));
      row.appendChild(numberOption(field, claimed, "max", T.max));
      form.appendChild(row);
      form.appendChild(textProp(field, claimed, "opt-unit", T.unit, {
        max: 20,
        errPath: ".options.unit",
        get: function () {
          return o.unit;
        },
        set: function (v) {
          if (v) o.unit = v;
          else delete o.unit;
        },
      }));
    }
    if (type === "money") {
      form.appendChild(selectProp(field, claimed, "prop-currency", T.currency, CURRENCIES.map(function (c) {
        return [c, c];
      }), function () {
        return o.currency || "CNY";
      }, function (v) {
        o.currency = v;
      }, ".options.currency"));
    }
    if (type === "computed") {
      form.appendChild(textProp(field, claimed, "opt-expression", T.expression, {
        max: 500,
        errPath: ".options",
        get: function () {
          return o.expression;
        },
        set: function (v) {
          o.expression = v;
        },
      }));
      var numeric = state.fields.filter(function (f) {
        return f.type === "number" || f.type === "money";
      });
      var hint = el("div", "lc-expr-help");
      hint.appendChild(el("p", "help", numeric.length ? T.expression_help : T.no_number_fields));
      numeric.forEach(function (f) {
        var b = h("button", { type: "button", className: "lc-chip lc-chip-button", text: f.key, title: f.label });
        b.addEventListener("click", function () {
          var input = props.querySelector("#prop-opt-expression");
          var start = input.selectionStart || input.value.length;
          input.value = input.value.slice(0, start) + f.key + input.value.slice(input.selectionEnd || start);
          o.expression = input.value;
          changed(field);
          input.focus();
        });
        hint.appendChild(b);
      });
      form.appendChild(hint);
    }
    if (type === "sub_table") {
      form.appendChild(columnsEditor(field, claimed));
      form.appendChild(numberOption(field, claimed, "max_rows", T.max_rows, { integer: true }));
    }
    if (type === "relation") {
      var forms = state.appForms.filter(function (f) {
        return f.id !== C.form_id;
      });
      form.appendChild(selectProp(field, claimed, "prop-target", T.target_form, [["", T.choose]].concat(forms.map(function (f) {
        return [f.id, f.name];
      })), function () {
        return o.form || "";
      }, function (v) {
        if (v) o.form = Number(v);
        else delete o.form;
      }, ".options"));
    }
    if (type === "member" || type === "department" || type === "relation") {
      var multi = h("input", { type: "checkbox" });
      multi.checked = !!o.multiple;
      multi.addEventListener("change", function () {
        if (multi.checked) o.multiple = true;
        else delete o.multiple;
        changed(field);
      });
      form.appendChild(h("label", { className: "check" }, [multi, T.multiple]));
    }
    if (type === "attachment" || type === "image") form.appendChild(numberOption(field, claimed, "max_files", T.max_files, { integer: true }));
    if (type === "serial") {
      form.appendChild(textProp(field, claimed, "opt-prefix", T.prefix, {
        max: 20,
        errPath: ".options.prefix",
        get: function () {
          return o.prefix;
        },
        set: function (v) {
          if (v) o.prefix = v;
          else delete o.prefix;
        },
      }));
      form.appendChild(numberOption(field, claimed, "digits", T.digits, { integer: true }));
    }
    if (type === "scanned_code") {
      form.appendChild(selectProp(field, claimed, "prop-symbology", T.symbology, [["any", "Any"], ["qr", "QR"], ["ean13", "EAN-13"], ["code128", "Code 128"]], function () {
        return o.symbology || "any";
      }, function (v) {
        if (v === "any") delete o.symbology;
        else o.symbology = v;
      }, ".options"));
    }
    var rest = propErrors(field, "*").filter(function (e) {
      return !claimed.has(e);
    });
    if (rest.length) {
      form.insertBefore(h("div", { className: "alert alert-error lc-props-errors", role: "alert" }, [
        el("div", "alert-body", rest.map(function (e) {
          return e.messages.join(" ");
        }).join(" ")),
      ]), form.children[1]);
    }
    var remove = h("button", { type: "button", className: "btn btn-sm btn-ghost-danger lc-props-remove", text: T.remove });
    remove.addEventListener("click", function () {
      removeField(field._uid);
    });
    form.appendChild(remove);
    props.appendChild(form);
  }

  /* --- Preview -------------------------------------------------------------------------- */
  var previewBox = document.querySelector("[data-preview]");
  var previewTitle = document.querySelector("[data-preview-title]");
  function paintPreview() {
    if (document.querySelector('[data-panel="preview"]').hidden) return;
    previewTitle.textContent = nameInput.value;
    L.renderForm(previewBox, state.fields.map(clean), {}, { preview: true, idPrefix: "pv" });
  }
  var schedulePreview = L.debounce(paintPreview, 150);
  document.querySelectorAll("[data-preview-size]").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll("[data-preview-size]").forEach(function (o) {
        o.setAttribute("aria-pressed", o === b ? "true" : "false");
      });
      document.querySelector("[data-preview-frame]").classList.toggle("is-phone", b.dataset.previewSize === "phone");
    });
  });

  /* --- Tabs ------------------------------------------------------------------------------ */
  var tabs = Array.from(document.querySelectorAll("[data-tab]"));
  function openTab(name) {
    tabs.forEach(function (tab) {
      var on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      document.querySelector('[data-panel="' + tab.dataset.tab + '"]').hidden = !on;
    });
    if (name === "preview") paintPreview();
    if (name === "flow") loadFlow();
  }
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () {
      openTab(tab.dataset.tab);
    });
    tab.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      var next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      openTab(next.dataset.tab);
    });
  });

  /* --- Save and publish -------------------------------------------------------------------- */
  function showBanner(title, items) {
    banner.querySelector("[data-banner-title]").textContent = title;
    var list = banner.querySelector("[data-banner-list]");
    list.replaceChildren();
    (items || []).forEach(function (text) {
      list.appendChild(el("li", "", text));
    });
    banner.hidden = false;
    banner.scrollIntoView({ block: "nearest" });
  }
  function applyErrors(fieldErrors, sent) {
    state.errors = {};
    var general = [];
    Object.keys(fieldErrors || {}).forEach(function (path) {
      var messages = [].concat(fieldErrors[path]);
      var m = /^fields\[(\d+)\](.*)$/.exec(path);
      var field = m && sent[Number(m[1])];
      if (field) {
        (state.errors[field._uid] = state.errors[field._uid] || []).push({ sub: m[2], messages: messages });
      } else if (path === "name") {
        general = general.concat(messages.map(function (msg) {
          return T.form_name + ": " + msg;
        }));
      } else general = general.concat(messages);
    });
    paintCanvas();
    var firstBad = state.fields.find(function (f) {
      return state.errors[f._uid];
    });
    if (firstBad) {
      state.selected = firstBad._uid;
      paintCanvas();
      focusItem(firstBad._uid);
    }
    paintProps();
    return general;
  }
  function save() {
    if (state.saving) return Promise.reject(null);
    state.saving = true;
    banner.hidden = true;
    saveState.textContent = T.saving;
    var sent = state.fields.slice();
    var body = { name: nameInput.value.trim(), description: state.description, fields: sent.map(clean) };
    if (state.qrField !== (state.form.qr_field || "")) body.qr_field = state.qrField;
    return L.api("forms/" + C.form_id + "/", { method: "PATCH", body: body }).then(
      function (form) {
        state.saving = false;
        state.form = form;
        applyErrors({}, sent);
        setDirty(false);
        return form;
      },
      function (err) {
        state.saving = false;
        saveState.textContent = T.unsaved;
        var general = applyErrors(err.fields, sent);
        showBanner(err.status === 400 ? T.fix_errors : err.message, general.length ? general : err.status === 400 ? [] : []);
        throw err;
      }
    );
  }
  function publish() {
    var before = state.dirty || nameInput.value.trim() !== (state.form && state.form.name) ? save() : Promise.resolve(state.form);
    return before.then(function () {
      saveState.textContent = T.saving;
      var sent = state.fields.slice();
      return L.api("forms/" + C.form_id + "/publish/", { method: "POST" }).then(
        function (version) {
          setDirty(false);
          var previous = state.form.published_version;
          var nothing = previous && previous.number === version.number;
          state.form.published_version = version;
          state.publishedKeys = new Set(version.fields.map(function (f) {
            return f.key;
          }));
          state.fields.forEach(function (f) {
            f._loaded = true;
            f._keyTouched = true;
          });
          document.querySelector("[data-version-badge]").textContent = L.fmt(T.version_n, { n: version.number });
          document.querySelector("[data-version-badge]").classList.add("lc-badge-live");
          document.querySelector("[data-open-fill]").hidden = false;
          L.toast(L.fmt(nothing ? T.nothing_to_publish : T.published_version, { n: version.number }), "success");
          paintProps();
        },
        function (err) {
          setDirty(state.dirty);
          if (err.code === "would_orphan_data") {
            var general = applyErrors(err.fields, sent);
            var items = [];
            Object.keys(err.fields).forEach(function (k) {
              items = items.concat(err.fields[k]);
            });
            showBanner(T.would_orphan, items.concat(general.filter(function (g) {
              return items.indexOf(g) === -1;
            })));
          } else if (err.code === "field_in_use") {
            showBanner(T.field_in_use, [].concat(err.fields.fields || [err.message]));
          } else {
            var rest = applyErrors(err.fields, sent);
            showBanner(err.message, rest);
          }
        }
      );
    }, function () {});
  }
  document.querySelector('[data-action="save"]').addEventListener("click", function () {
    save().then(function () {
      L.toast(T.draft_saved, "success");
    }, function () {});
  });
  document.querySelector('[data-action="publish"]').addEventListener("click", publish);
  nameInput.addEventListener("input", function () {
    setDirty(true);
  });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      save().then(function () {
        L.toast(T.draft_saved, "success");
      }, function () {});
    }
  });

  /* --- Approval flow -------------------------------------------------------------------- */
  var flow = { loaded: false, available: true, enabled: false, nodes: [], original: null };
  var nodesBox = document.querySelector("[data-nodes]");
  var nodesEmpty = document.querySelector("[data-nodes-empty]");
  var flowEnabled = document.querySelector("[data-flow-enabled]");
  var flowError = document.querySelector("[data-flow-error]");
  var flowStatus = document.querySelector("[data-flow-status]");
  var nodeErrors = {};
  var ROLES = ["owner", "admin", "member", "guest"];

  function specEditor(spec, onChange, allowNone, label) {
    var box = el("div", "lc-spec");
    var kind = h("select", { "aria-label": label });
    if (allowNone) kind.appendChild(h("option", { value: "", text: T.no_cc }));
    [["members", T.kind_members], ["role", T.kind_role], ["manager", T.kind_manager], ["nth_manager", T.kind_nth_manager]].forEach(function (k) {
      kind.appendChild(h("option", { value: k[0], text: k[1] }));
    });
    kind.value = spec ? spec.kind : "";
    var sub = el("div", "lc-spec-sub");
    function paintSub() {
      sub.replaceChildren();
      if (!spec) return;
      if (spec.kind === "members") {
        var chips = el("div", "lc-chips");
        spec.members.forEach(function (id) {
          var chip = el("span", "lc-chip");
          var name = el("span", "", L.names.member.get(id) || "…");
          L.loadName("member", id).then(function (n) {
            name.textContent = n;
          });
          chip.appendChild(name);
          var x = h("button", { type: "button", className: "lc-chip-x", "aria-label": T.remove, text: "×" });
          x.addEventListener("click", function () {
            spec.members = spec.members.filter(function (m) {
              return m !== id;
            });
            onChange(spec);
            paintSub();
          });
          chip.appendChild(x);
          chips.appendChild(chip);
        });
        sub.appendChild(chips);
        var picker = L.memberPicker(function (item) {
          if (spec.members.indexOf(item.id) === -1) spec.members.push(item.id);
          onChange(spec);
          paintSub();
          var again = sub.querySelector("input");
          if (again) again.focus();
        }, T.pick_member);
        picker.input.setAttribute("aria-label", label + ": " + T.pick_member);
        picker.input.setAttribute("data-approver-search", "");
        sub.appendChild(picker);
      } else if (spec.kind === "role") {
        var role = h("select", { "aria-label": T.kind_role });
        ROLES.forEach(function (r) {
          role.appendChild(h("option", { value: r, text: T["role_" + r] }));
        });
        role.value = spec.role || "admin";
        role.addEventListener("change", function () {
          spec.role = role.value;
          onChange(spec);
        });
        sub.appendChild(role);
      } else if (spec.kind === "nth_manager") {
        var level = h("input", { type: "number", min: "1", max: "10", value: String(spec.level || 2), "aria-label": T.level });
        level.addEventListener("input", function () {
          spec.level = parseInt(level.value, 10) || 1;
          onChange(spec);
        });
        sub.appendChild(h("label", { className: "lc-inline-label" }, [T.level, level]));
      }
    }
    kind.addEventListener("change", function () {
      var k = kind.value;
      spec = !k ? null : k === "members" ? { kind: k, members: [] } : k === "role" ? { kind: k, role: "admin" } : k === "nth_manager" ? { kind: k, level: 2 } : { kind: k };
      onChange(spec);
      paintSub();
    });
    box.appendChild(kind);
    box.appendChild(sub);
    paintSub();
    return box;
  }
  function conditionFields() {
    var version = state.form && state.form.published_version;
    return version ? version.fields.filter(function (f) {
      return ["number", "money", "text", "single_select", "checkbox", "date", "serial", "department", "member"].indexOf(f.type) !== -1;
    }) : [];
  }
  function conditionEditor(node, index) {
    var box = el("div", "lc-condition");
    var fields = conditionFields();
    var fieldSel = h("select", { "aria-label": T.condition + " (" + L.fmt(T.step_n, { n: index + 1 }) + ")" });
    fieldSel.appendChild(h("option", { value: "", text: T.no_condition }));
    fields.forEach(function (f) {
      fieldSel.appendChild(h("option", { value: f.key, text: f.label }));
    });
    var cond = node.condition || null;
    fieldSel.value = cond ? cond.field : "";
    var rest = el("span", "lc-condition-rest");
    function paintRest() {
      rest.replaceChildren();
      if (!cond) return;
      var field = fields.find(function (f) {
        return f.key === cond.field;
      }) || { type: "text" };
      var op = h("select", { "aria-label": T.operator });
      var ops = field.type === "number" || field.type === "money" || field.type === "date" ? ["gt", "gte", "lt", "lte", "eq", "ne"] : ["eq", "ne", "in"];
      ops.forEach(function (o) {
        op.appendChild(h("option", { value: o, text: T["op_" + o] }));
      });
      if (ops.indexOf(cond.op) === -1) cond.op = ops[0];
      op.value = cond.op;
      var value;
      if (field.type === "single_select") {
        value = h("select", { "aria-label": T.value });
        ((field.options && field.options.choices) || []).forEach(function (c) {
          value.appendChild(h("option", { value: c.id, text: c.label }));
        });
        if (cond.op === "in") value.multiple = true;
      } else if (field.type === "checkbox") {
        value = h("select", { "aria-label": T.value });
        value.appendChild(h("option", { value: "true", text: T.yes }));
        value.appendChild(h("option", { value: "false", text: T.no }));
      } else {
        value = h("input", { type: field.type === "date" ? "date" : field.type === "number" || field.type === "money" ? "number" : "text", "aria-label": T.value, step: "any" });
      }
      function shown() {
        var v = cond.value;
        if (field.type === "money" && typeof v === "number") return String(v / 100);
        if (Array.isArray(v)) return v.join(", ");
        return v === undefined || v === null ? "" : String(v);
      }
      if (value.multiple) {
        Array.from(value.options).forEach(function (o) {
          o.selected = Array.isArray(cond.value) && cond.value.indexOf(o.value) !== -1;
        });
      } else value.value = shown();
      function read() {
        if (value.multiple) {
          cond.value = Array.from(value.selectedOptions).map(function (o) {
            return o.value;
          });
          return;
        }
        var raw = value.value;
        if (field.type === "money") cond.value = raw === "" ? null : Math.round(Number(raw) * 100);
        else if (field.type === "number") cond.value = raw === "" ? null : Number(raw);
        else if (field.type === "checkbox") cond.value = raw === "true";
        else if (cond.op === "in") cond.value = raw.split(",").map(function (s) {
          return s.trim();
        }).filter(Boolean);
        else cond.value = raw;
      }
      op.addEventListener("change", function () {
        cond.op = op.value;
        paintRest();
        read();
      });
      value.addEventListener("input", read);
      value.addEventListener("change", read);
      if (cond.value === undefined) read();
      rest.appendChild(op);
      rest.appendChild(value);
      if (field.type === "money") rest.appendChild(el("span", "muted", (field.options && field.options.currency) || "CNY"));
    }
    fieldSel.addEventListener("change", function () {
      if (!fieldSel.value) {
        cond = null;
        delete node.condition;
      } else {
        cond = { field: fieldSel.value, op: "gt", value: undefined };
        node.condition = cond;
      }
      paintRest();
    });
    box.appendChild(fieldSel);
    box.appendChild(rest);
    paintRest();
    return box;
  }
  function paintNodes() {
    nodesBox.replaceChildren();
    flow.nodes.forEach(function (node, index) {
      var li = h("li", { className: "lc-node card", "data-node": String(index) });
      var head = el("div", "lc-node-head");
      head.appendChild(el("span", "lc-node-index", String(index + 1)));
      var name = h("input", { type: "text", value: node.name, maxLength: 80, "aria-label": T.node_name + " " + (index + 1), className: "lc-node-name", "data-node-name": "" });
      name.addEventListener("input", function () {
        node.name = name.value;
      });
      head.appendChild(name);
      [["↑", T.move_up, -1], ["↓", T.move_down, 1]].forEach(function (spec) {
        var b = h("button", { type: "button", className: "lc-icon-btn", "aria-label": spec[1], text: spec[0] });
        var target = index + spec[2];
        b.disabled = target < 0 || target >= flow.nodes.length;
        b.addEventListener("click", function () {
          flow.nodes.splice(target, 0, flow.nodes.splice(index, 1)[0]);
          paintNodes();
        });
        head.appendChild(b);
      });
      var x = h("button", { type: "button", className: "lc-icon-btn", "aria-label": T.remove + ": " + node.name, text: "×" });
      x.addEventListener("click", function () {
        flow.nodes.splice(index, 1);
        paintNodes();
      });
      head.appendChild(x);
      li.appendChild(head);
      var grid = el("div", "lc-node-grid");
      grid.appendChild(h("div", { className: "field" }, [h("span", { className: "lc-label", text: T.approvers }), specEditor(node.approvers, function (spec) {
        node.approvers = spec;
      }, false, T.approvers)]));
      var mode = h("select", { "aria-label": T.mode });
      ["sequential", "all", "any"].forEach(function (m) {
        mode.appendChild(h("option", { value: m, text: T["mode_" + m] }));
      });
      mode.value = node.mode || "sequential";
      mode.addEventListener("change", function () {
        node.mode = mode.value;
      });
      grid.appendChild(h("div", { className: "field" }, [h("span", { className: "lc-label", text: T.mode }), mode]));
      grid.appendChild(h("div", { className: "field" }, [h("span", { className: "lc-label", text: T.condition }), conditionEditor(node, index)]));
      grid.appendChild(h("div", { className: "field" }, [h("span", { className: "lc-label", text: T.cc }), specEditor(node.cc || null, function (spec) {
        if (spec) node.cc = spec;
        else delete node.cc;
      }, true, T.cc)]));
      var limit = h("input", { type: "number", min: "1", max: "720", value: node.time_limit_hours ? String(node.time_limit_hours) : "", "aria-label": T.time_limit });
      limit.addEventListener("input", function () {
        if (limit.value) node.time_limit_hours = parseInt(limit.value, 10);
        else delete node.time_limit_hours;
      });
      grid.appendChild(h("div", { className: "field" }, [h("span", { className: "lc-label", text: T.time_limit }), limit]));
      li.appendChild(grid);
      if (nodeErrors[index]) li.appendChild(h("p", { className: "field-error", role: "alert", text: nodeErrors[index].join(" ") }));
      nodesBox.appendChild(li);
    });
    nodesEmpty.hidden = flow.nodes.length > 0;
  }
  function paintFlowCc() {
    var box = document.querySelector("[data-flow-cc]");
    box.replaceChildren(specEditor(flow.cc, function (spec) {
      flow.cc = spec;
    }, true, T.cc));
  }
  function loadFlow() {
    if (flow.loaded) return;
    flow.loaded = true;
    L.api("forms/" + C.form_id + "/approval-flow/").then(
      function (data) {
        flow.enabled = data.is_enabled;
        flow.original = data.definition;
        flow.nodes = JSON.parse(JSON.stringify((data.definition && data.definition.nodes) || []));
        flowEnabled.checked = flow.enabled;
        flow.cc = data.definition && data.definition.cc ? JSON.parse(JSON.stringify(data.definition.cc)) : null;
        paintFlowCc();
        paintNodes();
      },
      function (err) {
        flow.available = err.status !== 404;
        flowError.textContent = err.status === 404 ? T.flow_unavailable : err.message;
        flowError.hidden = false;
        flow.loaded = false;
      }
    );
  }
  document.querySelector('[data-action="add-node"]').addEventListener("click", function () {
    var ids = new Set(flow.nodes.map(function (n) {
      return n.id;
    }));
    var n = flow.nodes.length + 1;
    while (ids.has("n" + n)) n++;
    flow.nodes.push({ id: "n" + n, name: L.fmt(T.step_n, { n: flow.nodes.length + 1 }), approvers: { kind: "manager" }, mode: "sequential" });
    if (flow.nodes.length === 1) flowEnabled.checked = true;
    paintNodes();
    var inputs = nodesBox.querySelectorAll("[data-node-name]");
    inputs[inputs.length - 1].select();
  });
  document.querySelector('[data-action="save-flow"]').addEventListener("click", function () {
    flowError.hidden = true;
    nodeErrors = {};
    var nodes = flow.nodes;
    var enabled = flowEnabled.checked;
    if (!nodes.length && !enabled && flow.original && flow.original.nodes && flow.original.nodes.length) nodes = flow.original.nodes;
    flowStatus.textContent = T.saving;
    var definition = { nodes: nodes };
    if (flow.cc) definition.cc = flow.cc;
    L.api("forms/" + C.form_id + "/approval-flow/", { method: "PUT", body: { is_enabled: enabled, definition: definition } }).then(
      function (data) {
        flowStatus.textContent = T.saved;
        flow.original = data.definition;
        paintNodes();
        L.toast(T.flow_saved, "success");
      },
      function (err) {
        flowStatus.textContent = "";
        var general = [];
        Object.keys(err.fields).forEach(function (path) {
          var m = /^definition\.nodes[.[](\d+)/.exec(path);
          if (m) (nodeErrors[Number(m[1])] = nodeErrors[Number(m[1])] || []).push([].concat(err.fields[path]).join(" "));
          else general = general.concat(err.fields[path]);
        });
        flowError.textContent = err.message + (general.length ? " " + general.join(" ") : "");
        flowError.hidden = false;
        paintNodes();
      }
    );
  });

  /* --- Load ----------------------------------------------------------------------------- */
  Promise.all([L.api("field-types/"), L.api("forms/" + C.form_id + "/"), L.api("forms/?app=" + C.app_id)]).then(
    function (loaded) {
      state.types = loaded[0];
      state.types.forEach(function (t) {
        state.byType[t.type] = t;
      });
      state.form = loaded[1];
      state.appForms = loaded[2];
      state.description = state.form.description || "";
      state.qrField = state.form.qr_field || "";
      state.fields = (state.form.draft_fields || []).map(function (f) {
        return withUid(JSON.parse(JSON.stringify(f)));
      });
      if (state.form.published_version) {
        state.publishedKeys = new Set(state.form.published_version.fields.map(function (f) {
          return f.key;
        }));
      }
      paintPalette();
      paintCanvas();
      paintProps();
      setDirty(false);
      if (window.location.hash === "#flow") openTab("flow");
    },
    function (err) {
      showBanner(err.message, []);
    }
  );
})();
