// Keyboard shortcuts and bulk selection for the queue; the page works without this script (every action is a
// plain form button), this only saves hands. No inline script anywhere: the CSP allows this file only.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".queue .item"));
  var current = -1;

  function focusItem(i) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach(function (el, n) { el.classList.toggle("current", n === current); });
    items[current].focus({ preventScroll: false });
    items[current].scrollIntoView({ block: "nearest" });
  }

  items.forEach(function (el, n) {
    el.addEventListener("click", function () { current = n; items.forEach(function (x, m) { x.classList.toggle("current", m === n); }); });
  });

  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('.queue input[name="ids"]').forEach(function (box) { box.checked = all.checked; });
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    var key = event.key;
    if (key === "j") { focusItem(current + 1); event.preventDefault(); return; }
    if (key === "k") { focusItem(current - 1); event.preventDefault(); return; }
    if (current < 0) {
      if ("arstnx".indexOf(key) < 0 || !items.length) return;
      focusItem(0);
    }
    var item = items[current];
    if (key === "x") {
      var box = item.querySelector('input[name="ids"]');
      box.checked = !box.checked;
      event.preventDefault();
      return;
    }
    var button = item.querySelector('button[data-key="' + key + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });

  if (items.length) focusItem(0);
})();
