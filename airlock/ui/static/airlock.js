/* tre airlock pages: keyboard review and small form helpers.  No inline script
   anywhere (the Content-Security-Policy forbids it); everything works without
   this file too, only slower.

   j / k   next / previous flagged cell or file (request page), request (queue)
   a r c   approve / reject / request changes for the file you are in          */
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
    var forms = document.querySelectorAll("section.file form.vote");
    return forms.length === 1 ? forms[0].closest("section.file") : null;
  }

  function applyChoice(form) {
    var checked = form.querySelector('input[name="choice"]:checked');
    var choice = checked ? checked.value : "";
    var comment = form.querySelector('textarea[name="comment"]');
    if (comment) { comment.required = choice !== "" && choice !== "approve"; }
    var override = form.querySelector(".override");
    if (override) {
      override.hidden = choice !== "approve";
      override.querySelector("textarea").required = choice === "approve";
    }
  }

  function vote(choice) {
    var file = currentFile();
    var form = file ? file.querySelector("form.vote") : null;
    if (!form) { return; }
    var radio = form.querySelector('input[name="choice"][value="' + choice + '"]');
    if (!radio || radio.disabled) { return; }
    radio.checked = true;
    applyChoice(form);
    var target = choice === "approve"
      ? (form.querySelector(".override:not([hidden]) textarea") ||
         form.querySelector('button[type="submit"]'))
      : form.querySelector('textarea[name="comment"]');
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
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
    if (t && t.name === "choice" && t.form && t.form.classList.contains("vote")) {
      applyChoice(t.form);
    }
  });

  // The explanation of the focused flagged cell, beside its table (also on hover: title).
  document.addEventListener("focusin", function (e) {
    var cell = e.target && e.target.closest ? e.target.closest("td[data-nav]") : null;
    if (!cell) { return; }
    var pane = cell.closest(".pane");
    var info = pane ? pane.querySelector(".cell-info") : null;
    if (info) { info.textContent = cell.getAttribute("title") || ""; }
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form.vote"), applyChoice);
  });
})();
