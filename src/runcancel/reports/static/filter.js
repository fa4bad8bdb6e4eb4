// The clause filter of certification.html: all, failed, accepted, not verified or passed. Plain script, no
// network; without it (scripts off) every clause stays visible. `?show=failed` opens a filtered page.
(function () {
  "use strict";
  var STATES = ["all", "failed", "accepted", "not-verified", "passed"];
  var nav = document.getElementById("filter");
  if (!nav) {
    return;
  }
  var buttons = Array.prototype.slice.call(nav.querySelectorAll("button[data-show]"));
  function show(state) {
    document.querySelectorAll("tr.clause").forEach(function (row) {
      row.hidden = state !== "all" && row.getAttribute("data-state") !== state;
    });
    document.querySelectorAll("section.clauses").forEach(function (section) {
      section.hidden = !section.querySelector("tr.clause:not([hidden])");
    });
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-show") === state));
    });
    document.body.setAttribute("data-show", state);
  }
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var state = button.getAttribute("data-show");
      show(state);
      try {
        history.replaceState(null, "", "?show=" + state + location.hash);
      } catch (error) {
        // some browsers refuse to change a file: URL; the filter works all the same
      }
    });
  });
  var wanted = new URLSearchParams(location.search).get("show");
  nav.hidden = false;
  show(STATES.indexOf(wanted) >= 0 ? wanted : "all");
})();
