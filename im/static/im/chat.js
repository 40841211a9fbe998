/* Tack chat — the live chat page.
 *
 * The page (im/templates/im/chat.html) is a shell; this script fills it from the chat
 * REST API (session cookie + X-CSRFToken) and keeps it live with the /ws/ socket.
 * Every event the socket delivers carries an id; after a reconnect the script asks
 * for the events it missed (GET events/?after=<last id>), so nothing is lost.
 *
 * Safety: only message.html (sanitised on the server) is inserted as HTML; every
 * other piece of text goes through textContent.
 */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  var configNode = document.getElementById("chat-config");
  if (!root || !configNode) return;

  var config = JSON.parse(configNode.textContent);
  var T = config.strings;
  var ME = config.me;
  var API = config.api;
  var LANG = document.documentElement.lang || "en";
  var QUICK_REACTIONS = ["👍", "❤️", "😄", "🎉", "✅", "👀"];
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var PAGE = 50;

  var state = {
    conversations: new Map(),
    openId: null,
    messages: new Map(),
    order: [],
    hasOlder: true,
    loadingOlder: false,
    names: new Map(),
    userNames: new Map(),
    members: null,
    receipts: new Map(),
    dings: new Map(),
    pendingSends: new Map(),
    pendingDings: [],
    files: [],
    mentions: new Map(),
    editingId: null,
    panel: null,
    lastEventId: 0,
    seenEvents: new Set(),
    typing: new Map(),
    lastTypingSent: 0,
    socket: null,
    everConnected: false,
    dingAvailable: true,
  };
  state.names.set(ME.member_id, ME.display_name);
  state.userNames.set(ME.user_id, ME.display_name);

  /* --- Small helpers ------------------------------------------------------------- */
  function $(selector, scope) {
    return (scope || root).querySelector(selector);
  }
  function fmt(text, vars) {
    return String(text).replace(/%\((\w+)\)s/g, function (_m, key) {
      return vars && key in vars ? String(vars[key]) : "";
    });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  var iconTemplate = document.querySelector("template[data-icons]");
  function icon(name) {
    var holder = iconTemplate && iconTemplate.content.querySelector('[data-icon="' + name + '"]');
    return holder ? holder.firstElementChild.cloneNode(true) : el("span");
  }
  function initials(name) {
    var words = String(name || "?").trim().split(/\s+/);
    if (!words[0]) return "?";
    var first = words[0].charAt(0);
    if (!/^[\x00-\x7f]$/.test(first)) return first;
    var latin = words.filter(function (w) {
      return /^[A-Za-z0-9]/.test(w);
    });
    if (latin.length === 0) latin = words;
    if (latin.length === 1) return latin[0].charAt(0).toUpperCase();
    return (latin[0].charAt(0) + latin[latin.length - 1].charAt(0)).toUpperCase();
  }
  function hue(n) {
    return ((Number(n) || 0) * 47) % 360;
  }
  var cookie = TackApi.cookie;
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
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
  function badgeText(count) {
    return count >= 100 ? "99+" : String(count);
  }

  var timeFormat = new Intl.DateTimeFormat(LANG, { hour: "numeric", minute: "2-digit" });
  var dayFormat = new Intl.DateTimeFormat(LANG, { weekday: "long", month: "long", day: "numeric" });
  var shortDayFormat = new Intl.DateTimeFormat(LANG, { month: "short", day: "numeric" });
  var fullFormat = new Intl.DateTimeFormat(LANG, { dateStyle: "full", timeStyle: "short" });
  function dayKey(date) {
    return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
  }
  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getTime() - 86400000);
    if (dayKey(date) === dayKey(today)) return T.today;
    if (dayKey(date) === dayKey(yesterday)) return T.yesterday;
    return dayFormat.format(date);
  }
  function listTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return dayKey(date) === dayKey(new Date()) ? timeFormat.format(date) : shortDayFormat.format(date);
  }

  /* --- API ------------------------------------------------------------------------- */
  var ApiError = TackApi.ApiError;
  var results = TackApi.results;
  function api(path, options) {
    var url = path.charAt(0) === "/" ? path : API + path;
    return TackApi.request(url, options, { error: T.load_error, network: T.load_error });
  }

  /* --- Toasts -------------------------------------------------------------------------- */
  var toasts = document.querySelector("[data-toasts]");
  function toast(text, kind) {
    if (!toasts) return;
    var item = el("div", "chat-toast" + (kind ? " chat-toast-" + kind : ""), text);
    toasts.appendChild(item);
    window.setTimeout(function () {
      item.classList.add("is-leaving");
      window.setTimeout(function () {
        item.remove();
      }, 250);
    }, 3200);
  }

  /* --- Messages: shape ------------------------------------------------------------------ */
  function normalise(raw) {
    var sender = raw.sender && typeof raw.sender === "object" ? raw.sender : null;
    var m = {
      id: raw.id,
      conversation_id: raw.conversation_id !== undefined ? raw.conversation_id : raw.conversation,
      sender_id: sender ? sender.member_id : raw.sender_id !== undefined ? raw.sender_id : null,
      sender_user_id: sender ? sender.user_id : null,
      bot_id: raw.bot_id !== undefined ? raw.bot_id : raw.bot || null,
      bot_name: raw.bot_name || "",
      kind: raw.kind || "text",
      body: raw.body || "",
      html: raw.html || "",
      created_at: raw.created_at,
      edited_at: raw.edited_at || null,
      recalled: !!raw.recalled,
      thread_root_id:
        raw.thread_root_id !== undefined ? raw.thread_root_id : raw.thread_root !== undefined ? raw.thread_root : null,
      reply_count: raw.reply_count || 0,
      reactions: raw.reactions || [],
      attachments: raw.attachments || null,
      card: raw.card || null,
      client_msg_id: raw.client_msg_id || "",
      mention_ids: raw.mention_ids || [],
      mentions_all: !!raw.mentions_all,
    };
    if (sender) {
      state.names.set(sender.member_id, sender.display_name);
      if (sender.user_id) state.userNames.set(sender.user_id, sender.display_name);
    }
    return m;
  }
  function senderName(m) {
    if (m.sender_id === null || m.sender_id === undefined) {
      return m.bot_id ? m.bot_name || T.bot : T.unknown_member;
    }
    return state.names.get(m.sender_id) || "…";
  }
  function isMine(m) {
    return m.sender_id === ME.member_id;
  }
  function storeMessage(m) {
    var previous = state.messages.get(m.id);
    if (previous && !m.attachments) m.attachments = previous.attachments;
    if (previous && (!m.reactions || m.reactions.length === 0) && previous.reactions.length && !m._full) {
      m.reactions = previous.reactions;
    }
    state.messages.set(m.id, m);
    if (!previous) {
      state.order.push(m.id);
      state.order.sort(function (a, b) {
        return a - b;
      });
    }
  }
  function topLevel() {
    return state.order
      .map(function (id) {
        return state.messages.get(id);
      })
      .filter(function (m) {
        return m && !m.thread_root_id;
      });
  }
  function newestId() {
    return state.order.length ? state.order[state.order.length - 1] : 0;
  }

  /* --- Conversation list ---------------------------------------------------------------- */
  var convList = $("[data-conv-list]");
  var convFilter = $("[data-conv-filter]");

  function convTitle(conv) {
    if (conv.title) return conv.title;
    if (conv.kind === "all_staff") return T.all_staff;
    return T.direct;
  }
  function convSubtitle(conv) {
    if (conv.kind === "direct") return T.direct;
    return conv.member_count === 1 ? T.members_one : fmt(T.members_many, { count: conv.member_count });
  }
  function fillAvatar(node, conv) {
    node.textContent = initials(convTitle(conv));
    node.className = "conv-avatar conv-avatar-" + conv.kind;
    node.style.setProperty("--h", String(hue(conv.id)));
  }
  function fromListItem(item) {
    var c = item.conversation;
    return {
      id: c.id,
      kind: c.kind,
      name: c.name,
      member_count: c.member_count,
      last_message_id: c.last_message_id,
      last_message_at: c.last_message_at,
      last_read_message_id: item.last_read_message_id,
      unread: item.unread,
      mentioned: item.mentioned,
      muted: item.muted,
      pinned: item.pinned,
      title: item.title,
    };
  }
  function sortedConversations() {
    return Array.from(state.conversations.values()).sort(function (a, b) {
      if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
      if (a.last_message_id !== b.last_message_id) return b.last_message_id - a.last_message_id;
      return b.id - a.id;
    });
  }
  function renderConversations() {
    var query = (convFilter.value || "").trim().toLowerCase();
    var fragment = document.createDocumentFragment();
    var total = 0;
    sortedConversations().forEach(function (conv) {
      if (!conv.muted) total += conv.unread;
      if (query && convTitle(conv).toLowerCase().indexOf(query) === -1) return;
      var li = el("li");
      var a = el("a", "conv");
      a.href = config.page_url + "?c=" + conv.id;
      a.dataset.convId = conv.id;
      if (conv.id === state.openId) {
        a.classList.add("is-active");
        a.setAttribute("aria-current", "true");
      }
      if (conv.muted) a.classList.add("is-muted");
      if (conv.unread > 0) a.classList.add("is-unread");
      var avatar = el("span");
      fillAvatar(avatar, conv);
      avatar.setAttribute("aria-hidden", "true");
      a.appendChild(avatar);
      var main = el("span", "conv-main");
      var top = el("span", "conv-top");
      top.appendChild(el("span", "conv-title", convTitle(conv)));
      if (conv.pinned) top.appendChild(icon("pin")).classList.add("conv-flag");
      if (conv.muted) top.appendChild(icon("mute")).classList.add("conv-flag");
      top.appendChild(el("time", "conv-time", listTime(conv.last_message_at)));
      main.appendChild(top);
      var bottom = el("span", "conv-bottom");
      bottom.appendChild(el("span", "conv-sub", convSubtitle(conv)));
      if (conv.mentioned > 0) {
        var at = el("span", "conv-mention", "@");
        at.title = "@";
        at.dataset.mention = "";
        bottom.appendChild(at);
      }
      if (conv.unread > 0) {
        var badge = el("span", "conv-badge" + (conv.muted ? " is-muted" : ""), badgeText(conv.unread));
        badge.dataset.unread = conv.unread;
        bottom.appendChild(badge);
      }
      main.appendChild(bottom);
      a.appendChild(main);
      li.appendChild(a);
      fragment.appendChild(li);
    });
    convList.replaceChildren(fragment);
    convList.setAttribute("aria-busy", "false");
    $("[data-conv-empty]").hidden = state.conversations.size > 0;
    var totalNode = $("[data-total-unread]");
    totalNode.hidden = total === 0;
    totalNode.textContent = badgeText(total);
    document.title = (total > 0 ? "(" + badgeText(total) + ") " : "") + baseTitle;
  }
  var baseTitle = document.title.replace(/^\(\S+\) /, "");

  function loadConversations() {
    $("[data-conv-error]").hidden = true;
    return api("conversations/").then(
      function (items) {
        var fresh = new Map();
        items.forEach(function (item) {
          var conv = fromListItem(item);
          fresh.set(conv.id, conv);
        });
        state.conversations = fresh;
        renderConversations();
        if (state.openId && !fresh.has(state.openId)) closeRoom();
        else if (state.openId) renderRoomHead();
      },
      function () {
        convList.replaceChildren();
        $("[data-conv-error]").hidden = false;
      }
    );
  }
  var reloadConversationsSoon = debounce(loadConversations, 300);

  convFilter.addEventListener("input", renderConversations);
  convList.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-conv-id]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    openConversation(Number(link.dataset.convId));
  });

  /* --- The open conversation ---------------------------------------------------------- */
  var room = $("[data-room]");
  var welcome = $("[data-welcome]");
  var scroller = $("[data-msg-scroll]");
  var list = $("[data-msg-list]");
  var composer = $("[data-composer]");
  var input = $("[data-composer-input]");
  var jumpButton = $("[data-jump-latest]");

  function renderRoomHead() {
    var conv = state.conversations.get(state.openId);
    if (!conv) return;
    fillAvatar($("[data-room-avatar]"), conv);
    $("[data-room-title]").textContent = convTitle(conv);
    $("[data-room-subtitle]").textContent = convSubtitle(conv);
    $("[data-action=\"open-details\"]").hidden = !isGroupChat(conv);
    input.placeholder = fmt(T.message_placeholder, { name: convTitle(conv) });
  }

  function resetRoom() {
    state.messages = new Map();
    state.order = [];
    state.hasOlder = true;
    state.receipts = new Map();
    state.members = null;
    state.editingId = null;
    state.typing = new Map();
    state.mentions = new Map();
    state.files = [];
    renderFiles();
    renderTyping();
    list.replaceChildren();
    receiptObserver.disconnect();
    visibleReceipts.clear();
  }

  function closeRoom() {
    state.openId = null;
    resetRoom();
    room.hidden = true;
    welcome.hidden = false;
    root.dataset.state = "list";
    placeBanners();
    closePanel();
    history.replaceState(null, "", config.page_url);
    renderConversations();
  }

  function openConversation(id, messageId) {
    if (!state.conversations.has(id)) return Promise.resolve();
    if (id === state.openId && !messageId && !room.hidden) return Promise.resolve();
    var drafts = state.drafts || (state.drafts = new Map());
    if (state.openId) drafts.set(state.openId, input.value);
    if (state.panel && state.panel.kind !== "ding-none") closePanel();
    state.openId = id;
    resetRoom();
    root.dataset.state = "room";
    placeBanners();
    welcome.hidden = true;
    room.hidden = false;
    input.value = drafts.get(id) || "";
    autosize();
    renderRoomHead();
    renderConversations();
    var url = config.page_url + "?c=" + id + (messageId ? "&m=" + messageId : "");
    history.replaceState(null, "", url);
    return loadLatest().then(function () {
      if (messageId) return revealMessage(messageId);
      if (window.matchMedia("(min-width: 761px)").matches) input.focus({ preventScroll: true });
    });
  }

  function setRoomState(which) {
    $("[data-room-loading]").hidden = which !== "loading";
    $("[data-room-error]").hidden = which !== "error";
  }

  function loadLatest() {
    var id = state.openId;
    setRoomState("loading");
    loadMembers(id);
    return api("conversations/" + id + "/messages/?limit=" + PAGE).then(
      function (page) {
        if (state.openId !== id) return;
        setRoomState(null);
        page.forEach(function (raw) {
          var m = normalise(raw);
          m._full = true;
          storeMessage(m);
        });
        state.hasOlder = page.length === PAGE;
        renderMessages();
        scrollToBottom();
        maybeMarkRead();
        fillViewport();
      },
      function () {
        if (state.openId === id) setRoomState("error");
      }
    );
  }

  function loadOlder() {
    if (state.loadingOlder || !state.hasOlder || !state.openId || !state.order.length) {
      return Promise.resolve(false);
    }
    var id = state.openId;
    state.loadingOlder = true;
    $("[data-older]").hidden = false;
    var before = state.order[0];
    return api("conversations/" + id + "/messages/?limit=" + PAGE + "&before=" + before)
      .then(function (page) {
        if (state.openId !== id) return false;
        var height = scroller.scrollHeight;
        var top = scroller.scrollTop;
        page.forEach(function (raw) {
          var m = normalise(raw);
          m._full = true;
          storeMessage(m);
        });
        state.hasOlder = page.length === PAGE;
        renderMessages();
        scroller.scrollTop = scroller.scrollHeight - height + top;
        return true;
      })
      .catch(function () {
        toast(T.load_error, "error");
        return false;
      })
      .finally(function () {
        state.loadingOlder = false;
        $("[data-older]").hidden = true;
      });
  }

  function fillViewport() {
    /* A short first page: keep loading until the view scrolls (or history ends). */
    if (state.hasOlder && scroller.scrollHeight <= scroller.clientHeight + 40) {
      loadOlder().then(function (more) {
        if (more) fillViewport();
      });
    }
  }

  function revealMessage(messageId, attempts) {
    attempts = attempts || 0;
    var node = list.querySelector('[data-message-id="' + messageId + '"]');
    if (node) {
      node.scrollIntoView({ block: "center" });
      node.classList.add("is-highlighted");
      window.setTimeout(function () {
        node.classList.remove("is-highlighted");
      }, 2600);
      return Promise.resolve();
    }
    var m = state.messages.get(messageId);
    if (m && m.thread_root_id) {
      openThread(m.thread_root_id);
      return Promise.resolve();
    }
    if (attempts >= 10 || !state.hasOlder) return Promise.resolve();
    return loadOlder().then(function () {
      return revealMessage(messageId, attempts + 1);
    });
  }

  function loadMembers(id) {
    var conv = state.conversations.get(id);
    if (!conv || conv.member_count > 600) return;
    var collected = [];
    function page(url) {
      return api(url).then(function (data) {
        results(data).forEach(function (link) {
          collected.push({ id: link.member_id, user_id: link.user.id, display_name: link.user.display_name });
          state.names.set(link.member_id, link.user.display_name);
          state.userNames.set(link.user.id, link.user.display_name);
        });
        if (data && data.next && collected.length < 600) return page(data.next);
      });
    }
    page("conversations/" + id + "/members/?page_size=200")
      .then(function () {
        if (state.openId === id) {
          state.members = collected;
          list.querySelectorAll("[data-sender-unknown]").forEach(function (node) {
            var name = state.names.get(Number(node.dataset.senderUnknown));
            if (name) {
              node.textContent = name;
              node.removeAttribute("data-sender-unknown");
            }
          });
        }
      })
      .catch(function () {
        /* mentions fall back to the member directory */
      });
  }

  /* --- Rendering messages ----------------------------------------------------------------- */
  function isContinuation(m, prev) {
    if (!prev || prev.sender_id !== m.sender_id || prev.recalled || m.kind === "ding" || prev.kind === "ding") {
      return false;
    }
    var a = new Date(prev.created_at);
    var b = new Date(m.created_at);
    return dayKey(a) === dayKey(b) && b - a < GROUP_GAP_MS;
  }

  function renderMessages() {
    var fragment = document.createDocumentFragment();
    var messages = topLevel();
    if (!state.hasOlder && messages.length) {
      fragment.appendChild(el("div", "msg-start", T.start_of_history));
    }
    var prev = null;
    var lastDay = null;
    messages.forEach(function (m) {
      var date = new Date(m.created_at);
      if (dayKey(date) !== lastDay) {
        lastDay = dayKey(date);
        var sep = el("div", "msg-day");
        sep.appendChild(el("span", null, dayLabel(date)));
        fragment.appendChild(sep);
        prev = null;
      }
      fragment.appendChild(messageNode(m, prev));
      prev = m;
    });
    state.pendingSends.forEach(function (pending) {
      if (pending.conversation_id === state.openId && !pending.thread_root_id) {
        fragment.appendChild(pendingNode(pending));
      }
    });
    if (!messages.length && state.pendingSends.size === 0) {
      var empty = el("div", "chat-state chat-state-room msg-empty");
      var badge = el("span", "notice-icon");
      badge.appendChild(icon("thread"));
      empty.appendChild(badge);
      empty.appendChild(el("p", "chat-state-title", T.no_messages));
      empty.appendChild(el("p", "chat-state-text", T.no_messages_hint));
      fragment.appendChild(empty);
    }
    receiptObserver.disconnect();
    visibleReceipts.clear();
    list.replaceChildren(fragment);
    list.querySelectorAll("[data-receipts]").forEach(function (node) {
      receiptObserver.observe(node);
    });
  }

  function replaceMessage(id) {
    var node = list.querySelector('[data-message-id="' + id + '"]');
    var m = state.messages.get(id);
    if (!node || !m) return;
    var messages = topLevel();
    var index = messages.indexOf(m);
    var prev = index > 0 ? messages[index - 1] : null;
    if (prev && dayKey(new Date(prev.created_at)) !== dayKey(new Date(m.created_at))) prev = null;
    var fresh = messageNode(m, prev);
    node.replaceWith(fresh);
    fresh.querySelectorAll("[data-receipts]").forEach(function (n) {
      receiptObserver.observe(n);
    });
    if (state.panel && state.panel.kind === "thread") refreshThreadMessage(id);
  }

  function messageNode(m, prev, options) {
    options = options || {};
    var mine = isMine(m);
    var node = el("div", "msg");
    node.dataset.messageId = m.id;
    if (mine) node.classList.add("msg-mine");
    if (m.kind === "ding" && !m.recalled) node.classList.add("msg-ding");
    var continued = !options.inThread && isContinuation(m, prev);
    if (continued) node.classList.add("msg-cont");

    var gutter = el("div", "msg-gutter");
    if (continued) {
      gutter.appendChild(el("time", "msg-hover-time", timeFormat.format(new Date(m.created_at))));
    } else {
      var avatar = el("span", "avatar msg-avatar", initials(senderName(m)));
      avatar.style.setProperty("--h", String(hue(m.sender_id)));
      avatar.setAttribute("aria-hidden", "true");
      gutter.appendChild(avatar);
    }
    node.appendChild(gutter);

    var main = el("div", "msg-main");
    if (!continued) {
      var meta = el("div", "msg-meta");
      var name = el("span", "msg-sender", senderName(m));
      if (!state.names.has(m.sender_id) && m.sender_id) name.dataset.senderUnknown = m.sender_id;
      meta.appendChild(name);
      if (mine) meta.appendChild(el("span", "you", T.you));
      var time = el("time", "msg-time", timeFormat.format(new Date(m.created_at)));
      time.dateTime = m.created_at;
      time.title = fullFormat.format(new Date(m.created_at));
      meta.appendChild(time);
      main.appendChild(meta);
    }

    if (m.recalled) {
      var tomb = el("div", "msg-recalled", mine ? T.recalled_mine : T.recalled);
      main.appendChild(tomb);
      node.classList.add("is-recalled");
      node.appendChild(main);
      return node;
    }

    if (m.kind === "ding") {
      var tag = el("span", "ding-tag");
      tag.appendChild(icon("bell"));
      tag.appendChild(el("span", null, T.ding));
      main.appendChild(tag);
    }

    if (state.editingId === m.id && !options.inThread) {
      main.appendChild(editorNode(m));
    } else if (m.html) {
      var body = el("div", "msg-body md");
      body.innerHTML = m.html; /* sanitised on the server (markdown-it + nh3) */
      body.querySelectorAll("a[href]").forEach(function (a) {
        a.target = "_blank";
        a.rel = "noopener noreferrer nofollow";
      });
      if (m.edited_at) body.appendChild(el("span", "msg-edited", "(" + T.edited + ")"));
      main.appendChild(body);
    } else if (m.body) {
      main.appendChild(el("div", "msg-body", m.body));
    }

    if (m.card && typeof m.card === "object") main.appendChild(cardNode(m.card));
    if (m.attachments && m.attachments.length) main.appendChild(attachmentsNode(m.attachments));

    if (m.reactions && m.reactions.length) {
      var reactions = el("div", "msg-reactions");
      m.reactions.forEach(function (r) {
        var button = el("button", "reaction");
        button.type = "button";
        button.dataset.action = "toggle-reaction";
        button.dataset.emoji = r.emoji;
        if (r.member_ids.indexOf(ME.member_id) !== -1) button.classList.add("is-mine");
        button.title = r.member_ids
          .map(function (id) {
            return state.names.get(id) || "…";
          })
          .join(", ");
        button.appendChild(el("span", "reaction-emoji", r.emoji));
        button.appendChild(el("span", "reaction-count", String(r.count)));
        reactions.appendChild(button);
      });
      main.appendChild(reactions);
    }

    var foot = el("div", "msg-foot");
    if (m.reply_count > 0 && !options.inThread) {
      var replies = el("button", "msg-replies");
      replies.type = "button";
      replies.dataset.action = "open-thread";
      replies.appendChild(icon("thread"));
      replies.appendChild(
        el("span", null, m.reply_count === 1 ? T.replies_one : fmt(T.replies_many, { count: m.reply_count }))
      );
      foot.appendChild(replies);
    }
    if (mine && m.kind === "ding" && !options.inThread) {
      var ding = el("button", "ding-status");
      ding.type = "button";
      ding.dataset.action = "open-ding";
      ding.dataset.dingStatus = m.id;
      fillDingStatus(ding, m.id);
      foot.appendChild(ding);
    }
    if (!mine && m.kind === "ding" && !options.inThread && isPendingDing(m.id)) {
      var inlineConfirm = el("button", "btn btn-sm ding-inline-confirm");
      inlineConfirm.type = "button";
      inlineConfirm.dataset.action = "confirm-ding";
      inlineConfirm.appendChild(icon("check"));
      inlineConfirm.appendChild(el("span", null, T.ding_confirm));
      foot.appendChild(inlineConfirm);
    }
    if (mine && !options.inThread) {
      var receipt = el("button", "receipt");
      receipt.type = "button";
      receipt.dataset.action = "open-receipts";
      receipt.dataset.receipts = m.id;
      fillReceipt(receipt, m.id);
      foot.appendChild(receipt);
    }
    if (foot.childNodes.length) main.appendChild(foot);
    node.appendChild(main);

    if (!options.inThread && m.id > 0) node.appendChild(actionsNode(m));
    return node;
  }

  function actionsNode(m) {
    var bar = el("div", "msg-actions");
    bar.setAttribute("role", "toolbar");
    function add(action, iconName, label) {
      var button = el("button", "msg-action");
      button.type = "button";
      button.dataset.action = action;
      button.title = label;
      button.setAttribute("aria-label", label);
      button.appendChild(icon(iconName));
      bar.appendChild(button);
    }
    add("react", "smile", T.react);
    add("reply", "thread", T.reply);
    if (isMine(m)) {
      if (m.kind !== "ding") add("edit", "edit", T.edit);
      add("recall", "trash", T.recall);
    }
    return bar;
  }

  function cardNode(card) {
    /* Cards are plain text by contract: every piece goes through textContent. */
    var box = el("div", "msg-card");
    if (card.title) box.appendChild(el("div", "msg-card-title", card.title));
    if (Array.isArray(card.fields) && card.fields.length) {
      var fields = el("dl", "msg-card-fields");
      card.fields.forEach(function (field) {
        fields.appendChild(el("dt", null, field.label));
        fields.appendChild(el("dd", null, field.value));
      });
      box.appendChild(fields);
    }
    if (Array.isArray(card.buttons) && card.buttons.length) {
      var buttons = el("div", "msg-card-buttons");
      card.buttons.forEach(function (b) {
        var style = b.style === "primary" ? " btn-primary" : b.style === "danger" ? " btn-danger" : "";
        var button = el("button", "btn btn-sm" + style, b.label);
        button.type = "button";
        button.dataset.action = "card-action";
        button.dataset.cardAction = b.action_id;
        buttons.appendChild(button);
      });
      box.appendChild(buttons);
    }
    if (card.footer) box.appendChild(el("div", "msg-card-footer", card.footer));
    return box;
  }

  /* A click on a card's button goes to the bot or app that owns the card; its answer may
     change the card (returned here) and post a reply (arrives over the socket). */
  function cardAction(m, button) {
    button.disabled = true;
    api("messages/" + m.id + "/card-actions/", {
      method: "POST",
      body: { action_id: button.dataset.cardAction },
    })
      .then(
        function (data) {
          var current = state.messages.get(m.id);
          if (current && data && data.message && data.message.card) {
            current.card = data.message.card;
            replaceMessage(m.id);
          }
        },
        function (error) {
          toast(error.message || T.card_action_error, "error");
        }
      )
      .finally(function () {
        button.disabled = false;
      });
  }

  function attachmentsNode(files) {
    var box = el("div", "msg-files");
    files.forEach(function (file) {
      var link = el("a", file.is_image ? "msg-image" : "msg-file");
      link.href = file.url;
      link.target = "_blank";
      link.rel = "noopener";
      if (file.is_image) {
        var img = el("img");
        img.src = file.url;
        img.alt = file.name;
        img.loading = "lazy";
        link.appendChild(img);
      } else {
        link.appendChild(icon("file"));
        var text = el("span", "msg-file-text");
        text.appendChild(el("span", "msg-file-name", file.name));
        text.appendChild(el("span", "msg-file-size", humanSize(file.size)));
        link.appendChild(text);
      }
      box.appendChild(link);
    });
    return box;
  }
  function humanSize(bytes) {
    if (!bytes && bytes !== 0) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(0) + " KB";
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  function pendingNode(pending) {
    var node = el("div", "msg msg-mine msg-pending" + (pending.failed ? " is-failed" : ""));
    node.dataset.pending = pending.client_msg_id;
    node.appendChild(el("div", "msg-gutter"));
    var main = el("div", "msg-main");
    main.appendChild(el("div", "msg-body msg-body-plain", pending.body));
    if (pending.failed) {
      var row = el("div", "msg-failed");
      row.appendChild(el("span", null, T.send_error));
      var retry = el("button", "link-button", T.retry);
      retry.type = "button";
      retry.dataset.action = "retry-send";
      row.appendChild(retry);
      main.appendChild(row);
    }
    node.appendChild(main);
    return node;
  }

  /* --- Scrolling and reading ------------------------------------------------------------- */
  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    jumpButton.hidden = true;
  }
  /* Stay pinned to the newest message while the view resizes (panel opens, images load). */
  var pinnedToBottom = true;
  if (typeof ResizeObserver === "function") {
    var keepPinned = new ResizeObserver(function () {
      if (pinnedToBottom && !state.loadingOlder) scroller.scrollTop = scroller.scrollHeight;
    });
    keepPinned.observe(scroller);
    keepPinned.observe(list);
  }
  scroller.addEventListener(
    "scroll",
    function () {
      pinnedToBottom = atBottom();
      if (scroller.scrollTop < 120) loadOlder();
      if (atBottom()) {
        jumpButton.hidden = true;
        maybeMarkRead();
      }
    },
    { passive: true }
  );
  jumpButton.addEventListener("click", scrollToBottom);

  var markReadSoon = debounce(function () {
    var conv = state.conversations.get(state.openId);
    var newest = newestId();
    if (!conv || !newest || document.visibilityState !== "visible") return;
    if (newest <= conv.last_read_message_id && conv.unread === 0) return;
    var convId = conv.id;
    api("conversations/" + convId + "/read/", { method: "POST", body: { message_id: newest } }).then(
      function (data) {
        var c = state.conversations.get(convId);
        if (!c) return;
        c.last_read_message_id = Math.max(c.last_read_message_id, data.last_read_message_id || newest);
        if (c.last_read_message_id >= c.last_message_id) {
          c.unread = 0;
          c.mentioned = 0;
        }
        renderConversations();
      },
      function () {
        /* the next event or visit retries */
      }
    );
  }, 250);
  function maybeMarkRead() {
    if (state.openId && document.visibilityState === "visible") markReadSoon();
  }
  document.addEventListener("visibilitychange", maybeMarkRead);
  window.addEventListener("focus", maybeMarkRead);

  /* --- Read receipts: "N unread" / "All read" under my messages ------------------------ */
  var visibleReceipts = new Set();
  var receiptQueue = new Set();
  var receiptObserver = new IntersectionObserver(
    function (entries) {
      entries.forEach(function (entry) {
        var id = Number(entry.target.dataset.receipts);
        if (entry.isIntersecting) {
          visibleReceipts.add(id);
          if (!state.receipts.has(id)) queueReceipts([id]);
        } else {
          visibleReceipts.delete(id);
        }
      });
    },
    { root: scroller, rootMargin: "200px 0px" }
  );
  function queueReceipts(ids) {
    ids.forEach(function (id) {
      receiptQueue.add(id);
    });
    flushReceipts();
  }
  var flushReceipts = debounce(function () {
    var ids = Array.from(receiptQueue);
    receiptQueue.clear();
    ids.forEach(function (id) {
      if (!state.messages.has(id) || state.messages.get(id).recalled) return;
      api("messages/" + id + "/receipts/").then(
        function (data) {
          state.receipts.set(id, data);
          list.querySelectorAll('[data-receipts="' + id + '"]').forEach(function (node) {
            fillReceipt(node, id);
          });
          if (state.panel && state.panel.kind === "receipts" && state.panel.id === id) showReceipts(id, true);
        },
        function () {
          /* leave the label as it was */
        }
      );
    });
  }, 150);
  function fillReceipt(node, id) {
    var data = state.receipts.get(id);
    var conv = state.conversations.get(state.openId);
    node.replaceChildren();
    node.classList.remove("is-all-read", "is-unread");
    if (!data) {
      node.classList.add("is-loading");
      node.appendChild(el("span", null, "·"));
      return;
    }
    node.classList.remove("is-loading");
    var total = data.read_count + data.unread_count;
    node.hidden = total === 0;
    var direct = conv && conv.kind === "direct";
    if (data.unread_count === 0) {
      node.classList.add("is-all-read");
      node.appendChild(icon("check-all"));
      node.appendChild(el("span", null, direct ? T.read_by : T.all_read));
    } else {
      node.classList.add("is-unread");
      node.appendChild(el("span", null, direct ? T.unread_by : fmt(T.n_unread, { count: data.unread_count })));
    }
  }
  var pendingReadCursor = 0;
  var refreshReceiptsSoon = debounce(function () {
    var cursor = pendingReadCursor;
    pendingReadCursor = 0;
    var ids = [];
    visibleReceipts.forEach(function (id) {
      var known = state.receipts.get(id);
      if (id <= cursor && (!known || known.unread_count > 0)) ids.push(id);
    });
    if (state.panel && state.panel.kind === "receipts" && state.panel.id <= cursor) ids.push(state.panel.id);
    queueReceipts(ids);
  }, 300);

  function showReceipts(id, quiet) {
    var data = state.receipts.get(id);
    openPanel({ kind: "receipts", id: id }, T.receipts_title);
    var body = panelBody;
    if (!quiet) body.replaceChildren(spinnerRow());
    Promise.all([
      api("messages/" + id + "/receipts/members/?state=unread&page_size=200"),
      api("messages/" + id + "/receipts/members/?state=read&page_size=200"),
    ]).then(
      function (pages) {
        if (!state.panel || state.panel.id !== id) return;
        var unread = results(pages[0]);
        var read = results(pages[1]);
        var box = document.createDocumentFragment();
        var m = state.messages.get(id);
        if (m) box.appendChild(quoteNode(m));
        var summary = el("div", "panel-summary");
        summary.appendChild(statNode(unread.length, T.unread_by, "is-unread"));
        summary.appendChild(statNode(read.length, T.read_by, "is-read"));
        box.appendChild(summary);
        box.appendChild(peopleSection(T.unread_by, unread, function (link) {
          return link.user.display_name;
        }, unread.length === 0 ? T.everyone_read : T.nobody));
        box.appendChild(peopleSection(T.read_by, read, function (link) {
          return link.user.display_name;
        }, T.nobody));
        body.replaceChildren(box);
        state.receipts.set(id, { read_count: read.length, unread_count: unread.length, message_id: id });
        list.querySelectorAll('[data-receipts="' + id + '"]').forEach(function (node) {
          fillReceipt(node, id);
        });
      },
      function (error) {
        panelError(error);
      }
    );
    return data;
  }
  function statNode(count, label, className) {
    var stat = el("div", "panel-stat " + className);
    stat.appendChild(el("strong", null, String(count)));
    stat.appendChild(el("span", null, label));
    return stat;
  }
  function peopleSection(title, people, nameOf, emptyText, extraOf) {
    var section = el("section", "panel-section");
    var head = el("h3", "panel-section-title");
    head.appendChild(el("span", null, title));
    head.appendChild(el("span", "count", String(people.length)));
    section.appendChild(head);
    if (!people.length) {
      section.appendChild(el("p", "panel-empty", emptyText));
      return section;
    }
    var ul = el("ul", "people");
    people.forEach(function (person) {
      var li = el("li", "person-row");
      var name = nameOf(person);
      var avatar = el("span", "avatar avatar-xs", initials(name));
      avatar.setAttribute("aria-hidden", "true");
      li.appendChild(avatar);
      li.appendChild(el("span", "person-row-name", name));
      if (extraOf) {
        var extra = extraOf(person);
        if (extra) li.appendChild(el("span", "person-row-extra", extra));
      }
      ul.appendChild(li);
    });
    section.appendChild(ul);
    return section;
  }
  function quoteNode(m) {
    var quote = el("blockquote", "panel-quote");
    quote.appendChild(el("span", "panel-quote-meta", senderName(m) + " · " + timeFormat.format(new Date(m.created_at))));
    var text = m.body;
    if (m.html) {
      var rendered = document.createElement("div");
      rendered.innerHTML = m.html; /* sanitised on the server; read back as plain text */
      text = rendered.textContent;
    }
    quote.appendChild(el("span", "panel-quote-text", text || (m.attachments && m.attachments.length ? "📎" : "")));
    return quote;
  }

  /* --- Side panel ----------------------------------------------------------------------- */
  var panel = $("[data-panel]");
  var panelBody = $("[data-panel-body]");
  function openPanel(which, title) {
    state.panel = which;
    $("[data-panel-title]").textContent = title;
    panel.hidden = false;
    root.classList.add("has-panel");
  }
  function closePanel() {
    state.panel = null;
    panel.hidden = true;
    root.classList.remove("has-panel");
    panelBody.replaceChildren();
  }
  function spinnerRow() {
    var row = el("div", "panel-loading");
    row.appendChild(el("span", "spinner"));
    return row;
  }
  function panelError(error) {
    var box = el("div", "chat-state");
    var badge = el("span", "notice-icon notice-icon-warn", "!");
    box.appendChild(badge);
    box.appendChild(el("p", "chat-state-text", (error && error.message) || T.load_error));
    panelBody.replaceChildren(box);
  }

  /* --- Group details: the apps added to the chat ("cool apps") and the members ------------- */
  var GROUP_KINDS = ["group", "department", "all_staff"];
  var CARD_SCOPE = "im:card.write";
  function isGroupChat(conv) {
    return !!conv && GROUP_KINDS.indexOf(conv.kind) !== -1;
  }

  function showDetails(quiet) {
    var id = state.openId;
    if (!isGroupChat(state.conversations.get(id))) return;
    openPanel({ kind: "details", id: id }, T.details);
    if (!quiet) panelBody.replaceChildren(spinnerRow());
    Promise.all([
      api("conversations/" + id + "/apps/"),
      /* Every member may read the installed apps; an error only hides the add control. */
      api("marketplace/installations/").catch(function () {
        return [];
      }),
    ]).then(
      function (answers) {
        if (!state.panel || state.panel.kind !== "details" || state.panel.id !== id) return;
        renderDetails(answers[0] || [], results(answers[1]));
      },
      function (error) {
        if (state.panel && state.panel.kind === "details" && state.panel.id === id) panelError(error);
      }
    );
  }

  function renderDetails(apps, installations) {
    var box = document.createDocumentFragment();
    var section = el("section", "panel-section chat-apps");
    section.dataset.chatApps = "";
    section.setAttribute("aria-labelledby", "chat-apps-title");
    var head = el("h3", "panel-section-title");
    var title = el("span", null, T.apps_title);
    title.id = "chat-apps-title";
    head.appendChild(title);
    head.appendChild(el("span", "count", String(apps.length)));
    section.appendChild(head);
    if (!apps.length) section.appendChild(el("p", "panel-empty", T.apps_none));
    var rows = el("ul", "people");
    apps.forEach(function (binding) {
      var name = binding.app.name;
      var row = el("li", "person-row app-row");
      row.dataset.coolApp = binding.id;
      var avatar = el("span", "avatar avatar-xs app-avatar", initials(name));
      avatar.setAttribute("aria-hidden", "true");
      row.appendChild(avatar);
      var text = el("span", "app-row-text");
      text.appendChild(el("span", "person-row-name", name));
      text.appendChild(
        el("span", "person-row-extra", fmt(T.app_added_by, { name: binding.added_by_name || T.unknown_member }))
      );
      row.appendChild(text);
      var remove = el("button", "btn btn-sm btn-ghost-danger", T.remove);
      remove.type = "button";
      remove.dataset.removeApp = binding.id;
      remove.dataset.appName = name;
      remove.setAttribute("aria-label", fmt(T.app_remove_label, { name: name }));
      row.appendChild(remove);
      rows.appendChild(row);
    });
    if (apps.length) section.appendChild(rows);

    var added = apps.map(function (binding) {
      return binding.installation_id;
    });
    var candidates = installations.filter(function (inst) {
      return (
        inst.status === "active" &&
        (inst.granted_scopes || []).indexOf(CARD_SCOPE) !== -1 &&
        added.indexOf(inst.id) === -1
      );
    });
    var form = el("form", "app-add");
    form.dataset.addApp = "";
    form.noValidate = true;
    if (candidates.length) {
      var label = el("label", "app-add-label", T.app_add_label);
      label.htmlFor = "chat-add-app";
      form.appendChild(label);
      var line = el("div", "app-add-row");
      var select = el("select", "select-sm");
      select.id = "chat-add-app";
      select.name = "installation";
      candidates.forEach(function (inst) {
        var option = el("option", null, inst.app_name);
        option.value = inst.id;
        select.appendChild(option);
      });
      line.appendChild(select);
      var submit = el("button", "btn btn-sm btn-primary", T.app_add);
      submit.type = "submit";
      line.appendChild(submit);
      form.appendChild(line);
    } else {
      form.appendChild(el("p", "panel-note", apps.length ? T.app_add_no_other : T.app_add_none));
      if (config.marketplace_url) {
        var link = el("a", "app-add-link", T.marketplace);
        link.href = config.marketplace_url;
        form.appendChild(link);
      }
    }
    var error = el("p", "field-error");
    error.dataset.appError = "";
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.appendChild(error);
    section.appendChild(form);
    box.appendChild(section);

    if (state.members) {
      box.appendChild(
        peopleSection(T.members_title, state.members, function (person) {
          return person.display_name;
        }, T.nobody)
      );
    }
    panelBody.replaceChildren(box);
  }

  function appError(error) {
    var node = panelBody.querySelector("[data-app-error]");
    if (!node) {
      toast(error.message || T.load_error, "error");
      return;
    }
    node.textContent = error.message || T.load_error;
    node.hidden = false;
  }

  panelBody.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-add-app]");
    if (!form || !state.panel || state.panel.kind !== "details") return;
    event.preventDefault();
    var select = form.querySelector("select");
    var submit = form.querySelector("button[type=submit]");
    if (!select || !select.value) return;
    var id = state.panel.id;
    var name = select.options[select.selectedIndex].textContent;
    submit.disabled = true;
    api("conversations/" + id + "/apps/", { method: "POST", body: { installation: Number(select.value) } }).then(
      function () {
        toast(fmt(T.app_added, { name: name }));
        if (state.panel && state.panel.kind === "details" && state.panel.id === id) showDetails(true);
      },
      function (error) {
        submit.disabled = false;
        appError(error);
      }
    );
  });

  panelBody.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove-app]");
    if (!button || !state.panel || state.panel.kind !== "details") return;
    var id = state.panel.id;
    var name = button.dataset.appName;
    confirmThen(fmt(T.app_remove_confirm, { name: name }), T.remove, function () {
      button.disabled = true;
      api("cool-apps/" + button.dataset.removeApp + "/", { method: "DELETE" }).then(
        function () {
          toast(fmt(T.app_removed, { name: name }));
          if (state.panel && state.panel.kind === "details" && state.panel.id === id) showDetails(true);
        },
        function (error) {
          button.disabled = false;
          appError(error);
        }
      );
    });
  });

  /* --- DING ----------------------------------------------------------------------------- */
  function fillDingStatus(node, id) {
    var data = state.dings.get(id);
    node.replaceChildren(icon("bell"));
    if (!data) {
      node.appendChild(el("span", null, T.ding));
      loadDing(id);
      return;
    }
    var total = data.total || data.confirmed_count + data.unconfirmed_count;
    node.appendChild(el("span", null, fmt(T.ding_status, { confirmed: data.confirmed_count, total: total })));
    node.classList.toggle("is-done", data.unconfirmed_count === 0);
  }
  var dingLoading = new Set();
  function loadDing(id) {
    if (dingLoading.has(id) || !state.dingAvailable) return Promise.resolve(null);
    dingLoading.add(id);
    return api("messages/" + id + "/ding/")
      .then(function (data) {
        state.dings.set(id, data);
        list.querySelectorAll('[data-ding-status="' + id + '"]').forEach(function (node) {
          fillDingStatus(node, id);
        });
        return data;
      })
      .catch(function () {
        return null;
      })
      .finally(function () {
        dingLoading.delete(id);
      });
  }
  function showDing(id) {
    openPanel({ kind: "ding", id: id }, T.ding_panel_title);
    if (!state.dings.has(id)) panelBody.replaceChildren(spinnerRow());
    else renderDingPanel(id);
    loadDing(id).then(function (data) {
      if (data && state.panel && state.panel.kind === "ding" && state.panel.id === id) renderDingPanel(id);
      else if (!data && state.panel && state.panel.id === id) panelError({ message: T.ding_unavailable });
    });
  }
  function renderDingPanel(id) {
    var data = state.dings.get(id);
    if (!data) return;
    var box = document.createDocumentFragment();
    var m = state.messages.get(id);
    if (m) box.appendChild(quoteNode(m));
    var summary = el("div", "panel-summary");
    summary.appendChild(statNode(data.unconfirmed_count, T.ding_unconfirmed, "is-unread"));
    summary.appendChild(statNode(data.confirmed_count, T.ding_confirmed, "is-read"));
    box.appendChild(summary);
    if (data.closed) box.appendChild(el("p", "panel-note", T.ding_closed));
    box.appendChild(
      peopleSection(
        T.ding_unconfirmed,
        data.unconfirmed || [],
        function (p) {
          return p.display_name;
        },
        T.everyone_read,
        function (p) {
          return p.reminded_count ? fmt(T.ding_reminded, { count: p.reminded_count }) : "";
        }
      )
    );
    var confirmed = peopleSection(
      T.ding_confirmed,
      data.confirmed || [],
      function (p) {
        return p.display_name;
      },
      T.nobody,
      function (p) {
        return p.confirmed_at ? timeFormat.format(new Date(p.confirmed_at)) : "";
      }
    );
    confirmed.dataset.dingConfirmed = "";
    box.appendChild(confirmed);
    panelBody.replaceChildren(box);
  }

  function isPendingDing(id) {
    return state.pendingDings.some(function (d) {
      return d.message_id === id;
    });
  }
  function confirmDing(id, button) {
    if (button) button.disabled = true;
    return api("messages/" + id + "/ding/confirm/", { method: "POST" }).then(
      function () {
        state.pendingDings = state.pendingDings.filter(function (d) {
          return d.message_id !== id;
        });
        renderBanners();
        if (state.messages.has(id)) replaceMessage(id);
        toast(T.ding_confirmed_toast, "success");
      },
      function (error) {
        if (button) button.disabled = false;
        toast(error.message, "error");
      }
    );
  }

  var banners = $("[data-ding-banners]");
  /* On a phone the list and the conversation take turns: the banners follow what is shown. */
  var narrow = window.matchMedia("(max-width: 760px)");
  function placeBanners() {
    var host = narrow.matches && root.dataset.state === "list" ? $(".chat-sidebar") : $(".chat-main");
    if (banners.parentNode !== host) host.insertBefore(banners, host.firstChild);
  }
  if (typeof narrow.addEventListener === "function") narrow.addEventListener("change", placeBanners);
  function loadPendingDings() {
    if (!state.dingAvailable) return Promise.resolve();
    return api("dings/pending/").then(
      function (data) {
        var before = state.pendingDings;
        state.pendingDings = results(data);
        renderBanners();
        before.concat(state.pendingDings).forEach(function (d) {
          if (state.messages.has(d.message_id)) replaceMessage(d.message_id);
        });
      },
      function (error) {
        if (error.status === 404) state.dingAvailable = false; /* a server without DING */
      }
    );
  }
  var loadPendingDingsSoon = debounce(loadPendingDings, 200);
  var senderLookups = new Set();
  function renderBanners(pulse) {
    banners.replaceChildren();
    var pending = state.pendingDings;
    if (!pending.length) return;
    var ding = pending[0];
    var name = state.names.get(ding.sender_id);
    if (!name && !senderLookups.has(ding.message_id)) {
      senderLookups.add(ding.message_id);
      api("messages/" + ding.message_id + "/").then(function (raw) {
        normalise(raw);
        renderBanners();
      }, function () {});
    }
    var banner = el("div", "ding-banner" + (pulse ? " is-pulsing" : ""));
    banner.dataset.dingBanner = ding.message_id;
    var bell = el("span", "ding-banner-icon");
    bell.appendChild(icon("bell"));
    banner.appendChild(bell);
    var text = el("div", "ding-banner-text");
    text.appendChild(el("strong", "ding-banner-title", fmt(T.ding_from, { name: name || "…" })));
    text.appendChild(el("span", "ding-banner-body", ding.body));
    if (pending.length > 1) {
      var more = pending.length - 1;
      text.appendChild(
        el("span", "ding-banner-more", more === 1 ? T.ding_more_one : fmt(T.ding_more_many, { count: more }))
      );
    }
    banner.appendChild(text);
    var open = el("button", "btn btn-sm ding-banner-open", T.open);
    open.type = "button";
    open.dataset.action = "open-pending-ding";
    banner.appendChild(open);
    var confirm = el("button", "btn btn-sm ding-banner-confirm");
    confirm.type = "button";
    confirm.dataset.action = "confirm-ding";
    confirm.appendChild(icon("check"));
    confirm.appendChild(el("span", null, T.ding_confirm));
    banner.appendChild(confirm);
    banners.appendChild(banner);
  }
  banners.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    var banner = event.target.closest("[data-ding-banner]");
    if (!button || !banner) return;
    var id = Number(banner.dataset.dingBanner);
    var ding = state.pendingDings.find(function (d) {
      return d.message_id === id;
    });
    if (button.dataset.action === "open-pending-ding" && ding) {
      if (state.openId === ding.conversation_id) revealMessage(id);
      else openConversation(ding.conversation_id, id);
    } else if (button.dataset.action === "confirm-ding") {
      confirmDing(id, button);
    }
  });

  /* DING compose dialog */
  var dingDialog = document.querySelector('[data-dialog="ding"]');
  var dingPicked = new Set();
  function openDingDialog() {
    var text = input.value.trim();
    if (!text) {
      toast(T.ding_needs_text, "error");
      input.focus();
      return;
    }
    var conv = state.conversations.get(state.openId);
    dingPicked.clear();
    dingDialog.querySelector("[data-ding-preview]").textContent = text;
    dingDialog.querySelector("[data-ding-all]").checked = false;
    dingDialog.querySelector("[data-ding-search]").value = "";
    dialogError(dingDialog, "");
    state.mentions.forEach(function (_name, id) {
      if (text.indexOf("@" + _name) !== -1) dingPicked.add(id);
    });
    if (conv && conv.kind === "direct" && state.members) {
      state.members.forEach(function (m) {
        if (m.id !== ME.member_id) dingPicked.add(m.id);
      });
    }
    renderDingMembers();
    dingDialog.showModal();
  }
  function renderDingMembers() {
    var everyone = dingDialog.querySelector("[data-ding-all]").checked;
    var query = dingDialog.querySelector("[data-ding-search]").value.trim().toLowerCase();
    var ul = dingDialog.querySelector("[data-ding-members]");
    dingDialog.querySelector("[data-ding-search-wrap]").hidden = everyone;
    ul.hidden = everyone;
    ul.replaceChildren();
    (state.members || [])
      .filter(function (m) {
        return m.id !== ME.member_id && (!query || m.display_name.toLowerCase().indexOf(query) !== -1);
      })
      .forEach(function (m) {
        ul.appendChild(memberOption(m.id, m.display_name, dingPicked.has(m.id), "ding-pick"));
      });
    if (!ul.childNodes.length) ul.appendChild(el("li", "member-empty", T.no_members_found));
  }
  dingDialog.addEventListener("input", function (event) {
    if (event.target.matches("[data-ding-search]")) renderDingMembers();
  });
  dingDialog.addEventListener("change", function (event) {
    if (event.target.matches("[data-ding-all]")) renderDingMembers();
  });
  dingDialog.addEventListener("click", function (event) {
    var option = event.target.closest('[data-pick="ding-pick"]');
    if (option) {
      var id = Number(option.dataset.memberId);
      if (dingPicked.has(id)) dingPicked.delete(id);
      else dingPicked.add(id);
      option.setAttribute("aria-selected", String(dingPicked.has(id)));
      return;
    }
    var send = event.target.closest('[data-action="send-ding"]');
    if (!send) return;
    var everyone = dingDialog.querySelector("[data-ding-all]").checked;
    if (!everyone && dingPicked.size === 0) {
      dialogError(dingDialog, T.ding_pick);
      return;
    }
    var body = { body: input.value.trim(), client_msg_id: uuid() };
    if (everyone) body.all = true;
    else body.member_ids = Array.from(dingPicked);
    var convId = state.openId;
    send.disabled = true;
    api("conversations/" + convId + "/ding/", { method: "POST", body: body })
      .then(
        function (data) {
          dingDialog.close();
          input.value = "";
          autosize();
          state.mentions.clear();
          if (data && data.message) {
            var m = normalise(data.message);
            if (m.conversation_id === state.openId) {
              storeMessage(m);
              renderMessages();
              scrollToBottom();
            }
            if (data.ding && typeof data.ding === "object" && "confirmed_count" in data.ding) {
              state.dings.set(m.id, data.ding);
            }
            loadDing(m.id);
          }
          toast(T.ding_sent, "success");
        },
        function (error) {
          dialogError(dingDialog, error.status === 404 ? T.ding_unavailable : error.message);
        }
      )
      .finally(function () {
        send.disabled = false;
      });
  });

  /* --- Threads (a filtered view in the side panel) ---------------------------------------- */
  function openThread(rootId) {
    openPanel({ kind: "thread", id: rootId }, T.thread_title);
    panelBody.replaceChildren(spinnerRow());
    var convId = state.openId;
    api("conversations/" + convId + "/messages/?thread=" + rootId + "&limit=100").then(
      function (page) {
        page.forEach(function (raw) {
          var m = normalise(raw);
          m._full = true;
          storeMessage(m);
        });
        renderThread();
      },
      panelError
    );
  }
  function renderThread() {
    if (!state.panel || state.panel.kind !== "thread") return;
    var rootId = state.panel.id;
    var box = el("div", "thread");
    var rootMessage = state.messages.get(rootId);
    var scroll = el("div", "thread-scroll");
    if (rootMessage) scroll.appendChild(messageNode(rootMessage, null, { inThread: true }));
    var replies = state.order
      .map(function (id) {
        return state.messages.get(id);
      })
      .filter(function (m) {
        return m && m.thread_root_id === rootId;
      });
    var divider = el("div", "thread-divider");
    divider.appendChild(
      el("span", null, replies.length === 1 ? T.replies_one : fmt(T.replies_many, { count: replies.length }))
    );
    scroll.appendChild(divider);
    if (!replies.length) scroll.appendChild(el("p", "panel-empty", T.thread_empty));
    var prev = null;
    replies.forEach(function (m) {
      scroll.appendChild(messageNode(m, prev, { inThread: true }));
      prev = m;
    });
    box.appendChild(scroll);
    var form = el("form", "thread-composer");
    var area = el("textarea", "composer-input");
    area.rows = 2;
    area.placeholder = T.reply_placeholder;
    area.dataset.threadInput = "";
    form.appendChild(area);
    var send = el("button", "btn btn-primary btn-sm");
    send.type = "submit";
    send.appendChild(icon("send"));
    form.appendChild(send);
    box.appendChild(form);
    var keep = panelBody.querySelector("[data-thread-input]");
    var draft = keep ? keep.value : "";
    panelBody.replaceChildren(box);
    area.value = draft;
    scroll.scrollTop = scroll.scrollHeight;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value;
      if (!text.trim()) return;
      area.value = "";
      api("conversations/" + state.openId + "/messages/", {
        method: "POST",
        body: { body: text, client_msg_id: uuid(), thread_root_id: rootId },
      }).then(
        function (raw) {
          var m = normalise(raw);
          m._full = true;
          storeMessage(m);
          renderThread();
        },
        function (error) {
          area.value = text;
          toast(error.message || T.send_error, "error");
        }
      );
    });
    area.addEventListener("keydown", function (event) {
      submitOnEnter(event, form);
    });
  }
  function refreshThreadMessage(id) {
    var m = state.messages.get(id);
    if (m && state.panel && state.panel.kind === "thread" && (m.id === state.panel.id || m.thread_root_id === state.panel.id)) {
      renderThread();
    }
  }

  /* --- Message actions ------------------------------------------------------------------ */
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var node = button.closest("[data-message-id]");
    var pendingNodeEl = button.closest("[data-pending]");
    var action = button.dataset.action;
    if (action === "retry-send" && pendingNodeEl) {
      var pending = state.pendingSends.get(pendingNodeEl.dataset.pending);
      if (pending) {
        pending.failed = false;
        renderMessages();
        deliver(pending);
      }
      return;
    }
    if (!node) return;
    var id = Number(node.dataset.messageId);
    var m = state.messages.get(id);
    if (!m) return;
    if (action === "react") showReactionPicker(button, m);
    else if (action === "toggle-reaction") toggleReaction(m, button.dataset.emoji);
    else if (action === "reply" || action === "open-thread") openThread(m.id);
    else if (action === "edit") {
      state.editingId = m.id;
      replaceMessage(m.id);
      var area = list.querySelector('[data-message-id="' + m.id + '"] textarea');
      if (area) {
        area.focus();
        area.setSelectionRange(area.value.length, area.value.length);
      }
    } else if (action === "recall") confirmRecall(m);
    else if (action === "open-receipts") showReceipts(m.id);
    else if (action === "open-ding") showDing(m.id);
    else if (action === "confirm-ding") confirmDing(m.id, button);
    else if (action === "card-action") cardAction(m, button);
  });
  panelBody.addEventListener("click", function (event) {
    var button = event.target.closest('[data-action="toggle-reaction"]');
    var node = event.target.closest("[data-message-id]");
    if (button && node) toggleReaction(state.messages.get(Number(node.dataset.messageId)), button.dataset.emoji);
  });

  var picker = null;
  function showReactionPicker(anchor, m) {
    hidePicker();
    picker = el("div", "reaction-picker");
    picker.setAttribute("role", "menu");
    QUICK_REACTIONS.forEach(function (emoji) {
      var b = el("button", "reaction-pick", emoji);
      b.type = "button";
      b.setAttribute("role", "menuitem");
      b.addEventListener("click", function () {
        hidePicker();
        toggleReaction(m, emoji);
      });
      picker.appendChild(b);
    });
    anchor.closest(".msg").appendChild(picker);
    picker.querySelector("button").focus();
  }
  function hidePicker() {
    if (picker) picker.remove();
    picker = null;
  }
  document.addEventListener("click", function (event) {
    if (picker && !event.target.closest(".reaction-picker") && !event.target.closest('[data-action="react"]')) hidePicker();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (picker) hidePicker();
    else if (state.panel && !document.querySelector("dialog[open]") && popup.hidden && state.editingId === null) {
      closePanel();
    }
  });

  function applyReaction(m, emoji, memberId, add) {
    var entry = m.reactions.find(function (r) {
      return r.emoji === emoji;
    });
    if (add) {
      if (!entry) {
        entry = { emoji: emoji, count: 0, member_ids: [] };
        m.reactions.push(entry);
      }
      if (entry.member_ids.indexOf(memberId) === -1) {
        entry.member_ids.push(memberId);
        entry.count = entry.member_ids.length;
      }
    } else if (entry) {
      entry.member_ids = entry.member_ids.filter(function (id) {
        return id !== memberId;
      });
      entry.count = entry.member_ids.length;
      if (!entry.count) m.reactions.splice(m.reactions.indexOf(entry), 1);
    }
  }
  function toggleReaction(m, emoji) {
    if (!m) return;
    var entry = m.reactions.find(function (r) {
      return r.emoji === emoji;
    });
    var mine = entry && entry.member_ids.indexOf(ME.member_id) !== -1;
    var request = mine
      ? api("messages/" + m.id + "/reactions/" + encodeURIComponent(emoji) + "/", { method: "DELETE" })
      : api("messages/" + m.id + "/reactions/", { method: "POST", body: { emoji: emoji } });
    applyReaction(m, emoji, ME.member_id, !mine);
    replaceMessage(m.id);
    request.catch(function (error) {
      applyReaction(m, emoji, ME.member_id, !!mine);
      replaceMessage(m.id);
      toast(error.message, "error");
    });
  }

  function editorNode(m) {
    var form = el("form", "msg-editor");
    var area = el("textarea", "composer-input");
    area.value = m.body;
    area.rows = Math.min(8, Math.max(2, m.body.split("\n").length));
    form.appendChild(area);
    var row = el("div", "msg-editor-actions");
    var cancel = el("button", "btn btn-sm", T.cancel);
    cancel.type = "button";
    var save = el("button", "btn btn-sm btn-primary", T.save);
    save.type = "submit";
    row.appendChild(cancel);
    row.appendChild(save);
    form.appendChild(row);
    function stop() {
      state.editingId = null;
      replaceMessage(m.id);
    }
    cancel.addEventListener("click", stop);
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") stop();
      submitOnEnter(event, form);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value;
      if (!text.trim() || text === m.body) return stop();
      save.disabled = true;
      api("messages/" + m.id + "/", { method: "PATCH", body: { body: text } }).then(
        function (raw) {
          var fresh = normalise(raw);
          fresh._full = true;
          state.editingId = null;
          storeMessage(fresh);
          replaceMessage(m.id);
        },
        function (error) {
          save.disabled = false;
          toast(error.message, "error");
        }
      );
    });
    return form;
  }

  function confirmRecall(m) {
    var doRecall = function () {
      api("messages/" + m.id + "/recall/", { method: "POST" }).then(
        function () {
          m.recalled = true;
          m.body = "";
          m.html = "";
          replaceMessage(m.id);
        },
        function (error) {
          toast(error.message, "error");
        }
      );
    };
    confirmThen(T.recall_confirm, T.recall, doRecall);
  }

  /** Ask with the page's confirm dialog (``okLabel`` on its button), then run ``then``. */
  function confirmThen(text, okLabel, then) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(text)) then();
      return;
    }
    dialog.querySelector("[data-confirm-text]").textContent = text;
    var ok = dialog.querySelector("[data-confirm-ok]");
    if (!ok.dataset.defaultLabel) ok.dataset.defaultLabel = ok.textContent;
    ok.textContent = okLabel;
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      function () {
        ok.textContent = ok.dataset.defaultLabel;
        if (dialog.returnValue === "confirm") then();
      },
      { once: true }
    );
    dialog.showModal();
  }

  /* --- Composer ----------------------------------------------------------------------------- */
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 220) + "px";
  }
  input.addEventListener("input", function () {
    autosize();
    updateMentionPopup();
    var now = Date.now();
    if (state.openId && input.value && now - state.lastTypingSent > 3000 && socketOpen()) {
      state.lastTypingSent = now;
      state.socket.send(JSON.stringify({ type: "typing", conversation_id: state.openId }));
    }
  });
  input.addEventListener("keydown", function (event) {
    if (mentionKeydown(event)) return;
    submitOnEnter(event, composer);
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() && !state.files.length) return;
    if (state.files.some(function (f) {
      return f.uploading;
    })) {
      toast(T.uploading);
      return;
    }
    var mentionIds = [];
    state.mentions.forEach(function (name, id) {
      if (text.indexOf("@" + name) !== -1) mentionIds.push(id);
    });
    var pending = {
      client_msg_id: uuid(),
      conversation_id: state.openId,
      body: text,
      mention_ids: mentionIds,
      attachment_ids: state.files.map(function (f) {
        return f.id;
      }),
      failed: false,
    };
    state.pendingSends.set(pending.client_msg_id, pending);
    input.value = "";
    autosize();
    state.mentions.clear();
    state.files = [];
    renderFiles();
    (state.drafts || new Map()).delete(state.openId);
    renderMessages();
    scrollToBottom();
    deliver(pending);
  });
  function deliver(pending) {
    api("conversations/" + pending.conversation_id + "/messages/", {
      method: "POST",
      body: {
        body: pending.body,
        client_msg_id: pending.client_msg_id,
        mention_ids: pending.mention_ids,
        attachment_ids: pending.attachment_ids,
      },
    }).then(
      function (raw) {
        state.pendingSends.delete(pending.client_msg_id);
        var m = normalise(raw);
        m._full = true;
        var conv = state.conversations.get(pending.conversation_id);
        if (conv) {
          conv.last_message_id = Math.max(conv.last_message_id, m.id);
          conv.last_message_at = m.created_at;
          conv.last_read_message_id = Math.max(conv.last_read_message_id, m.id);
          renderConversations();
        }
        if (pending.conversation_id !== state.openId) return;
        var stick = atBottom();
        storeMessage(m);
        renderMessages();
        if (stick) scrollToBottom();
      },
      function (error) {
        pending.failed = true;
        if (pending.conversation_id === state.openId) renderMessages();
        toast(error.message || T.send_error, "error");
      }
    );
  }

  /* Attachments */
  var fileInput = $("[data-file-input]");
  var filesBox = $("[data-composer-files]");
  fileInput.addEventListener("change", function () {
    Array.from(fileInput.files || []).forEach(upload);
    fileInput.value = "";
  });
  function upload(file) {
    var entry = { key: uuid(), name: file.name, size: file.size, uploading: true };
    state.files.push(entry);
    renderFiles();
    var form = new FormData();
    form.append("file", file);
    api("attachments/", { method: "POST", form: form }).then(
      function (data) {
        entry.uploading = false;
        entry.id = data.id;
        entry.is_image = data.is_image;
        entry.url = data.url;
        renderFiles();
      },
      function (error) {
        state.files = state.files.filter(function (f) {
          return f !== entry;
        });
        renderFiles();
        toast(error.message || T.attachment_error, "error");
      }
    );
  }
  function renderFiles() {
    filesBox.replaceChildren();
    filesBox.hidden = state.files.length === 0;
    state.files.forEach(function (f) {
      var chip = el("span", "file-chip" + (f.uploading ? " is-uploading" : ""));
      chip.appendChild(f.uploading ? el("span", "spinner") : icon("file"));
      chip.appendChild(el("span", "file-chip-name", f.name));
      chip.appendChild(el("span", "file-chip-size", f.uploading ? T.uploading : humanSize(f.size)));
      var remove = el("button", "file-chip-remove");
      remove.type = "button";
      remove.setAttribute("aria-label", T.remove);
      remove.appendChild(icon("x"));
      remove.addEventListener("click", function () {
        state.files = state.files.filter(function (x) {
          return x !== f;
        });
        renderFiles();
      });
      chip.appendChild(remove);
      filesBox.appendChild(chip);
    });
  }

  /* @mention autocomplete */
  var popup = $("[data-mention-popup]");
  var mentionState = { items: [], index: 0, start: -1 };
  var directorySearch = debounce(function (query, start) {
    if (!config.can_browse_members) return;
    api("/api/v1/orgs/" + config.org_id + "/members/?status=active&page_size=8&q=" + encodeURIComponent(query)).then(
      function (data) {
        if (mentionState.start !== start) return;
        showMentionItems(
          results(data).map(function (m) {
            return { id: m.id, display_name: m.user.display_name };
          })
        );
      },
      function () {}
    );
  }, 200);
  function updateMentionPopup() {
    var before = input.value.slice(0, input.selectionStart);
    var match = /(^|\s)@([^\s@]{0,30})$/.exec(before);
    if (!match) {
      hideMentions();
      return;
    }
    var query = match[2].toLowerCase();
    mentionState.start = before.length - match[2].length - 1;
    if (state.members) {
      showMentionItems(
        state.members
          .filter(function (m) {
            return m.id !== ME.member_id && m.display_name.toLowerCase().indexOf(query) !== -1;
          })
          .slice(0, 8)
      );
    } else {
      directorySearch(query, mentionState.start);
    }
  }
  function showMentionItems(items) {
    mentionState.items = items;
    mentionState.index = 0;
    popup.replaceChildren();
    if (!items.length) {
      popup.hidden = true;
      return;
    }
    items.forEach(function (item, i) {
      var option = el("button", "mention-option" + (i === 0 ? " is-active" : ""));
      option.type = "button";
      option.setAttribute("role", "option");
      option.dataset.index = i;
      var avatar = el("span", "avatar avatar-xs", initials(item.display_name));
      avatar.setAttribute("aria-hidden", "true");
      option.appendChild(avatar);
      option.appendChild(el("span", null, item.display_name));
      popup.appendChild(option);
    });
    popup.hidden = false;
  }
  function hideMentions() {
    popup.hidden = true;
    mentionState.items = [];
  }
  function chooseMention(item) {
    var before = input.value.slice(0, mentionState.start);
    var after = input.value.slice(input.selectionStart);
    var insert = "@" + item.display_name + " ";
    input.value = before + insert + after;
    var caret = before.length + insert.length;
    input.setSelectionRange(caret, caret);
    state.mentions.set(item.id, item.display_name);
    state.names.set(item.id, item.display_name);
    hideMentions();
    input.focus();
    autosize();
  }
  function mentionKeydown(event) {
    if (popup.hidden || !mentionState.items.length) return false;
    var n = mentionState.items.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      mentionState.index = (mentionState.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      popup.querySelectorAll(".mention-option").forEach(function (o, i) {
        o.classList.toggle("is-active", i === mentionState.index);
      });
    } else if (event.key === "Enter" || event.key === "Tab") {
      chooseMention(mentionState.items[mentionState.index]);
    } else if (event.key === "Escape") {
      hideMentions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }
  popup.addEventListener("mousedown", function (event) {
    var option = event.target.closest(".mention-option");
    if (!option) return;
    event.preventDefault();
    chooseMention(mentionState.items[Number(option.dataset.index)]);
  });
  input.addEventListener("blur", function () {
    window.setTimeout(hideMentions, 150);
  });

  /* Typing indicator */
  var typingBox = $("[data-typing]");
  function renderTyping() {
    var now = Date.now();
    var names = [];
    state.typing.forEach(function (until, userId) {
      if (until > now) names.push(state.userNames.get(userId));
      else state.typing.delete(userId);
    });
    typingBox.replaceChildren();
    if (!names.length) return;
    var dots = el("span", "typing-dots");
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    typingBox.appendChild(dots);
    var known = names.filter(Boolean);
    typingBox.appendChild(
      el("span", null, known.length ? fmt(T.typing_one, { name: known.join(", ") }) : T.typing_someone)
    );
  }
  window.setInterval(function () {
    if (state.typing.size) renderTyping();
  }, 1000);

  /* --- Dialogs: new direct message, new group, all staff ------------------------------------- */
  function dialogError(dialog, text) {
    var node = dialog.querySelector("[data-dialog-error]");
    node.textContent = text;
    node.hidden = !text;
  }
  function memberOption(id, name, selected, pick) {
    var li = el("li", "member-option");
    li.setAttribute("role", "option");
    li.dataset.memberId = id;
    li.dataset.pick = pick;
    li.tabIndex = 0;
    if (selected !== null) li.setAttribute("aria-selected", String(!!selected));
    var avatar = el("span", "avatar avatar-xs", initials(name));
    avatar.setAttribute("aria-hidden", "true");
    li.appendChild(avatar);
    li.appendChild(el("span", "member-option-name", name));
    if (selected !== null) {
      var tick = el("span", "member-option-check");
      tick.appendChild(icon("check"));
      li.appendChild(tick);
    }
    return li;
  }
  function searchDirectory(dialog, pick, selected) {
    var query = dialog.querySelector("[data-member-search]").value.trim();
    var ul = dialog.querySelector("[data-member-results]");
    if (!config.can_browse_members) {
      ul.replaceChildren(el("li", "member-empty", T.members_forbidden));
      return;
    }
    ul.setAttribute("aria-busy", "true");
    api(
      "/api/v1/orgs/" + config.org_id + "/members/?status=active&page_size=30" + (query ? "&q=" + encodeURIComponent(query) : "")
    ).then(
      function (data) {
        ul.removeAttribute("aria-busy");
        ul.replaceChildren();
        results(data)
          .filter(function (m) {
            return m.id !== ME.member_id;
          })
          .forEach(function (m) {
            state.names.set(m.id, m.user.display_name);
            ul.appendChild(memberOption(m.id, m.user.display_name, selected ? selected.has(m.id) : null, pick));
          });
        if (!ul.childNodes.length) ul.appendChild(el("li", "member-empty", T.no_members_found));
      },
      function (error) {
        ul.removeAttribute("aria-busy");
        ul.replaceChildren(el("li", "member-empty", error.status === 403 ? T.members_forbidden : error.message));
      }
    );
  }

  var directDialog = document.querySelector('[data-dialog="new-direct"]');
  var groupDialog = document.querySelector('[data-dialog="new-group"]');
  var groupPicked = new Map();
  var searchDirect = debounce(function () {
    searchDirectory(directDialog, "direct", null);
  }, 200);
  var searchGroup = debounce(function () {
    searchDirectory(groupDialog, "group", groupPicked);
  }, 200);
  function openDirectDialog() {
    directDialog.querySelector("[data-member-search]").value = "";
    dialogError(directDialog, "");
    searchDirectory(directDialog, "direct", null);
    directDialog.showModal();
  }
  function openGroupDialog() {
    groupPicked.clear();
    groupDialog.querySelector("[data-group-name]").value = "";
    groupDialog.querySelector("[data-member-search]").value = "";
    dialogError(groupDialog, "");
    renderPicked();
    searchDirectory(groupDialog, "group", groupPicked);
    groupDialog.showModal();
  }
  function renderPicked() {
    var box = groupDialog.querySelector("[data-picked]");
    box.replaceChildren();
    groupPicked.forEach(function (name, id) {
      var chip = el("button", "picked-chip");
      chip.type = "button";
      chip.dataset.unpick = id;
      chip.appendChild(el("span", null, name));
      chip.appendChild(icon("x"));
      box.appendChild(chip);
    });
  }
  directDialog.addEventListener("input", searchDirect);
  groupDialog.addEventListener("input", function (event) {
    if (event.target.matches("[data-member-search]")) searchGroup();
  });
  function startDirect(memberId) {
    api("conversations/direct/", { method: "POST", body: { member_id: memberId } }).then(
      function (conv) {
        directDialog.close();
        loadConversations().then(function () {
          openConversation(conv.id);
        });
      },
      function (error) {
        dialogError(directDialog, error.message);
      }
    );
  }
  directDialog.addEventListener("click", function (event) {
    var option = event.target.closest('[data-pick="direct"]');
    if (option) startDirect(Number(option.dataset.memberId));
  });
  directDialog.addEventListener("keydown", function (event) {
    var option = event.target.closest('[data-pick="direct"]');
    if (option && event.key === "Enter") {
      event.preventDefault();
      startDirect(Number(option.dataset.memberId));
    }
  });
  function togglePick(option) {
    var id = Number(option.dataset.memberId);
    if (groupPicked.has(id)) groupPicked.delete(id);
    else groupPicked.set(id, option.querySelector(".member-option-name").textContent);
    option.setAttribute("aria-selected", String(groupPicked.has(id)));
    renderPicked();
  }
  groupDialog.addEventListener("keydown", function (event) {
    var option = event.target.closest('[data-pick="group"]');
    if (option && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      togglePick(option);
    }
    if (event.key === "Enter" && event.target.matches("input")) event.preventDefault();
  });
  groupDialog.addEventListener("click", function (event) {
    var option = event.target.closest('[data-pick="group"]');
    if (option) return togglePick(option);
    var chip = event.target.closest("[data-unpick]");
    if (chip) {
      groupPicked.delete(Number(chip.dataset.unpick));
      renderPicked();
      var row = groupDialog.querySelector('[data-member-id="' + chip.dataset.unpick + '"]');
      if (row) row.setAttribute("aria-selected", "false");
      return;
    }
    var create = event.target.closest('[data-action="create-group"]');
    if (!create) return;
    var name = groupDialog.querySelector("[data-group-name]").value.trim();
    if (!name) return dialogError(groupDialog, T.name_required);
    if (!groupPicked.size) return dialogError(groupDialog, T.pick_members);
    create.disabled = true;
    api("conversations/", { method: "POST", body: { name: name, member_ids: Array.from(groupPicked.keys()) } })
      .then(
        function (conv) {
          groupDialog.close();
          toast(T.group_created, "success");
          return loadConversations().then(function () {
            openConversation(conv.id);
          });
        },
        function (error) {
          dialogError(groupDialog, error.message);
        }
      )
      .finally(function () {
        create.disabled = false;
      });
  });

  /* --- Page-level buttons -------------------------------------------------------------------- */
  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button || list.contains(button) || banners.contains(button)) return;
    var action = button.dataset.action;
    var menu = button.closest("details[data-menu]");
    if (menu) menu.removeAttribute("open");
    if (action === "mark-all-read") markAllRead(button);
    else if (action === "new-direct") openDirectDialog();
    else if (action === "new-group") openGroupDialog();
    else if (action === "all-staff") {
      api("conversations/all-staff/", { method: "POST" }).then(
        function (conv) {
          loadConversations().then(function () {
            openConversation(conv.id);
          });
        },
        function (error) {
          toast(error.message, "error");
        }
      );
    } else if (action === "back") closeRoom();
    else if (action === "close-panel") closePanel();
    else if (action === "open-details") showDetails();
    else if (action === "reload-conversations") loadConversations();
    else if (action === "reload-room" && state.openId) {
      resetRoom();
      loadLatest();
    }
    else if (action === "ding") openDingDialog();
    else if (action === "mention") {
      var caret = input.selectionStart || input.value.length;
      var pre = input.value.slice(0, caret);
      var glue = pre && !/\s$/.test(pre) ? " @" : "@";
      input.value = pre + glue + input.value.slice(caret);
      input.focus();
      input.setSelectionRange(pre.length + glue.length, pre.length + glue.length);
      updateMentionPopup();
    }
  });

  function markAllRead(button) {
    button.disabled = true;
    api("conversations/read-all/", { method: "POST" })
      .then(
        function () {
          state.conversations.forEach(function (conv) {
            conv.unread = 0;
            conv.mentioned = 0;
            conv.last_read_message_id = Math.max(conv.last_read_message_id, conv.last_message_id);
          });
          renderConversations();
          toast(T.mark_all_done, "success");
        },
        function (error) {
          toast(error.message, "error");
        }
      )
      .finally(function () {
        button.disabled = false;
      });
  }

  /* --- Live events ---------------------------------------------------------------------------- */
  function fetchFull(id) {
    api("messages/" + id + "/").then(
      function (raw) {
        var m = normalise(raw);
        m._full = true;
        if (!state.messages.has(id)) return;
        storeMessage(m);
        if (m.thread_root_id) refreshThreadMessage(id);
        else replaceMessage(id);
      },
      function () {}
    );
  }

  function onMessageCreated(event) {
    var m = normalise(event.message);
    var conv = state.conversations.get(event.conversation_id);
    if (!conv) {
      reloadConversationsSoon();
      return;
    }
    var mine = isMine(m);
    var isOpen = state.openId === conv.id;
    var firstTime = m.id > conv.last_message_id;
    conv.last_message_id = Math.max(conv.last_message_id, m.id);
    conv.last_message_at = m.created_at;
    if (mine) {
      conv.last_read_message_id = Math.max(conv.last_read_message_id, m.id);
    } else if (firstTime && m.id > conv.last_read_message_id && !(isOpen && document.visibilityState === "visible")) {
      conv.unread += 1;
      if (m.mentions_all || (m.mention_ids || []).indexOf(ME.member_id) !== -1) conv.mentioned += 1;
    }
    renderConversations();
    if (m.kind === "ding" && !mine) loadPendingDingsSoon();
    if (!isOpen) return;
    if (m.client_msg_id && state.pendingSends.has(m.client_msg_id)) state.pendingSends.delete(m.client_msg_id);
    var known = state.messages.has(m.id);
    storeMessage(m);
    if (m.thread_root_id) {
      var rootMessage = state.messages.get(m.thread_root_id);
      if (rootMessage && !known) {
        rootMessage.reply_count += 1;
        replaceMessage(rootMessage.id);
      }
      refreshThreadMessage(m.id);
    } else if (!known) {
      var stick = atBottom() || mine;
      renderMessages();
      if (stick) scrollToBottom();
      else jumpButton.hidden = false;
    }
    state.typing.delete(m.sender_user_id);
    if (!known) fetchFull(m.id);
    if (!mine) maybeMarkRead();
  }

  /** Enter sends, Shift+Enter adds a line; never while an input method is composing. */
  function submitOnEnter(event, form) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  }

  function applyEvent(event) {
    // One socket carries all of a person's organisations; this page is about one of them.
    if (event.org_id !== undefined && event.org_id !== null && event.org_id !== config.org_id) return;
    if (event.id) {
      if (state.seenEvents.has(event.id)) return;
      state.seenEvents.add(event.id);
      if (state.seenEvents.size > 2000) state.seenEvents = new Set(Array.from(state.seenEvents).slice(-1000));
      state.lastEventId = Math.max(state.lastEventId, event.id);
    }
    var type = event.type;
    var m;
    if (type === "message.created") {
      onMessageCreated(event);
    } else if (type === "message.edited") {
      if (event.conversation_id !== state.openId || !state.messages.has(event.message.id)) return;
      m = normalise(event.message);
      var old = state.messages.get(m.id);
      old.body = m.body;
      old.html = m.html;
      old.edited_at = m.edited_at;
      old.recalled = m.recalled;
      replaceMessage(m.id);
    } else if (type === "message.card_updated") {
      m = state.messages.get(event.message_id);
      if (!m || event.conversation_id !== state.openId || !event.card) return;
      m.card = event.card;
      replaceMessage(m.id);
    } else if (type === "message.recalled") {
      m = state.messages.get(event.message_id);
      if (!m || event.conversation_id !== state.openId) return;
      m.recalled = true;
      m.body = "";
      m.html = "";
      m.attachments = [];
      replaceMessage(m.id);
    } else if (type === "reaction.added" || type === "reaction.removed") {
      m = state.messages.get(event.message_id);
      if (!m || event.conversation_id !== state.openId) return;
      applyReaction(m, event.emoji, event.membership_id, type === "reaction.added");
      replaceMessage(m.id);
    } else if (type === "read") {
      var conv = state.conversations.get(event.conversation_id);
      if (!conv) return;
      if (event.membership_id === ME.member_id) {
        conv.last_read_message_id = Math.max(conv.last_read_message_id, event.last_read_message_id);
        if (conv.last_read_message_id >= conv.last_message_id) {
          conv.unread = 0;
          conv.mentioned = 0;
        }
        renderConversations();
      } else if (conv.id === state.openId) {
        pendingReadCursor = Math.max(pendingReadCursor, event.last_read_message_id);
        refreshReceiptsSoon();
      }
    } else if (type === "typing") {
      if (event.conversation_id !== state.openId || event.user_id === ME.user_id) return;
      state.typing.set(event.user_id, Date.now() + 5000);
      renderTyping();
    } else if (type === "ding.created") {
      loadPendingDingsSoon();
    } else if (type === "ding.confirmed") {
      var ding = state.dings.get(event.message_id);
      if (ding) {
        ding.confirmed_count = event.confirmed_count;
        ding.unconfirmed_count = event.unconfirmed_count;
        list.querySelectorAll('[data-ding-status="' + event.message_id + '"]').forEach(function (node) {
          fillDingStatus(node, event.message_id);
        });
      }
      if (state.panel && state.panel.kind === "ding" && state.panel.id === event.message_id) {
        renderDingPanel(event.message_id);
        loadDing(event.message_id).then(function (data) {
          if (data && state.panel && state.panel.id === event.message_id) renderDingPanel(event.message_id);
        });
      } else if (ding) {
        loadDing(event.message_id);
      }
      if (event.member_id === ME.member_id) loadPendingDingsSoon();
    } else if (type === "ding.reminder") {
      loadPendingDings().then(function () {
        renderBanners(true);
      });
    } else if (
      type === "conversation.joined" ||
      type === "conversation.left" ||
      type === "conversation.updated"
    ) {
      reloadConversationsSoon();
    }
  }

  /* --- The socket: connect, reconnect with backoff, catch up ----------------------------------- */
  var connection = $("[data-connection]");
  var backoff = 1000;
  function socketOpen() {
    return state.socket && state.socket.readyState === WebSocket.OPEN;
  }
  function setConnection(which) {
    connection.dataset.state = which;
    connection.textContent = which === "down" ? T.reconnecting : "";
    root.dataset.socket = which;
  }
  function catchUp() {
    if (!state.lastEventId) {
      /* Nothing seen yet: reload what the page shows instead of replaying history. */
      loadConversations();
      if (state.openId) {
        var id = state.openId;
        api("conversations/" + id + "/messages/?limit=" + PAGE).then(function (page) {
          if (state.openId !== id) return;
          page.forEach(function (raw) {
            var m = normalise(raw);
            m._full = true;
            storeMessage(m);
          });
          renderMessages();
        }, function () {});
      }
      loadPendingDings();
      return;
    }
    /* replay=60: events that committed late, below the last id seen, come back too;
       applyEvent drops ids it has already applied. */
    var before = state.lastEventId;
    api("events/?after=" + before + "&replay=60").then(function (events) {
      events.forEach(applyEvent);
      if (events.length >= 500 && state.lastEventId > before) catchUp();
    }, function () {});
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + config.ws_path);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.addEventListener("message", function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event.type === "hello") {
        setConnection("up");
        backoff = 1000;
        if (state.everConnected) catchUp();
        state.everConnected = true;
        return;
      }
      if (event.type === "pong" || event.type === "error") return;
      applyEvent(event);
    });
    socket.addEventListener("close", function () {
      if (state.socket !== socket) return;
      setConnection("down");
      scheduleReconnect();
    });
  }
  function scheduleReconnect() {
    var wait = Math.min(backoff, 30000) * (0.75 + Math.random() * 0.5);
    backoff = Math.min(backoff * 2, 30000);
    window.setTimeout(connect, wait);
  }
  window.setInterval(function () {
    if (socketOpen()) state.socket.send(JSON.stringify({ type: "ping" }));
  }, 25000);

  /* --- Start ---------------------------------------------------------------------------------- */
  setConnection("connecting");
  placeBanners();
  connect();
  loadConversations().then(function () {
    var first = config.open_conversation;
    if (first && state.conversations.has(first)) openConversation(first, config.open_message);
  });
  loadPendingDings();
})();
