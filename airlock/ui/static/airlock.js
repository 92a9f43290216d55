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

  // The explanation of the focused flagged cell, beside its table (also on hover: title).
  document.addEventListener("focusin", function (e) {
    var cell = e.target && e.target.closest ? e.target.closest("td[data-nav]") : null;
    if (!cell) { return; }
    var pane = cell.closest(".pane");
    var info = pane ? pane.querySelector(".cell-info") : null;
    if (info) { info.textContent = cell.getAttribute("title") || ""; }
  });

  // A flag's link: the cell in the middle of its pane (its row and column labels stay
  // in view, they are sticky), focused so its explanation shows beside the table.
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("table.flags a[href^='#']") : null;
    var cell = a ? document.getElementById(a.getAttribute("href").slice(1)) : null;
    if (!cell) { return; }
    e.preventDefault();
    cell.focus({ preventScroll: true });
    cell.scrollIntoView({ block: "center", inline: "center" });
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
