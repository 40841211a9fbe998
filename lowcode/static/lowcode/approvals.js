/* Tack low-code — the approval inbox.
 *
 * Tabs: to do / done / submitted by me / CC (GET approvals/?box=). The detail (GET
 * approvals/<id>/) shows the record summary, the steps of the flow, the timeline, and the
 * buttons the server allows (allowed_actions): approve, reject (comment required),
 * transfer (member picker), withdraw, urge.
 */
(function () {
  "use strict";
  var L = window.TackLowcode;
  if (!L) return;
  var T = L.T;
  var C = L.config;
  var h = L.h;
  var el = L.el;
  var state = { box: C.box, items: [], next: null, open: C.open, seq: 0 };
  var tabs = Array.from(document.querySelectorAll("[data-box]"));
  var list = document.querySelector("[data-inbox-list]");
  var emptyBox = document.querySelector("[data-inbox-empty]");
  var foot = document.querySelector("[data-inbox-foot]");
  var detail = document.querySelector("[data-detail]");
  var inbox = document.querySelector("[data-inbox]");
  var ACTIONS = { submit: T.act_start, approve: T.act_approve, reject: T.act_reject, transfer: T.act_transfer, withdraw: T.act_withdraw, urge: T.act_urge, comment: T.act_comment, auto_approve: T.act_auto,
    fallback: T.act_fallback, edit_after_approval: T.act_edit_after_approval, skip: T.act_skip,
    cc: T.act_cc, finish: T.act_finish, remind: T.act_remind };

  function paintTabs() {
    tabs.forEach(function (tab) {
      var on = tab.dataset.box === state.box;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    });
  }
  function item(entry) {
    var button = h("button", { type: "button", className: "lc-inbox-item", "data-approval": String(entry.id), "aria-current": entry.id === state.open ? "true" : "false" });
    var top = el("span", "lc-inbox-top");
    top.appendChild(el("span", "lc-inbox-title", entry.form_name + " #" + entry.record_number));
    top.appendChild(L.stateBadge(entry.state));
    button.appendChild(top);
    var sub = [entry.app_name];
    if (entry.submitter) sub.push(entry.submitter.name);
    sub.push(L.when(entry.started_at));
    button.appendChild(el("span", "lc-inbox-sub", sub.join(" · ")));
    if (entry.summary && entry.summary.length) {
      button.appendChild(el("span", "lc-inbox-sub", entry.summary.slice(0, 3).map(function (s) {
        return s.label + ": " + s.value;
      }).join(" · ")));
    }
    if (entry.my_task && entry.my_task.due_at && entry.my_task.state === "pending") {
      button.appendChild(el("span", "lc-inbox-sub", L.fmt(T.due, { when: L.when(entry.my_task.due_at) })));
    }
    button.addEventListener("click", function () {
      openItem(entry.id);
    });
    return button;
  }
  function paintList() {
    list.replaceChildren();
    state.items.forEach(function (entry) {
      list.appendChild(h("li", {}, [item(entry)]));
    });
    list.removeAttribute("aria-busy");
    emptyBox.hidden = state.items.length > 0;
    document.querySelector("[data-inbox-empty-text]").textContent = state.box === "todo" ? T.inbox_empty_todo : T.inbox_empty;
    foot.hidden = !state.next;
  }
  function load(append) {
    var seq = ++state.seq;
    list.setAttribute("aria-busy", "true");
    var params = new URLSearchParams({ box: state.box });
    if (append && state.next) params.set("cursor", state.next);
    return L.api("approvals/?" + params.toString()).then(
      function (data) {
        if (seq !== state.seq) return;
        var page = L.results(data);
        state.items = append ? state.items.concat(page) : page;
        state.next = data && !Array.isArray(data) ? data.next_cursor || null : null;
        paintList();
      },
      function (err) {
        if (seq !== state.seq) return;
        state.items = [];
        paintList();
        document.querySelector("[data-inbox-empty-text]").textContent = err.status === 404 ? T.approvals_unavailable : err.message;
      }
    );
  }
  function switchBox(box) {
    state.box = box;
    paintTabs();
    var url = new URL(window.location.href);
    url.searchParams.set("box", box);
    url.searchParams.delete("open");
    window.history.replaceState(null, "", url.pathname + url.search);
    load(false);
  }
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () {
      switchBox(tab.dataset.box);
    });
    tab.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      var next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      switchBox(next.dataset.box);
    });
  });
  document.querySelector('[data-action="more"]').addEventListener("click", function () {
    load(true);
  });

  /* --- Detail ----------------------------------------------------------------------------- */
  function paintDetail(data) {
    detail.replaceChildren();
    inbox.classList.add("is-detail");
    var back = h("button", { type: "button", className: "btn btn-sm lc-back", text: "← " + T.close });
    back.addEventListener("click", function () {
      inbox.classList.remove("is-detail");
    });
    detail.appendChild(back);
    var header = el("div", "lc-detail-head");
    var title = el("h2", "section-title", data.form_name + " #" + data.record_number + " ");
    title.appendChild(L.stateBadge(data.state));
    header.appendChild(title);
    var meta = [data.app_name];
    if (data.submitter) meta.push(L.fmt(T.submitted_by, { name: data.submitter.name }));
    meta.push(L.when(data.started_at));
    header.appendChild(el("p", "muted", meta.join(" · ")));
    if (data.state === "pending" && data.current_node_name) header.appendChild(el("p", "", L.fmt(T.current_step, { name: data.current_node_name })));
    detail.appendChild(header);

    if (data.summary && data.summary.length) {
      var dl = el("dl", "lc-dl");
      data.summary.forEach(function (s) {
        dl.appendChild(el("dt", "", s.label));
        dl.appendChild(el("dd", "", s.value));
      });
      detail.appendChild(dl);
    }
    detail.appendChild(h("p", {}, [h("a", { href: C.pages + "forms/" + data.form_id + "/records/?record=" + data.record_id, text: T.open_record + " →" })]));

    if (data.nodes && data.nodes.length) {
      var bar = el("div", "lc-nodes-bar");
      data.nodes.forEach(function (node, i) {
        if (i) bar.appendChild(el("span", "muted", "→"));
        var pill = el("span", "lc-node-pill is-" + node.state, node.name);
        pill.title = T["state_" + node.state] || node.state;
        bar.appendChild(pill);
      });
      detail.appendChild(bar);
    }

    var allowed = data.allowed_actions || [];
    if (allowed.length) detail.appendChild(actionBox(data, allowed));

    var timeline = el("section");
    timeline.appendChild(el("h3", "lc-subhead", T.timeline));
    var ol = el("ol", "lc-timeline");
    (data.steps || []).forEach(function (step) {
      var li = el("li", "is-" + step.action);
      li.appendChild(el("strong", "", step.actor ? step.actor.name : T.system));
      li.appendChild(document.createTextNode(" " + (ACTIONS[step.action] || step.action)));
      if (step.node_index !== null && step.node_index !== undefined && data.nodes && data.nodes[step.node_index]) {
        li.appendChild(el("span", "muted", " · " + data.nodes[step.node_index].name));
      }
      li.appendChild(el("div", "lc-time", L.when(step.at)));
      if (step.comment) li.appendChild(el("div", "lc-comment", step.comment));
      ol.appendChild(li);
    });
    timeline.appendChild(ol);
    detail.appendChild(timeline);
  }
  function actionBox(data, allowed) {
    var box = el("div", "lc-act");
    var needsComment = allowed.indexOf("approve") !== -1 || allowed.indexOf("reject") !== -1 || allowed.indexOf("transfer") !== -1;
    var commentId = "approval-comment";
    var comment = h("textarea", { id: commentId, rows: 2, maxLength: 1000, "data-comment": "" });
    var error = h("p", { className: "field-error", role: "alert", hidden: true });
    if (needsComment) {
      box.appendChild(h("label", { for: commentId, className: "lc-label", text: T.comment }));
      box.appendChild(comment);
    }
    var transferTo = null;
    var transferBox = el("div", "lc-transfer");
    transferBox.hidden = true;
    var buttons = el("div", "lc-act-buttons");
    function act(name, payload, button) {
      error.hidden = true;
      Array.from(buttons.querySelectorAll("button")).forEach(function (b) {
        b.disabled = true;
      });
      button.classList.add("is-busy");
      L.api("approvals/" + data.id + "/" + name + "/", { method: "POST", body: payload }).then(
        function (updated) {
          L.toast(name === "urge" ? T.urged : T.action_done, "success");
          paintDetail(updated);
          state.items = state.items.map(function (i) {
            return i.id === updated.id ? Object.assign({}, i, updated) : i;
          });
          paintList();
        },
        function (err) {
          Array.from(buttons.querySelectorAll("button")).forEach(function (b) {
            b.disabled = false;
          });
          button.classList.remove("is-busy");
          var messages = [];
          Object.keys(err.fields).forEach(function (k) {
            messages = messages.concat(err.fields[k]);
          });
          error.textContent = messages.length ? messages.join(" ") : err.message;
          error.hidden = false;
        }
      );
    }
    var specs = [
      ["approve", T.approve, "btn btn-primary"],
      ["reject", T.reject, "btn btn-danger"],
      ["transfer", T.transfer, "btn"],
      ["withdraw", T.withdraw, "btn"],
      ["urge", T.urge, "btn"],
    ];
    specs.forEach(function (spec) {
      if (allowed.indexOf(spec[0]) === -1) return;
      var b = h("button", { type: "button", className: spec[2], text: spec[1], "data-act": spec[0] });
      b.addEventListener("click", function () {
        var text = comment.value.trim();
        if (spec[0] === "approve") act("approve", { comment: text }, b);
        else if (spec[0] === "reject") {
          if (!text) {
            error.textContent = T.comment_required;
            error.hidden = false;
            comment.focus();
            return;
          }
          act("reject", { comment: text }, b);
        } else if (spec[0] === "transfer") {
          if (transferBox.hidden) {
            transferBox.hidden = false;
            transferBox.querySelector("input").focus();
            return;
          }
          if (!transferTo) {
            error.textContent = T.pick_someone;
            error.hidden = false;
            transferBox.querySelector("input").focus();
            return;
          }
          act("transfer", { member_id: transferTo.id, comment: text }, b);
        } else act(spec[0], {}, b);
      });
      buttons.appendChild(b);
    });
    if (allowed.indexOf("transfer") !== -1) {
      var chosen = el("div", "lc-chips");
      var picker = L.memberPicker(function (person) {
        transferTo = person;
        chosen.replaceChildren(el("span", "lc-chip", person.name));
      }, T.transfer_to);
      picker.input.setAttribute("aria-label", T.transfer_to);
      transferBox.appendChild(el("span", "lc-label", T.transfer_to));
      transferBox.appendChild(chosen);
      transferBox.appendChild(picker);
      box.appendChild(transferBox);
    }
    box.appendChild(buttons);
    box.appendChild(error);
    return box;
  }
  function openItem(id) {
    state.open = id;
    list.querySelectorAll("[data-approval]").forEach(function (b) {
      b.setAttribute("aria-current", Number(b.dataset.approval) === id ? "true" : "false");
    });
    detail.setAttribute("aria-busy", "true");
    var url = new URL(window.location.href);
    url.searchParams.set("open", String(id));
    window.history.replaceState(null, "", url.pathname + url.search);
    L.api("approvals/" + id + "/").then(
      function (data) {
        detail.removeAttribute("aria-busy");
        paintDetail(data);
      },
      function (err) {
        detail.removeAttribute("aria-busy");
        detail.replaceChildren(el("p", "field-error", err.message));
      }
    );
  }

  paintTabs();
  load(false).then(function () {
    if (state.open) openItem(state.open);
  });
})();
