/* Two-step verification page: copy the recovery codes shown once. No inline script (CSP). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-codes]");
    if (!button) return;
    var box = button.closest("[data-recovery-codes]");
    var codes = Array.prototype.map.call(box.querySelectorAll("code"), function (c) {
      return c.textContent;
    });
    if (navigator.clipboard) {
      navigator.clipboard.writeText(codes.join("\n")).then(function () {
        button.setAttribute("data-copied", "true");
      });
    }
  });
})();
