/* tre airlock pages: keyboard review and small form helpers.  No inline script
   anywhere (the Content-Security-Policy forbids it); everything works without
   this file too, only slower.

   j / k   next / previous flagged cell or file (request page), request (queue)
   a r c   choose approve / reject / request changes for the file you are in

   The single-key shortcuts are off until the user turns them on (WCAG 2.1.4:
   a speech-input user saying a word must not cast letters as commands); the
   choice is kept in localStorage.  What is typed in a review form is kept in
   sessionStorage as it is typed, so a session that expires before the form is
   sent loses nothing: after logging in again, the page puts it back.       */
(function () {
  "use strict";

  function typing(el) {
    if (!el) { return false; }
    if (el.tagName === "INPUT") { return !/^(radio|checkbox|submit|button)$/.test(el.type); }
    return el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT";
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-nav]"));
  }

  function move(step) {
    var all = items();
    if (!all.length) { return; }
    var i = all.indexOf(document.activeElement);
    if (i < 0) {
      // start from the element holding focus (e.g. inside a file section)
      var holder = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest("[data-nav]") : null;
      i = holder ? all.indexOf(holder) : (step > 0 ? -1 : all.length);
    }
    var next = all[Math.max(0, Math.min(all.length - 1, i + step))];
    if (next.tagName === "TD" && next.closest(".grid-wrap")) {  // a cell: its pane scrolls
      next.focus({ preventScroll: true });
      reveal(next);
      return;
    }
    next.focus();
    next.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function currentFile() {
    var el = document.activeElement;
    var file = el && el.closest ? el.closest("section.file") : null;
    if (file) { return file; }
    var forms = document.querySelectorAll("section.file .vote");
    return forms.length === 1 ? forms[0].closest("section.file") : null;
  }

  function applyChoice(form) {
    var checked = form.querySelector('input[name^="choice"]:checked');
    var choice = checked ? checked.value : "";
    var comment = form.querySelector('textarea[name^="comment"]');
    if (comment) { comment.required = choice !== "" && choice !== "approve"; }
    var override = form.querySelector(".override");
    if (override) {
      override.hidden = choice !== "approve";
      override.querySelector("textarea").required = choice === "approve";
    }
  }

  function vote(choice) {
    var file = currentFile();
    var form = file ? file.querySelector(".vote") : null;
    if (!form) { return; }
    var radio = form.querySelector('input[name^="choice"][value="' + choice + '"]');
    if (!radio || radio.disabled) { return; }
    radio.checked = true;
    applyChoice(form);
    var target = choice === "approve"
      ? (form.querySelector(".override:not([hidden]) textarea") ||
         form.querySelector('input[name^="choice"]:checked'))
      : form.querySelector('textarea[name^="comment"]');
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }

  var KEYS = "airlock.shortcuts";
  function keysOn() {
    try { return window.localStorage.getItem(KEYS) === "on"; } catch (err) { return false; }
  }
  function showKeys() {
    var on = keysOn();
    Array.prototype.forEach.call(document.querySelectorAll("button.keys-toggle"), function (b) {
      b.hidden = false;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "Single-key shortcuts: on (turn off)" : "Single-key shortcuts: off (turn on)";
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("button.keys-toggle") : null;
    if (!b) { return; }
    try { window.localStorage.setItem(KEYS, keysOn() ? "off" : "on"); } catch (err) { return; }
    showKeys();
  });

  // Drafts of what is typed in review forms, per page and field (sessionStorage).
  function draftKey(el) { return "airlock.draft:" + window.location.pathname + ":" + el.id; }
  function keepDrafts() {
    var fields = document.querySelectorAll("textarea[data-keep]");
    Array.prototype.forEach.call(fields, function (el) {
      var kept = null;
      try { kept = window.sessionStorage.getItem(draftKey(el)); } catch (err) { return; }
      if (kept && !el.value) {
        el.value = kept;
        var note = document.getElementById(el.id + "-restored");
        if (note) { note.hidden = false; }
      }
    });
    if (document.querySelector("[data-review-sent]")) {  // taken: forget this page's drafts
      Array.prototype.forEach.call(fields, function (el) {
        try { window.sessionStorage.removeItem(draftKey(el)); } catch (err) { /* none */ }
      });
    }
  }
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (el && el.hasAttribute && el.hasAttribute("data-keep") && el.id) {
      try { window.sessionStorage.setItem(draftKey(el), el.value); } catch (err) { /* full */ }
    }
  });

  document.addEventListener("keydown", function (e) {
    if (!keysOn() || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": vote("approve"); break;
      case "r": vote("reject"); break;
      case "c": vote("request_changes"); break;
      default: return;
    }
    e.preventDefault();
  });

  document.addEventListener("change", function (e) {
    var t = e.target;
    var box = t && t.closest ? t.closest(".vote") : null;
    if (box && t.name && t.name.indexOf("choice") === 0) { applyChoice(box); }
  });

  // The selected cell (focused by Tab / j, or clicked) explained beside its grid: its
  // entries of the flag list (_flag_aside.html), or its evidence when it is not flagged.
  function explain(cell) {
    var box = cell.closest(".with-flags");
    var info = box ? box.querySelector(".cell-info") : null;
    if (!info) { return; }
    var entries = box.querySelectorAll("ol.flags li");
    var mine = [];
    Array.prototype.forEach.call(entries, function (li) {
      var on = cell.id !== "" && li.getAttribute("data-cell") === cell.id;
      li.classList.toggle("selected", on);
      if (on) { mine.push(li.textContent.replace(/\s+/g, " ").trim()); }
    });
    var tr = cell.parentElement, table = cell.closest("table");
    var col = Array.prototype.indexOf.call(tr.children, cell);
    var head = table.querySelector("thead tr:last-child");
    var row = tr.querySelector("th");
    var where = [row ? row.textContent : "", head && head.children[col] ? head.children[col].textContent : ""]
      .filter(function (x) { return x; }).join(", ");
    info.textContent = mine.length
      ? mine.join("\n")
      : (where ? where + ": " : "") + "not flagged. " + (cell.getAttribute("title") || "");
  }
  document.addEventListener("focusin", function (e) {
    var cell = e.target && e.target.closest ? e.target.closest("table.grid td") : null;
    if (cell) { explain(cell); }
  });
  document.addEventListener("click", function (e) {
    var cell = e.target && e.target.closest ? e.target.closest("table.grid td") : null;
    if (cell && !cell.hasAttribute("tabindex")) { explain(cell); }
  });

  // Scroll a cell to the middle of its own pane only: the page does not move, so the
  // column headers and the flag list stay where they are (sticky row and column labels).
  function reveal(cell) {
    var wrap = cell.closest(".grid-wrap");
    if (!wrap) { return; }
    var w = wrap.getBoundingClientRect(), c = cell.getBoundingClientRect();
    wrap.scrollTop += (c.top - w.top) - (wrap.clientHeight - c.height) / 2;
    wrap.scrollLeft += (c.left - w.left) - (wrap.clientWidth - c.width) / 2;
    if (w.bottom < 0 || w.top > window.innerHeight) { wrap.scrollIntoView({ block: "nearest" }); }
  }

  // A flag's link selects its cell: focused (so it is explained) and revealed in its pane.
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("ol.flags a[href^='#']") : null;
    var cell = a ? document.getElementById(a.getAttribute("href").slice(1)) : null;
    if (!cell) { return; }
    e.preventDefault();
    cell.focus({ preventScroll: true });
    reveal(cell);
  });

  // The original and its safe alternative scroll together (same layout, cell for cell).
  function linkScrolling() {
    Array.prototype.forEach.call(document.querySelectorAll(".side-by-side"), function (box) {
      var panes = box.querySelectorAll(".pane:not(.earlier) .grid-wrap");
      if (panes.length !== 2) { return; }
      function follow(from, to) {
        from.addEventListener("scroll", function () {
          // equal already: this is the echo of the other pane's scroll, not a new one
          if (to.scrollTop !== from.scrollTop) { to.scrollTop = from.scrollTop; }
          if (to.scrollLeft !== from.scrollLeft) { to.scrollLeft = from.scrollLeft; }
        });
      }
      follow(panes[0], panes[1]);
      follow(panes[1], panes[0]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    linkScrolling();
    Array.prototype.forEach.call(document.querySelectorAll(".vote"), applyChoice);
    var focus = document.getElementById("review-summary") || document.getElementById("reviewed");
    if (focus) { focus.focus(); }
    showKeys();
    keepDrafts();
  });
})();
