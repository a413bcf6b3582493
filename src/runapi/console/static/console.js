// RunAPI console: the little the pages need beyond htmx. Served from the package (the CSP allows no inline script).
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
// After htmx swaps in a result or an error, move focus there so keyboard and screen reader users follow it.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (target && (target.id === "result" || target.id === "flash") && target.firstElementChild) {
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: false });
  }
});
// The chat form is replaced by its answer: put the cursor back in the message box.
document.addEventListener("htmx:afterSettle", function (event) {
  var config = event.detail.requestConfig;
  if (config && config.path === "/console/chat") {
    var message = document.getElementById("chat-message");
    if (message) message.focus();
  }
});
