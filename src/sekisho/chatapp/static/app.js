// Sekisho chat: streams answers into the server-rendered page. No inline script, no storage:
// the session lives in an HttpOnly cookie; this script only ever sees the CSRF token.
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const root = body.dataset.root;
  const csrf = $('meta[name="csrf-token"]').content;
  let conversation = body.dataset.conversation || "";
  const turns = $("#turns"), composer = $("#composer"), input = $("#content");
  const aliasSel = $("#alias"), sendBtn = $("#send"), stopBtn = $("#stop");
  const regenBtn = $("#regenerate"), editBtn = $("#edit-last"), blocked = $("#blocked");
  let controller = null, editing = false, isBlocked = false;

  // --- Markdown, rendered safely -------------------------------------------------------------
  const SAFE_URL = /^(https?:|mailto:)/i;
  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  marked.use({
    gfm: true,
    breaks: true,
    renderer: {
      html: (token) => escapeHtml(token.text), // raw HTML in model output is shown, never parsed
      image: (token) => {
        // Images never load (no tracking pixels, no exfiltration); a safe URL becomes a link.
        const alt = escapeHtml(token.text || "image");
        return SAFE_URL.test(token.href || "")
          ? `<a href="${escapeHtml(token.href)}">[image: ${alt}]</a>`
          : `[image: ${alt}]`;
      },
    },
  });
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href") || "";
      if (!SAFE_URL.test(href)) node.removeAttribute("href");
      node.setAttribute("rel", "noopener noreferrer nofollow");
      node.setAttribute("target", "_blank");
    }
  });
  const PURIFY = {
    RETURN_TRUSTED_TYPE: true,
    ALLOWED_TAGS: ["p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
      "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "span"],
    ALLOWED_ATTR: ["href", "title", "class", "start", "align"],
  };

  function renderMarkdown(el, text) {
    el.innerHTML = DOMPurify.sanitize(marked.parse(text), PURIFY);
    el.querySelectorAll("pre").forEach((pre) => {
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy";
      copy.textContent = "Copy";
      copy.addEventListener("click", () => {
        const code = pre.querySelector("code");
        navigator.clipboard.writeText(code ? code.textContent : pre.textContent).then(
          () => { copy.textContent = "Copied"; },
          () => { copy.textContent = "Copy failed"; });
      });
      pre.appendChild(copy);
    });
  }

  // --- turns in the page -------------------------------------------------------------------
  function addTurn(role, who, text) {
    const art = document.createElement("article");
    art.className = "turn turn-" + role;
    const w = document.createElement("div");
    w.className = "turn-who";
    w.textContent = who;
    const b = document.createElement("div");
    b.className = "turn-body md";
    art.append(w, b);
    if (role === "assistant") renderMarkdown(b, text); else b.textContent = text;
    turns.appendChild(art);
    return art;
  }
  function status(art, text, cls) {
    const s = document.createElement("div");
    s.className = "turn-status" + (cls ? " " + cls : "");
    if (cls === "turn-error") s.setAttribute("role", "alert");
    s.textContent = text;
    art.appendChild(s);
  }
  const lastOf = (role) => { const all = turns.querySelectorAll(".turn-" + role); return all[all.length - 1]; };
  function dropAfter(el) { while (el && el.nextElementSibling) el.nextElementSibling.remove(); }
  function refreshActions() {
    const hasUser = !!lastOf("user");
    regenBtn.hidden = editBtn.hidden = !hasUser || !!controller || isBlocked;
  }
  function setBusy(busy) {
    stopBtn.hidden = !busy;
    sendBtn.disabled = busy || isBlocked;
    refreshActions();
  }
  function showBlocked(message, signIn) {
    isBlocked = true;
    blocked.textContent = message + " ";
    if (signIn) {
      const a = document.createElement("a");
      a.href = root + "/sign-in";
      a.textContent = "Sign in again";
      blocked.appendChild(a);
    }
    blocked.hidden = false;
    input.disabled = sendBtn.disabled = true;
    refreshActions();
  }
  function onErrorCode(code, message) {
    if (code === "tenant_suspended") showBlocked(message, true);
    else if (code === "invalid_api_key") showBlocked(message, true);
  }

  // --- talking to the server ------------------------------------------------------------------
  async function api(method, path, data) {
    const resp = await fetch(root + path, {
      method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: data === undefined ? undefined : JSON.stringify(data),
    });
    if (resp.ok) return resp.json();
    const err = await envelope(resp);
    onErrorCode(err.code, err.message);
    if (!isBlocked) { blocked.textContent = err.message; blocked.hidden = false; }
    return null;
  }
  async function envelope(resp) {
    try { const e = (await resp.json()).error; if (e && e.message) return e; } catch (_) { /* not JSON */ }
    return { code: "internal_error", message: "The chat is not answering (HTTP " + resp.status + ")." };
  }

  async function stream(action, payload, userText) {
    controller = new AbortController();
    setBusy(true);
    const alias = aliasSel.value;
    let userArt = null, art = null, text = "", pending = false, ended = false;
    if (userText !== null) userArt = addTurn("user", "You", userText);
    art = addTurn("assistant", alias, "");
    art.dataset.state = "streaming";
    const paint = () => { pending = false; renderMarkdown(art.querySelector(".turn-body"), text); };
    const onEvent = (ev) => {
      if (ev.type === "delta") {
        text += ev.text;
        if (!pending) { pending = true; requestAnimationFrame(paint); }
      } else if (ev.type === "start") {
        if (userArt) userArt.dataset.turnId = ev.turn.id;
        if (ev.dropped) {
          status(art, ev.dropped + " older messages were not sent: the conversation is longer than "
            + ev.alias + " accepts.");
        }
      } else if (ev.type === "error") {
        status(art, ev.message, "turn-error");
        art.dataset.state = "error";
        onErrorCode(ev.code, ev.message);
      } else if (ev.type === "notice") {
        status(art, ev.message, "turn-guardrail");
      } else if (ev.type === "done") {
        ended = true;
        art.dataset.turnId = ev.turn.id;
        if (art.dataset.state !== "error") art.dataset.state = ev.turn.state;
      }
    };
    try {
      const resp = await fetch(root + "/api/conversations/" + conversation + "/" + action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
      if (!resp.ok) {
        const err = await envelope(resp);
        art.dataset.state = "error";
        status(art, err.message, "turn-error");
        onErrorCode(err.code, err.message);
        return;
      }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line) onEvent(JSON.parse(line));
        }
      }
      if (!ended && art.dataset.state === "streaming") {
        art.dataset.state = "error";
        status(art, "The answer was cut off. Regenerate to try again.", "turn-error");
      }
    } catch (e) {
      if (e.name === "AbortError") {
        art.dataset.state = "stopped";
        status(art, "Stopped.");
      } else {
        art.dataset.state = "error";
        status(art, "The connection to the chat was lost. Check your network and retry.", "turn-error");
      }
    } finally {
      paint();
      controller = null;
      setBusy(false);
    }
  }

  function listConversation(id, text) {
    const list = $("#conversations");
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "current";
    const a = document.createElement("a");
    a.href = root + "/c/" + id;
    a.dataset.id = id;
    a.textContent = text.trim().split(/\s+/).join(" ").slice(0, 60);
    li.appendChild(a);
    list.prepend(li);
    const title = $(".chat-head .title");
    if (title) title.textContent = a.textContent;
  }

  // --- the controls -------------------------------------------------------------------------
  composer.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || controller || isBlocked) return;
    if (!conversation) {
      const made = await api("POST", "/api/conversations", { alias: aliasSel.value });
      if (!made) return;
      conversation = made.id;
      body.dataset.conversation = made.id;
      history.replaceState(null, "", root + "/c/" + made.id);
      listConversation(made.id, text);
    }
    input.value = "";
    if (editing) {
      editing = false;
      sendBtn.textContent = "Send";
      const last = lastOf("user");
      if (last) { dropAfter(last); last.remove(); }
      await stream("edit", { content: text, alias: aliasSel.value }, text);
    } else {
      await stream("messages", { content: text, alias: aliasSel.value }, text);
    }
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
  });
  stopBtn.addEventListener("click", () => { if (controller) controller.abort(); });
  regenBtn.addEventListener("click", async () => {
    if (controller || isBlocked) return;
    dropAfter(lastOf("user"));
    await stream("regenerate", { alias: aliasSel.value }, null);
  });
  editBtn.addEventListener("click", () => {
    const last = lastOf("user");
    if (!last || controller) return;
    input.value = last.querySelector(".turn-body").textContent;
    editing = true;
    sendBtn.textContent = "Resend";
    input.focus();
  });

  // Server-rendered answers are Markdown source; render them now.
  turns.querySelectorAll(".turn-assistant .turn-body").forEach((el) => renderMarkdown(el, el.textContent));
  body.classList.add("js");
  refreshActions();
})();
