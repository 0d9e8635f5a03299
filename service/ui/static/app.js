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
    item.querySelector(".chan").textContent = text.channels[data.channel] || data.channel;
    item.querySelector(".reason").textContent = text.reasons[data.reason] || data.reason;
    item.dataset.conversation = data.conversation_id;
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    list.insertBefore(item, list.firstChild);
  });
})();

// Usuarios: the profile's carteras, a checkbox list filtered as the admin types and disabled
// by "Todas las carteras"; and the copy button of a new API token. (Without JavaScript the
// list is all there and the server ignores it while "Todas las carteras" is checked.)
(function () {
  "use strict";
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }
  document.querySelectorAll("[data-grants]").forEach(function (box) {
    var all = box.querySelector("[data-grants-all]");
    var list = box.querySelector("[data-grants-list]");
    var filter = box.querySelector("[data-grants-filter]");
    var count = box.querySelector("[data-grants-count]");
    var items = Array.prototype.slice.call(box.querySelectorAll("[data-grant-name]"));
    function refresh() {
      var query = fold(filter ? filter.value : "");
      var shown = 0;
      var chosen = 0;
      items.forEach(function (item) {
        var match = !query || fold(item.dataset.grantName).indexOf(query) !== -1;
        var input = item.querySelector("input");
        if (item.hidden === match) { item.hidden = !match; }
        if (match) { shown += 1; }
        if (input && input.checked) { chosen += 1; }
      });
      var text = count && count.dataset.text ? count.dataset.text.replace("{chosen}", chosen)
        .replace("{shown}", shown).replace("{total}", items.length) : null;
      // Touch the page only when something changed: a needless change moves the page under
      // the pointer (scroll anchoring) just as the admin clicks GUARDAR.
      if (text !== null && count.textContent !== text) { count.textContent = text; }
    }
    function toggle() {
      if (all && list) { list.disabled = all.checked; }
    }
    if (all) { all.addEventListener("change", toggle); }
    if (filter) {
      filter.addEventListener("input", refresh);
      // Enter filters; it must not submit the whole profile.
      filter.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); }
      });
    }
    box.addEventListener("change", function (event) {
      if (event.target !== filter) { refresh(); }
    });
    toggle();
    refresh();
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    source.addEventListener("focus", function () { source.select(); });
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(function () {
        button.textContent = button.dataset.copied;
      });
    });
  });
})();

// Forms that destroy something ask first: <form data-confirm="¿...?">.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      (form && form.getAttribute && form.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

// NUEVA CARTERA / Editar cartera: the agent select lists only the chosen team's agents (each
// option says its teams in data-teams; without JavaScript all are listed and the server
// refuses an agent outside the team), and the owner's wait is said in words as it changes.
(function () {
  "use strict";
  document.querySelectorAll("select[data-team-select]").forEach(function (agents) {
    var teams = document.getElementById(agents.dataset.teamSelect);
    if (!teams) { return; }
    var all = Array.prototype.slice.call(agents.options);
    function refresh() {
      var team = teams.value;
      var open = !team || team === "None";
      var keep = all.filter(function (option) {
        var of = option.getAttribute("data-teams");
        return open || of === null || of.split(" ").indexOf(team) !== -1;
      });
      var chosen = agents.value;
      var same = keep.length === agents.options.length &&
        keep.every(function (option, i) { return agents.options[i] === option; });
      if (same) { return; }
      while (agents.firstChild) { agents.removeChild(agents.firstChild); }
      keep.forEach(function (option) { agents.appendChild(option); });
      var still = keep.some(function (option) { return option.value === chosen; });
      agents.value = still ? chosen : keep[0] ? keep[0].value : "";
    }
    teams.addEventListener("change", refresh);
    refresh();
  });

  var words = document.querySelector("[data-wait-words]");
  var input = words && document.getElementById(words.dataset.waitFor);
  if (!words || !input) { return; }
  var text = JSON.parse(words.dataset.waitWords);
  function unit(kind, count) {
    return text.units[kind][count === 1 ? 0 : 1].replace("{n}", String(count));
  }
  function say() {
    var value = input.value.trim();
    var seconds = /^[0-9]{1,5}$/.test(value) ? parseInt(value, 10) : NaN;
    var said = "";
    if (value === "" || seconds === 0) {
      said = text.none;
    } else if (seconds > 0 && seconds <= 86400) {
      var parts = [Math.floor(seconds / 3600), Math.floor(seconds % 3600 / 60), seconds % 60]
        .map(function (count, kind) { return count ? unit(kind, count) : ""; })
        .filter(Boolean);
      var time = parts.length === 1 ? parts[0] :
        text.last.replace("{first}", parts.slice(0, -1).join(", ")).replace("{last}", parts[parts.length - 1]);
      said = text.sentence.split("{time}").join(time);
    }
    if (words.textContent !== said) { words.textContent = said; }
  }
  input.addEventListener("input", say);
})();

// "Deshacer" stays a few seconds after a change, then steps aside (the server still
// accepts it for a few minutes from the page it was offered on).
(function () {
  var box = document.querySelector("[data-undo]");
  if (box) {
    setTimeout(function () { box.hidden = true; }, 15000);
  }
})();

// The side menu on a phone: "Menú" unfolds it (a real button here; without JavaScript a link
// to #menu that the stylesheet unfolds), Esc folds it back.
(function () {
  "use strict";
  var button = document.querySelector("[data-menu-button]");
  var link = document.querySelector("[data-menu-link]");
  var menu = document.getElementById("menu");
  if (!button || !menu) { return; }
  button.hidden = false;
  if (link) { link.hidden = true; }
  function show(open) {
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  }
  button.addEventListener("click", function () {
    show(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      show(false);
      button.focus();
    }
  });
})();

// NUEVA CARTERA, Editar and AUDITORÍA are windows over the Carteras list, each at its own
// address: the server sends them open (so they work without JavaScript); here they become
// modal, the first field with an error takes the focus, and Esc closes them as their
// "Cerrar" link does, back to the list's address.
(function () {
  "use strict";
  document.querySelectorAll("dialog[data-close]").forEach(function (dialog) {
    if (typeof dialog.showModal !== "function") { return; }
    dialog.close();
    dialog.showModal();
    var invalid = dialog.querySelector('[aria-invalid="true"]');
    if (invalid) { invalid.focus(); }
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      window.location.assign(dialog.dataset.close);
    });
  });
})();
