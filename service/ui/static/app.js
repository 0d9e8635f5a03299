// Carteras: the icon picker of the cartera form, and the live badges of the agent's page.
// No inline script or style anywhere: the pages' Content-Security-Policy allows neither.
(function () {
  "use strict";
  // Badge colours come as data-color (an inline style="" would be refused).
  document.querySelectorAll(".badge[data-color]").forEach(function (badge) {
    if (/^#[0-9a-fA-F]{6}$/.test(badge.dataset.color)) {
      badge.style.setProperty("--c", badge.dataset.color);
    }
  });
  var icon = document.getElementById("icon");
  document.querySelectorAll(".pick").forEach(function (button) {
    button.setAttribute("aria-pressed", String(icon && icon.value === button.dataset.icon));
    button.addEventListener("click", function () {
      if (!icon) { return; }
      icon.value = button.dataset.icon;
      document.querySelectorAll(".pick").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      icon.focus();
    });
  });

  // Type-ahead: refresh the search results as the coordinator types (the form still works
  // without JavaScript).
  var typeahead = document.querySelector("[data-typeahead]");
  if (typeahead) {
    var timer = null;
    typeahead.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var query = typeahead.value.trim();
        if (query.length < 2) { return; }
        var url = new URL(window.location.href);
        url.searchParams.set("q", query);
        fetch(url.toString(), { credentials: "same-origin" })
          .then(function (response) { return response.text(); })
          .then(function (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".results");
            var current = document.querySelector(".results");
            if (fresh && current) { current.replaceWith(fresh); }
            window.history.replaceState(null, "", url.toString());
          });
      }, 300);
    });
  }

  var list = document.getElementById("conversations");
  var texts = document.getElementById("live-text");
  if (!list || typeof io === "undefined" || !texts) { return; }
  var text = JSON.parse(texts.textContent);
  var state = document.getElementById("live-state");
  var template = document.getElementById("conv-template");
  // Same origin, with the session cookie: the server lets an agent join only its own rooms.
  var socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", function () { state.textContent = text.connected; });
  socket.on("disconnect", function () { state.textContent = text.lost; });
  socket.on("badge", function (data) {
    var item = template.content.firstElementChild.cloneNode(true);
    var badge = item.querySelector(".badge");
    if (data.cartera) {
      badge.textContent = data.cartera.icon + " " + data.cartera.name;
      badge.style.setProperty("--c", data.cartera.color || "#455A64");
    } else {
      badge.textContent = "—";
      badge.classList.add("off");
    }
    item.querySelector(".who").textContent = (data.contact && data.contact.name) || "—";
    item.querySelector(".chan").textContent = data.channel;
    item.querySelector(".reason").textContent = text.reasons[data.reason] || data.reason;
    item.dataset.conversation = data.conversation_id;
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    list.insertBefore(item, list.firstChild);
  });
})();
