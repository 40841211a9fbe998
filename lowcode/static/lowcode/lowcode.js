/* Tack low-code — shared helpers for the low-code pages.
 *
 * window.TackLowcode holds: the configuration and translated strings passed by the page
 * (json_script "lc-config"), the API client (session cookie + X-CSRFToken; errors carry
 * the envelope {"error": {"code", "message", "fields"}}), DOM helpers, toasts with an
 * optional action (Undo), value display, and the form renderer shared by the fill page,
 * the designer's live preview and the record editor.
 *
 * Safety: every piece of user text goes through textContent; no HTML is built from data.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("lc-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var T = config.strings;
  var LANG = document.documentElement.lang || "en";

  /* --- DOM helpers --------------------------------------------------------------------- */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.indexOf("on") === 0 && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function fmt(text, vars) {
    return String(text).replace(/%\((\w+)\)s/g, function (_m, key) {
      return vars && key in vars ? String(vars[key]) : "";
    });
  }
  var cookie = TackApi.cookie;
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        fn.apply(null, args);
      }, ms);
    };
  }
  var iconTemplate = document.querySelector("template[data-lc-icons]");
  function icon(name) {
    var holder = iconTemplate && iconTemplate.content.querySelector('[data-icon="' + name + '"]');
    return holder ? holder.firstElementChild.cloneNode(true) : el("span");
  }

  /* --- API ----------------------------------------------------------------------------- */
  var ApiError = TackApi.ApiError;
  var results = TackApi.results;
  function api(path, options) {
    var url = path.charAt(0) === "/" ? path : config.lowcode_api + path;
    return TackApi.request(url, options, { error: T.load_error, network: T.network_error });
  }

  /* --- Toasts -------------------------------------------------------------------------- */
  function toast(text, kind, action) {
    var box = document.querySelector("[data-lc-toasts]");
    if (!box) return;
    var item = el("div", "lc-toast" + (kind ? " lc-toast-" + kind : ""));
    item.appendChild(el("span", "lc-toast-text", text));
    var leave = function () {
      item.classList.add("is-leaving");
      window.setTimeout(function () {
        item.remove();
      }, 250);
    };
    if (action) {
      var button = el("button", "lc-toast-action", action.label);
      button.type = "button";
      button.addEventListener("click", function () {
        leave();
        action.run();
      });
      item.appendChild(button);
    }
    box.appendChild(item);
    window.setTimeout(leave, action ? 8000 : 3600);
  }

  /* --- Dates and display ------------------------------------------------------------------ */
  var dateTimeFormat = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });
  function when(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : dateTimeFormat.format(date);
  }
  var names = { member: new Map(), department: new Map() };
  var pendingNames = new Map();
  function loadName(kind, id) {
    var key = kind + ":" + id;
    if (names[kind].has(id)) return Promise.resolve(names[kind].get(id));
    if (pendingNames.has(key)) return pendingNames.get(key);
    var path = "/api/v1/orgs/" + config.org_id + (kind === "member" ? "/members/" : "/departments/") + id + "/";
    var promise = api(path).then(
      function (data) {
        var name = kind === "member" ? data.user.display_name : data.name;
        names[kind].set(id, name);
        return name;
      },
      function () {
        names[kind].set(id, "#" + id);
        return "#" + id;
      }
    );
    pendingNames.set(key, promise);
    return promise;
  }
  function choiceLabel(field, id) {
    var choices = (field.options && field.options.choices) || [];
    for (var i = 0; i < choices.length; i++) if (choices[i].id === id) return choices[i].label;
    return id;
  }
  function money(value) {
    if (!value || typeof value !== "object") return "";
    var amount = Number(value.amount) / 100;
    try {
      return new Intl.NumberFormat(LANG, { style: "currency", currency: value.currency || "CNY" }).format(amount);
    } catch (_e) {
      return amount.toFixed(2) + " " + (value.currency || "");
    }
  }
  /* A node showing a stored value; member/department names fill in when known. */
  function display(field, value) {
    var span = el("span", "lc-value");
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) {
      span.classList.add("is-empty");
      span.textContent = "—";
      return span;
    }
    var type = field.type;
    var text;
    if (type === "money") text = money(value);
    else if (type === "number" || type === "computed") {
      text = typeof value === "number" ? value.toLocaleString(LANG) : String(value);
      if (field.options && field.options.unit) text += " " + field.options.unit;
    } else if (type === "single_select") {
      var chip = el("span", "lc-choice", choiceLabel(field, value));
      return chip;
    } else if (type === "multi_select") {
      value.forEach(function (id) {
        span.appendChild(el("span", "lc-choice", choiceLabel(field, id)));
      });
      return span;
    } else if (type === "checkbox") text = value ? "✓ " + T.yes : T.no;
    else if (type === "datetime" || type === "created_at") text = when(value);
    else if (type === "member" || type === "department" || type === "created_by") {
      var kind = type === "department" ? "department" : "member";
      var ids = Array.isArray(value) ? value : [value];
      if (value && typeof value === "object" && !Array.isArray(value) && value.name) {
        span.textContent = value.name;
        return span;
      }
      span.textContent = ids.map(function (id) {
        return names[kind].get(id) || "…";
      }).join(", ");
      Promise.all(ids.map(function (id) {
        return loadName(kind, id);
      })).then(function (list) {
        span.textContent = list.join(", ");
      });
      return span;
    } else if (type === "relation") {
      text = (Array.isArray(value) ? value : [value]).map(function (id) {
        return "#" + id;
      }).join(", ");
    } else if (type === "attachment" || type === "image") {
      text = "⊞ " + value.length;
    } else if (type === "sub_table") {
      text = fmt(value.length === 1 ? "%(count)s ×" : "%(count)s ×", { count: value.length });
      var cols = (field.options && field.options.columns) || [];
      text = value.length + " · " + cols.map(function (c) {
        return c.label;
      }).join(" / ");
    } else text = String(value);
    span.textContent = text;
    return span;
  }

  /* --- The form renderer ---------------------------------------------------------------- */
  var READ_ONLY = { serial: 1, computed: 1, created_by: 1, created_at: 1 };

  function isEmpty(value) {
    return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
  }

  /* Money: "1,234.5" (major units) -> 123450 minor units, or NaN. */
  function toMinor(text) {
    var cleaned = String(text).replace(/[,\s]/g, "");
    if (!/^-?\d+(\.\d{0,2})?$/.test(cleaned)) return NaN;
    var negative = cleaned.charAt(0) === "-";
    var parts = cleaned.replace("-", "").split(".");
    var minor = Number(parts[0]) * 100 + Number(((parts[1] || "") + "00").slice(0, 2));
    return negative ? -minor : minor;
  }
  function fromMinor(amount) {
    if (typeof amount !== "number") return "";
    return (amount / 100).toFixed(2);
  }
  function localDateTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var pad = function (n) {
      return ("0" + n).slice(-2);
    };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  /* Turn a query-string text into a value for a field (QR pre-fill). */
  function parseText(field, text) {
    var type = field.type;
    if (text === "" || text === undefined || text === null) return undefined;
    if (type === "number") return isNaN(Number(text)) ? undefined : Number(text);
    if (type === "money") {
      var minor = toMinor(text);
      return isNaN(minor) ? undefined : { amount: minor, currency: (field.options && field.options.currency) || "CNY" };
    }
    if (type === "checkbox") return /^(1|true|yes|y|on|是)$/i.test(text);
    if (type === "single_select") {
      var choices = (field.options && field.options.choices) || [];
      for (var i = 0; i < choices.length; i++) {
        if (choices[i].id === text || choices[i].label.toLowerCase() === String(text).toLowerCase()) return choices[i].id;
      }
      return undefined;
    }
    if (type === "multi_select") {
      return String(text).split(",").map(function (part) {
        return parseText({ type: "single_select", options: field.options }, part.trim());
      }).filter(function (v) {
        return v !== undefined;
      });
    }
    if (type === "member" || type === "department" || type === "relation") {
      var ids = String(text).split(",").map(Number).filter(function (n) {
        return n > 0;
      });
      if (!ids.length) return undefined;
      return field.options && field.options.multiple ? ids : ids[0];
    }
    if (READ_ONLY[type] || type === "attachment" || type === "image" || type === "sub_table") return undefined;
    return String(text);
  }

  var departmentsPromise = null;
  function departments() {
    if (!departmentsPromise) {
      departmentsPromise = api("/api/v1/orgs/" + config.org_id + "/departments/?page_size=500").then(results, function () {
        departmentsPromise = null;
        return [];
      });
    }
    return departmentsPromise;
  }
  function searchMembers(query) {
    return api("/api/v1/orgs/" + config.org_id + "/members/?status=active&page_size=8&q=" + encodeURIComponent(query)).then(function (data) {
      return results(data).map(function (m) {
        names.member.set(m.id, m.user.display_name);
        return { id: m.id, name: m.user.display_name, email: m.user.email || "" };
      });
    });
  }

  /* A member search box: calls onPick({id, name}). */
  function memberPicker(onPick, placeholder, idBase) {
    var wrap = el("div", "lc-picker");
    var input = h("input", {
      type: "search",
      className: "lc-picker-input",
      placeholder: placeholder || T.search_members,
      autocomplete: "off",
      role: "combobox",
      "aria-expanded": "false",
      "aria-autocomplete": "list",
    });
    if (idBase) input.id = idBase;
    var list = h("ul", { className: "lc-picker-list", role: "listbox", hidden: true });
    var listId = "lc-pl-" + uuid().slice(0, 8);
    list.id = listId;
    input.setAttribute("aria-controls", listId);
    var items = [];
    var active = -1;
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }
    function choose(item) {
      onPick(item);
      input.value = "";
      close();
    }
    function paint() {
      list.replaceChildren();
      if (!items.length) {
        list.appendChild(el("li", "lc-picker-empty", T.no_match));
      }
      items.forEach(function (item, index) {
        var li = h("li", { className: "lc-picker-item" + (index === active ? " is-active" : ""), role: "option", "aria-selected": index === active ? "true" : "false" }, [
          el("span", "lc-picker-name", item.name),
          item.email ? el("span", "lc-picker-meta", item.email) : null,
        ]);
        li.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(item);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    var run = debounce(function () {
      var q = input.value.trim();
      searchMembers(q).then(
        function (found) {
          items = found;
          active = found.length ? 0 : -1;
          paint();
        },
        function () {
          items = [];
          paint();
        }
      );
    }, 180);
    input.addEventListener("input", run);
    input.addEventListener("focus", run);
    input.addEventListener("blur", function () {
      window.setTimeout(close, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && items.length) {
        event.preventDefault();
        active = (active + 1) % items.length;
        paint();
      } else if (event.key === "ArrowUp" && items.length) {
        event.preventDefault();
        active = (active - 1 + items.length) % items.length;
        paint();
      } else if (event.key === "Enter") {
        if (!list.hidden && items[active]) {
          event.preventDefault();
          choose(items[active]);
        }
      } else if (event.key === "Escape") {
        close();
      }
    });
    wrap.appendChild(input);
    wrap.appendChild(list);
    wrap.input = input;
    return wrap;
  }

  var fieldCounter = 0;

  /* One control for a field; returns {node, get(), set(value), focus()} */
  function control(field, value, opts) {
    var type = field.type;
    var id = "lcf-" + (opts.idPrefix || "") + field.key + "-" + ++fieldCounter;
    var options = field.options || {};
    var ctl = { id: id, node: null, get: null, set: null };
    var input;
    if (READ_ONLY[type]) {
      ctl.node = el("div", "lc-readonly", isEmpty(value) ? T.auto_filled : "");
      if (!isEmpty(value)) ctl.node.appendChild(display(field, value));
      ctl.get = function () {
        return undefined;
      };
      ctl.readOnly = true;
      return ctl;
    }
    if (type === "long_text") {
      input = h("textarea", { id: id, rows: 3, placeholder: field.placeholder || "", maxLength: options.max_length || 5000 });
      input.value = value || "";
      ctl.node = input;
      ctl.get = function () {
        return input.value.trim() || undefined;
      };
    } else if (type === "number") {
      var wrapN = el("div", "lc-affix");
      input = h("input", { id: id, type: "number", inputmode: "decimal", placeholder: field.placeholder || "" });
      input.step = options.decimals !== undefined ? String(Math.pow(10, -options.decimals)) : "any";
      if (options.min !== undefined) input.min = String(options.min);
      if (options.max !== undefined) input.max = String(options.max);
      if (typeof value === "number") input.value = String(value);
      wrapN.appendChild(input);
      if (options.unit) wrapN.appendChild(el("span", "lc-affix-text", options.unit));
      ctl.node = wrapN;
      ctl.get = function () {
        if (input.value === "") return input.validity && input.validity.badInput ? NaN : undefined;
        return Number(input.value);
      };
    } else if (type === "money") {
      var wrapM = el("div", "lc-affix");
      var currency = (value && value.currency) || options.currency || "CNY";
      wrapM.appendChild(el("span", "lc-affix-text", currency));
      input = h("input", { id: id, type: "text", inputmode: "decimal", placeholder: field.placeholder || "0.00", autocomplete: "off" });
      input.value = value ? fromMinor(value.amount) : "";
      wrapM.appendChild(input);
      ctl.node = wrapM;
      ctl.get = function () {
        if (input.value.trim() === "") return undefined;
        var minor = toMinor(input.value);
        if (isNaN(minor)) return NaN;
        return { amount: minor, currency: currency };
      };
    } else if (type === "date") {
      input = h("input", { id: id, type: "date" });
      input.value = value || "";
      ctl.node = input;
      ctl.get = function () {
        return input.value || undefined;
      };
    } else if (type === "datetime") {
      input = h("input", { id: id, type: "datetime-local" });
      input.value = localDateTime(value);
      ctl.node = input;
      ctl.get = function () {
        if (!input.value) return undefined;
        var d = new Date(input.value);
        return isNaN(d.getTime()) ? input.value : d.toISOString();
      };
    } else if (type === "single_select") {
      input = h("select", { id: id });
      input.appendChild(h("option", { value: "", text: T.choose }));
      (options.choices || []).forEach(function (c) {
        input.appendChild(h("option", { value: c.id, text: c.label }));
      });
      input.value = value || "";
      ctl.node = input;
      ctl.get = function () {
        return input.value || undefined;
      };
    } else if (type === "multi_select") {
      var group = h("div", { className: "lc-checks", role: "group", id: id, tabindex: "-1" });
      var chosen = Array.isArray(value) ? value : [];
      (options.choices || []).forEach(function (c) {
        var box = h("input", { type: "checkbox", value: c.id });
        box.checked = chosen.indexOf(c.id) !== -1;
        group.appendChild(h("label", { className: "check" }, [box, c.label]));
      });
      ctl.node = group;
      ctl.get = function () {
        var picked = Array.from(group.querySelectorAll("input:checked")).map(function (b) {
          return b.value;
        });
        return picked.length ? picked : undefined;
      };
    } else if (type === "checkbox") {
      input = h("input", { id: id, type: "checkbox" });
      input.checked = value === true;
      ctl.node = h("label", { className: "check lc-check-one" }, [input, field.placeholder || field.label]);
      ctl.get = function () {
        return input.checked ? true : undefined;
      };
    } else if (type === "member") {
      ctl.node = memberControl(field, value, id);
      ctl.get = ctl.node.getValue;
    } else if (type === "department") {
      input = h("select", { id: id });
      input.appendChild(h("option", { value: "", text: T.choose }));
      if (options.multiple) input.multiple = true;
      departments().then(function (list) {
        list.forEach(function (d) {
          names.department.set(d.id, d.name);
          var option = h("option", { value: String(d.id), text: d.name });
          var chosen = Array.isArray(value) ? value : [value];
          option.selected = chosen.indexOf(d.id) !== -1;
          input.appendChild(option);
        });
      });
      ctl.node = input;
      ctl.get = function () {
        if (options.multiple) {
          var ids = Array.from(input.selectedOptions).map(function (o) {
            return Number(o.value);
          }).filter(Boolean);
          return ids.length ? ids : undefined;
        }
        return input.value ? Number(input.value) : undefined;
      };
    } else if (type === "relation") {
      input = h("select", { id: id });
      input.appendChild(h("option", { value: "", text: T.choose }));
      if (options.multiple) input.multiple = true;
      if (options.form && !opts.preview) {
        api("records/?form=" + options.form + "&limit=100").then(function (page) {
          page.results.forEach(function (r) {
            var first = Object.keys(r.data).map(function (k) {
              return r.data[k];
            }).filter(function (v) {
              return typeof v === "string";
            })[0];
            var option = h("option", { value: String(r.id), text: "#" + r.number + (first ? " · " + first : "") });
            var chosen = Array.isArray(value) ? value : [value];
            option.selected = chosen.indexOf(r.id) !== -1;
            input.appendChild(option);
          });
        }, function () {});
      }
      ctl.node = input;
      ctl.get = function () {
        if (options.multiple) {
          var ids = Array.from(input.selectedOptions).map(function (o) {
            return Number(o.value);
          }).filter(Boolean);
          return ids.length ? ids : undefined;
        }
        return input.value ? Number(input.value) : undefined;
      };
    } else if (type === "attachment" || type === "image") {
      ctl.node = fileControl(field, value, id, opts);
      ctl.get = ctl.node.getValue;
    } else if (type === "sub_table") {
      ctl.node = subTableControl(field, value, id, opts);
      ctl.get = ctl.node.getValue;
      ctl.setErrors = ctl.node.setErrors;
    } else {
      var inputType = { phone: "tel", email: "email" }[type] || "text";
      input = h("input", { id: id, type: inputType, placeholder: field.placeholder || "", autocomplete: "off" });
      if (type === "phone") input.inputMode = "tel";
      if (options.max_length) input.maxLength = options.max_length;
      input.value = value || "";
      if (type === "scanned_code") {
        var wrapS = el("div", "lc-scan");
        wrapS.appendChild(input);
        var scan = h("button", { type: "button", className: "btn lc-scan-btn", text: T.scan });
        scan.addEventListener("click", function () {
          scanInto(input);
        });
        wrapS.appendChild(scan);
        ctl.node = wrapS;
      } else {
        ctl.node = input;
      }
      ctl.get = function () {
        return input.value.trim() || undefined;
      };
    }
    ctl.input = input;
    return ctl;
  }

  function scanInto(input) {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
      toast(T.scan_unsupported, "error");
      input.focus();
      return;
    }
    var dialog = h("dialog", { className: "dialog lc-scan-dialog" });
    var video = h("video", { playsinline: true, muted: true, className: "lc-scan-video" });
    var stop = h("button", { type: "button", className: "btn", text: T.cancel });
    dialog.appendChild(video);
    dialog.appendChild(h("div", { className: "dialog-actions" }, [stop]));
    document.body.appendChild(dialog);
    var stream = null;
    var done = false;
    function finish() {
      done = true;
      if (stream) stream.getTracks().forEach(function (t) {
        t.stop();
      });
      dialog.close();
      dialog.remove();
    }
    stop.addEventListener("click", finish);
    dialog.showModal();
    var detector = new window.BarcodeDetector();
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.play();
      var tick = function () {
        if (done) return;
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            input.value = codes[0].rawValue;
            input.dispatchEvent(new Event("input", { bubbles: true }));
            finish();
          } else window.setTimeout(tick, 250);
        }, function () {
          window.setTimeout(tick, 400);
        });
      };
      tick();
    }, function () {
      finish();
      toast(T.scan_unsupported, "error");
    });
  }

  function memberControl(field, value, id) {
    var multiple = field.options && field.options.multiple;
    var picked = (Array.isArray(value) ? value : isEmpty(value) ? [] : [value]).slice();
    var box = el("div", "lc-members");
    var chips = el("div", "lc-chips");
    function paint() {
      chips.replaceChildren();
      picked.forEach(function (memberId) {
        var chip = el("span", "lc-chip");
        var label = el("span", "", names.member.get(memberId) || "…");
        loadName("member", memberId).then(function (name) {
          label.textContent = name;
        });
        chip.appendChild(label);
        var x = h("button", { type: "button", className: "lc-chip-x", "aria-label": T.remove, text: "×" });
        x.addEventListener("click", function () {
          picked = picked.filter(function (p) {
            return p !== memberId;
          });
          paint();
        });
        chip.appendChild(x);
        chips.appendChild(chip);
      });
      picker.hidden = !multiple && picked.length > 0;
    }
    var picker = memberPicker(function (item) {
      if (picked.indexOf(item.id) === -1) picked = multiple ? picked.concat([item.id]) : [item.id];
      paint();
    }, T.search_members, id);
    box.appendChild(chips);
    box.appendChild(picker);
    paint();
    box.getValue = function () {
      if (!picked.length) return undefined;
      return multiple ? picked.slice() : picked[0];
    };
    return box;
  }

  function fileControl(field, value, id, opts) {
    var files = (Array.isArray(value) ? value : []).map(function (fid) {
      return { id: fid, name: "#" + fid };
    });
    var box = el("div", "lc-files");
    var list = el("div", "lc-chips");
    var input = h("input", { type: "file", id: id, className: "sr-only", multiple: true });
    if (field.type === "image") input.accept = "image/*";
    var label = h("label", { className: "btn btn-sm lc-upload", for: id }, [T.upload]);
    function paint() {
      list.replaceChildren();
      files.forEach(function (f) {
        var chip = el("span", "lc-chip" + (f.uploading ? " is-busy" : ""));
        if (f.url && field.type === "image") chip.appendChild(h("img", { src: f.url, alt: "", className: "lc-thumb" }));
        chip.appendChild(el("span", "", f.uploading ? T.uploading + " " + f.name : f.name));
        var x = h("button", { type: "button", className: "lc-chip-x", "aria-label": T.remove, text: "×" });
        x.addEventListener("click", function () {
          files = files.filter(function (o) {
            return o !== f;
          });
          paint();
        });
        chip.appendChild(x);
        list.appendChild(chip);
      });
    }
    input.addEventListener("change", function () {
      Array.from(input.files || []).forEach(function (file) {
        var entry = { name: file.name, uploading: true };
        files.push(entry);
        paint();
        if (opts.preview) {
          entry.uploading = false;
          paint();
          return;
        }
        var form = new FormData();
        form.append("file", file);
        api("/api/v1/orgs/" + config.org_id + "/attachments/", { method: "POST", form: form }).then(
          function (data) {
            entry.uploading = false;
            entry.id = data.id;
            entry.url = data.url;
            paint();
          },
          function (error) {
            files = files.filter(function (o) {
              return o !== entry;
            });
            paint();
            toast(error.message || T.upload_error, "error");
          }
        );
      });
      input.value = "";
    });
    box.appendChild(list);
    box.appendChild(input);
    box.appendChild(label);
    paint();
    box.getValue = function () {
      var ids = files.filter(function (f) {
        return f.id;
      }).map(function (f) {
        return f.id;
      });
      return ids.length ? ids : undefined;
    };
    box.isBusy = function () {
      return files.some(function (f) {
        return f.uploading;
      });
    };
    return box;
  }

  function subTableControl(field, value, id, opts) {
    var columns = (field.options && field.options.columns) || [];
    var box = h("div", { className: "lc-subtable", id: id, tabindex: "-1" });
    var scroll = el("div", "table-scroll");
    var table = el("table", "table lc-subtable-table");
    var head = el("tr");
    columns.forEach(function (c) {
      head.appendChild(el("th", "", c.label + (c.required ? " *" : "")));
    });
    head.appendChild(h("th", {}, [h("span", { className: "sr-only", text: T.remove })]));
    table.appendChild(h("thead", {}, [head]));
    var body = el("tbody");
    table.appendChild(body);
    scroll.appendChild(table);
    var empty = el("p", "lc-subtable-empty muted", T.no_rows);
    var rows = [];
    function addRow(rowValue) {
      var tr = el("tr");
      var cells = {};
      columns.forEach(function (c) {
        var td = el("td");
        var ctl = control(c, rowValue ? rowValue[c.key] : undefined, { idPrefix: field.key + "-", preview: opts.preview });
        if (ctl.input) ctl.input.setAttribute("aria-label", c.label);
        td.appendChild(ctl.node);
        var err = el("p", "field-error");
        err.hidden = true;
        td.appendChild(err);
        cells[c.key] = { ctl: ctl, err: err };
        tr.appendChild(td);
      });
      var row = { tr: tr, cells: cells };
      var x = h("button", { type: "button", className: "btn btn-sm lc-row-remove", "aria-label": T.remove_row, text: "×" });
      x.addEventListener("click", function () {
        rows = rows.filter(function (r) {
          return r !== row;
        });
        tr.remove();
        empty.hidden = rows.length > 0;
      });
      tr.appendChild(h("td", { className: "lc-row-actions" }, [x]));
      body.appendChild(tr);
      rows.push(row);
      empty.hidden = true;
    }
    (Array.isArray(value) ? value : []).forEach(addRow);
    var add = h("button", { type: "button", className: "btn btn-sm", text: "+ " + T.add_row });
    add.addEventListener("click", function () {
      addRow(null);
      var first = rows[rows.length - 1].tr.querySelector("input, select, textarea");
      if (first) first.focus();
    });
    box.appendChild(scroll);
    empty.hidden = rows.length > 0;
    box.appendChild(empty);
    box.appendChild(add);
    box.getValue = function () {
      var out = rows.map(function (r) {
        var data = {};
        columns.forEach(function (c) {
          var v = r.cells[c.key].ctl.get();
          if (!isEmpty(v)) data[c.key] = v;
        });
        return data;
      }).filter(function (d) {
        return Object.keys(d).length > 0;
      });
      return out.length ? out : undefined;
    };
    box.setErrors = function (errors) {
      rows.forEach(function (r) {
        Object.keys(r.cells).forEach(function (k) {
          r.cells[k].err.hidden = true;
        });
      });
      var rest = [];
      Object.keys(errors).forEach(function (path) {
        var m = /^\[(\d+)\]\.?(\w+)?/.exec(path);
        var row = m && rows[Number(m[1])];
        var cell = row && m[2] && row.cells[m[2]];
        if (cell) {
          cell.err.textContent = errors[path].join(" ");
          cell.err.hidden = false;
        } else rest = rest.concat(errors[path]);
      });
      return rest;
    };
    return box;
  }

  /* Render fields into ``container``; returns a controller. */
  function renderForm(container, fields, values, opts) {
    opts = opts || {};
    values = values || {};
    container.replaceChildren();
    var grid = el("div", "lc-form-grid");
    var entries = [];
    fields.forEach(function (field) {
      if (opts.skipReadOnly && READ_ONLY[field.type]) return;
      var wrap = el("div", "lc-field" + (field.width === "half" ? " is-half" : "") + (READ_ONLY[field.type] ? " is-readonly" : ""));
      wrap.dataset.key = field.key;
      wrap.dataset.type = field.type;
      var ctl = control(field, values[field.key], opts);
      var labelNode = h(field.type === "multi_select" || READ_ONLY[field.type] ? "p" : "label", { className: "lc-label" }, [field.label]);
      if (field.type !== "multi_select" && !READ_ONLY[field.type]) labelNode.setAttribute("for", ctl.id);
      else labelNode.id = ctl.id + "-label";
      if (field.required) labelNode.appendChild(h("span", { className: "lc-required", "aria-hidden": "true", text: " *" }));
      if (field.type === "multi_select" || field.type === "sub_table") ctl.node.setAttribute("aria-labelledby", ctl.id + "-label");
      if (field.type === "sub_table") {
        labelNode = h("p", { className: "lc-label", id: ctl.id + "-label" }, [field.label]);
        if (field.required) labelNode.appendChild(h("span", { className: "lc-required", "aria-hidden": "true", text: " *" }));
      }
      wrap.appendChild(labelNode);
      wrap.appendChild(ctl.node);
      var helpId = ctl.id + "-help";
      var errId = ctl.id + "-error";
      if (field.help) wrap.appendChild(h("p", { className: "help lc-help", id: helpId, text: field.help }));
      var error = h("p", { className: "field-error lc-error", id: errId, role: "alert", hidden: true });
      wrap.appendChild(error);
      if (ctl.input) {
        ctl.input.setAttribute("aria-describedby", (field.help ? helpId + " " : "") + errId);
        if (field.required) ctl.input.setAttribute("aria-required", "true");
        ctl.input.addEventListener("input", function () {
          if (!error.hidden) {
            error.hidden = true;
            wrap.classList.remove("is-invalid");
            ctl.input.removeAttribute("aria-invalid");
          }
        });
      }
      grid.appendChild(wrap);
      entries.push({ field: field, ctl: ctl, wrap: wrap, error: error });
    });
    container.appendChild(grid);

    function showError(entry, messages) {
      entry.error.textContent = messages.join(" ");
      entry.error.hidden = false;
      entry.wrap.classList.add("is-invalid");
      if (entry.ctl.input) entry.ctl.input.setAttribute("aria-invalid", "true");
    }
    var controller = {
      entries: entries,
      /* {data, errors}: client-side checks catch the obvious before the server does. */
      collect: function () {
        var data = {};
        var errors = {};
        entries.forEach(function (entry) {
          if (entry.ctl.readOnly) return;
          var v = entry.ctl.get();
          if (typeof v === "number" && isNaN(v)) errors[entry.field.key] = [T.fix_fields];
          else if (v && typeof v === "object" && typeof v.amount === "number" && isNaN(v.amount)) errors[entry.field.key] = [T.fix_fields];
          else if (isEmpty(v)) {
            if (entry.field.required && !opts.partial) errors[entry.field.key] = [T.required];
            else if (opts.partial) data[entry.field.key] = null;
          } else data[entry.field.key] = v;
          if (entry.ctl.node.isBusy && entry.ctl.node.isBusy()) errors[entry.field.key] = [T.uploading];
        });
        return { data: data, errors: errors };
      },
      /* Errors from the API envelope: paths like "batch", "lines[0].qty", "price.amount". */
      setErrors: function (fieldErrors) {
        var byKey = {};
        var other = [];
        entries.forEach(function (entry) {
          entry.error.hidden = true;
          entry.wrap.classList.remove("is-invalid");
          if (entry.ctl.input) entry.ctl.input.removeAttribute("aria-invalid");
          if (entry.ctl.setErrors) entry.ctl.setErrors({});
        });
        Object.keys(fieldErrors || {}).forEach(function (path) {
          var m = /^([a-z][a-z0-9_]*)(.*)$/.exec(path);
          var key = m ? m[1] : path;
          (byKey[key] = byKey[key] || {})[m ? m[2] : ""] = [].concat(fieldErrors[path]);
        });
        var first = null;
        Object.keys(byKey).forEach(function (key) {
          var entry = entries.find(function (e) {
            return e.field.key === key;
          });
          if (!entry) {
            Object.keys(byKey[key]).forEach(function (sub) {
              other = other.concat(byKey[key][sub]);
            });
            return;
          }
          var messages = [];
          var nested = {};
          Object.keys(byKey[key]).forEach(function (sub) {
            if (sub && entry.ctl.setErrors) nested[sub] = byKey[key][sub];
            else messages = messages.concat(byKey[key][sub]);
          });
          if (entry.ctl.setErrors) messages = messages.concat(entry.ctl.setErrors(nested));
          if (messages.length) showError(entry, messages);
          else entry.wrap.classList.add("is-invalid");
          first = first || entry;
        });
        if (first) {
          first.wrap.scrollIntoView({ block: "center", behavior: "smooth" });
          var focusable = first.wrap.querySelector("input, select, textarea, [tabindex]");
          if (focusable) focusable.focus({ preventScroll: true });
        }
        return other;
      },
    };
    return controller;
  }

  function stateBadge(state) {
    var key = "state_" + (state || "none");
    return el("span", "lc-state lc-state-" + (state || "none"), T[key] || state);
  }

  /* Ask before a destructive action with the layout's confirmation dialog. */
  function confirmAction(text) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(text));
    dialog.querySelector("[data-confirm-text]").textContent = text;
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  /* The number of approvals waiting for me, on any "Approvals" link that has a badge. */
  var todoBadges = document.querySelectorAll("[data-todo-count]");
  if (todoBadges.length) {
    api("approvals/?box=todo&limit=100").then(function (data) {
      var n = results(data).length;
      todoBadges.forEach(function (badge) {
        badge.textContent = n >= 100 ? "99+" : String(n);
        badge.hidden = n === 0;
      });
    }, function () {});
  }

  window.TackLowcode = {
    config: config,
    T: T,
    el: el,
    h: h,
    fmt: fmt,
    uuid: uuid,
    debounce: debounce,
    icon: icon,
    api: api,
    results: results,
    toast: toast,
    when: when,
    display: display,
    renderForm: renderForm,
    parseText: parseText,
    memberPicker: memberPicker,
    loadName: loadName,
    departments: departments,
    names: names,
    stateBadge: stateBadge,
    confirm: confirmAction,
    READ_ONLY: READ_ONLY,
    isEmpty: isEmpty,
  };
})();
