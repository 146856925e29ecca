// Loyalty Guardian's own behaviour: small, progressive, no inline script needed.
(function () {
  "use strict";

  var TOAST_MS = 6000;

  function dismissLater(toast) {
    if (toast.dataset.timer) return;
    toast.dataset.timer = "1";
    setTimeout(function () { toast.remove(); }, TOAST_MS);
  }

  function wireToasts(root) {
    (root || document).querySelectorAll("[data-toast]").forEach(dismissLater);
  }

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var toast = dismiss.closest("[data-toast]");
      if (toast) toast.remove();
    }
    // Close open <details> menus when clicking elsewhere.
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
    // One-click copy: <button data-copy="text">.
    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.dataset.copy).then(function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 1500);
      });
    }
  });

  // "Select all on this page" in the customer table.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var table = all.closest("table");
    table.querySelectorAll("tbody input[name=ids]").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Upload progress: <progress data-upload-progress> inside a form posting a file with htmx.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest("form");
    var bar = form && form.querySelector("[data-upload-progress]");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });

  // Dialogs: <button data-open-dialog="id"> opens, [data-close-dialog] closes.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && dialog.showModal) dialog.showModal();
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });

  // A search box that searches as you type ([data-search-as-you-type]) has asked already:
  // its change event, fired when it loses the focus, must not reach the filter form and
  // ask again. That second table would replace what the click that moved the focus had
  // just opened (a row's inline editor) or ticked (a row's checkbox).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-search-as-you-type]")) event.stopPropagation();
  }, true);

  // A region that requests replace as a whole ([data-busy-while-loading], the customer
  // table) says it is busy while one is away, and holds clicks (by mouse or keyboard) on
  // what it shows until the answer comes: an editor opened or a box ticked on rows about
  // to be replaced would be lost with them.
  function busyRegion(element) {
    return element && element.matches("[data-busy-while-loading]") ? element : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var region = busyRegion(event.detail.target);
    if (!region) return;
    region.dataset.requests = String((Number(region.dataset.requests) || 0) + 1);
    region.setAttribute("aria-busy", "true");
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var region = busyRegion(event.detail.target);
    if (!region) return;
    region.dataset.requests = String(Math.max(0, (Number(region.dataset.requests) || 0) - 1));
    if (region.dataset.requests === "0") region.removeAttribute("aria-busy");
  });

  // A search typed into the region's filter form makes its rows stale at the first
  // keystroke, before the request leaves (it waits for a pause in the typing). Should no
  // request follow, the region is released after a second.
  var searchTimer = null;
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.matches("[data-search-as-you-type]") || !field.form) return;
    var region = busyRegion(document.querySelector(field.form.getAttribute("hx-target")));
    if (!region) return;
    region.setAttribute("aria-busy", "true");
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      if (!Number(region.dataset.requests)) region.removeAttribute("aria-busy");
    }, 1000);
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-busy-while-loading][aria-busy=true]")) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // A form that re-renders itself as you type (a segment's criteria) must not take back
  // what was typed while its request was away: when the field with the focus changed after
  // the request left, it keeps its live value (and the form asks again for it).
  var sentField = null;
  var typedField = null;

  function typingIn() {
    var field = document.activeElement;
    return field && field.id && field.matches("input, textarea") ? field : null;
  }

  document.addEventListener("htmx:beforeRequest", function () {
    var field = typingIn();
    sentField = field ? { id: field.id, value: field.value } : null;
    typedField = null;
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var field = typingIn();
    typedField = event.detail.shouldSwap && field && sentField && field.id === sentField.id &&
      field.value !== sentField.value
      ? { id: field.id, value: field.value }
      : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    var typed = typedField;
    typedField = null;
    var field = typed && document.getElementById(typed.id);
    if (!field || !field.matches("input, textarea") || field.value === typed.value) return;
    field.value = typed.value;
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // A form swapped back with errors puts the focus on the first field to correct (the
  // button that sent it is gone). An inline editor ([data-inline-edit]) that opens puts it
  // on its first field. In an editor, Enter in a field saves ([data-save]) and Escape
  // cancels ([data-cancel]).
  document.addEventListener("htmx:load", function (event) {
    var root = event.target;
    var editor = root.closest("[data-inline-edit]");
    var field = root.matches("[aria-invalid=true]") ? root : root.querySelector("[aria-invalid=true]");
    if (!field && editor) field = editor.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  });

  document.addEventListener("keydown", function (event) {
    var editor = event.target.closest && event.target.closest("[data-inline-edit]");
    if (!editor) return;
    var action = null;
    if (event.key === "Escape") action = editor.querySelector("[data-cancel]");
    if (event.key === "Enter" && event.target.matches("input")) {
      action = editor.querySelector("[data-save]");
    }
    if (action) {
      event.preventDefault();
      action.click();
    }
  });

  // A swap that removes the element with the focus drops it to <body>, and a keyboard user
  // is thrown back to the top of the page. htmx puts it back only on an element with the
  // same id; this finds the best equivalent in the new content otherwise. It acts only when
  // the focus was inside the swapped region as the request left and nobody moved it since
  // (a click elsewhere, a background poll, an out-of-band toast leave the focus alone), and
  // only when nothing else took it (autofocus, a field to correct, an editor that opened).
  var FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary, " +
    "[tabindex]:not([tabindex='-1'])";
  var focusAtRequest = new WeakMap(); // xhr -> the element that had the focus as it left
  var focusLost = new WeakMap(); // xhr -> what that element was, noted just before the swap

  function canFocus(element) {
    if (!element || !element.isConnected || element.disabled) return false;
    if (!element.matches(FOCUSABLE)) return false;
    // Not hidden, nor inside a closed <details>.
    if (element.checkVisibility) return element.checkVisibility();
    return element.getClientRects().length > 0;
  }

  function firstFocusable(root) {
    return [root].concat(Array.from(root.querySelectorAll(FOCUSABLE))).find(canFocus);
  }

  // What a screen reader calls it, near enough: its label, without decoration (a sort
  // arrow is aria-hidden, and changes with every sort).
  function accessibleName(element) {
    if (element.getAttribute("aria-label")) return element.getAttribute("aria-label");
    var copy = (element.labels && element.labels[0] || element).cloneNode(true);
    copy.querySelectorAll("[aria-hidden=true]").forEach(function (hidden) { hidden.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function kindOf(element) {
    return element.localName + ":" + (element.getAttribute("type") || "");
  }

  // The ids of a region's controls and items (not of its text: a count that comes and goes
  // with the answer is no new item).
  function idsIn(root) {
    return Array.from(root.querySelectorAll("li[id], tr[id], " + FOCUSABLE))
      .map(function (element) { return element.id; })
      .filter(Boolean);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var focused = document.activeElement;
    var target = event.detail.target;
    if (target && focused && focused !== document.body && target.contains(focused)) {
      focusAtRequest.set(event.detail.xhr, focused);
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var focused = focusAtRequest.get(event.detail.xhr);
    var target = event.detail.target;
    if (!event.detail.shouldSwap || !focused || focused !== document.activeElement) return;
    if (!target.contains(focused)) return;
    // A row or list item is found again by its place: in the region, or among the
    // target's siblings when the target is the item itself (a row deleted on its own).
    var item = focused.closest("li, tr");
    var list = item === target ? target.parentElement : target;
    if (item && !list.contains(item)) item = null;
    focusLost.set(event.detail.xhr, {
      id: focused.id,
      kind: kindOf(focused),
      name: accessibleName(focused),
      field: focused.getAttribute("name"),
      target: target,
      parent: target.parentElement,
      ids: idsIn(target),
      item: item && {
        inTarget: list === target,
        tag: item.localName,
        index: Array.from(list.querySelectorAll(item.localName)).indexOf(item),
      },
    });
  });

  // What added something ("+ Add a rule": every id is still there, and new ones) moves on
  // to what it added.
  function addedControl(region, oldIds) {
    var ids = idsIn(region);
    var isNew = function (id) { return oldIds.indexOf(id) === -1; };
    if (oldIds.some(function (id) { return ids.indexOf(id) === -1; })) return null;
    return ids.filter(isNew).map(function (id) {
      return firstFocusable(document.getElementById(id));
    }).find(Boolean);
  }

  // The same kind of control with the same name: the sort link, the page link, the button.
  function sameControl(scope, lost) {
    var controls = Array.from(scope.querySelectorAll(FOCUSABLE)).filter(function (control) {
      return canFocus(control) && kindOf(control) === lost.kind;
    });
    var named = function (control) { return lost.name && accessibleName(control) === lost.name; };
    var field = function (control) { return lost.field && control.name === lost.field; };
    return controls.find(named) || controls.find(field);
  }

  // A removed item's place is taken by the next one; failing that, the ones before it.
  function neighbourControl(region, lost) {
    var list = lost.item.inTarget ? region : lost.parent;
    if (!list || !list.isConnected) return null;
    var items = Array.from(list.querySelectorAll(lost.item.tag));
    var index = lost.item.index;
    var nearest = items.slice(index).concat(items.slice(0, index).reverse());
    return nearest.map(firstFocusable).find(Boolean);
  }

  function equivalentOf(lost, region) {
    var byId = lost.id && document.getElementById(lost.id);
    if (canFocus(byId)) return byId;
    if (region) {
      var added = addedControl(region, lost.ids);
      if (added) return added;
      // A form sent back with an error about the whole form (a failed log-in), with no
      // field to correct, says so there.
      var alert = region.querySelector("form [role=alert]");
      if (alert && !region.querySelector("[aria-invalid=true]")) return alert;
    }
    var scope = region || (lost.parent.isConnected ? lost.parent : null);
    return (scope && sameControl(scope, lost)) || (lost.item && neighbourControl(region, lost));
  }

  // htmx:afterRequest comes once the swap has settled (no delays here: htmx-config), and
  // also when the swap left no element to fire htmx:afterSettle on (a deleted row).
  document.addEventListener("htmx:afterRequest", function (event) {
    var lost = focusLost.get(event.detail.xhr);
    focusLost.delete(event.detail.xhr);
    var focused = document.activeElement;
    if (!lost || (focused && focused !== document.body && focused.isConnected)) return;
    var target = lost.target;
    var region = target.isConnected ? target : target.id && document.getElementById(target.id);
    var next = equivalentOf(lost, region);
    // Last, the region itself (or what held the removed row), without scrolling the page
    // to its top.
    var whole = !next;
    next = next || region || (lost.parent.isConnected && lost.parent.closest("[id]"));
    if (!next) return;
    if (!next.matches(FOCUSABLE) && !next.hasAttribute("tabindex")) {
      // Focusable by script, and only until the focus leaves it. The browser draws a focus
      // ring on it after a key, not after a click.
      next.setAttribute("tabindex", "-1");
      next.addEventListener("blur", function () {
        next.removeAttribute("tabindex");
      }, { once: true });
    }
    next.focus({ preventScroll: whole });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
        menu.removeAttribute("open");
      });
    }
  });

  // Sign-up takes the browser's time zone, so the account's pages show local times at once.
  function fillTimeZone(root) {
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    root.querySelectorAll("input[data-browser-time-zone]").forEach(function (input) {
      if (!input.value) input.value = zone;
    });
  }
  document.addEventListener("htmx:load", function (event) { fillTimeZone(event.target); });

  document.addEventListener("DOMContentLoaded", function () {
    wireToasts(document);
    fillTimeZone(document);
  });
  document.addEventListener("htmx:afterSettle", function () { wireToasts(document); });
  document.addEventListener("htmx:oobAfterSwap", function () { wireToasts(document); });

  function errorToast(message) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.setAttribute("data-toast", "");
    toast.className = "toast pointer-events-auto rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800 shadow-md";
    toast.textContent = message;
    region.appendChild(toast);
    dismissLater(toast);
  }

  // An event form's "+ Add a detail" copies its last key/value pair, empty and numbered
  // next (the form takes up to data-max of them), and puts the focus in its key.
  function showAddPair(root) {
    root.querySelectorAll("[data-add-pair]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { showAddPair(document); });
  document.addEventListener("htmx:load", function (event) { showAddPair(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-pair]");
    if (!button) return;
    var list = document.getElementById(button.getAttribute("aria-controls"));
    var pairs = list.querySelectorAll("[data-pair]");
    var index = pairs.length;
    var pair = pairs[index - 1].cloneNode(true);
    var renumber = function (text) { return text.replace(/-\d+-(key|value)/g, "-" + index + "-$1"); };
    pair.querySelectorAll("p").forEach(function (error) { error.remove(); });
    pair.querySelectorAll("input, label").forEach(function (element) {
      ["id", "name", "for"].forEach(function (name) {
        if (element.hasAttribute(name)) element.setAttribute(name, renumber(element.getAttribute(name)));
      });
      if (element.localName === "label") {
        element.textContent = element.textContent.replace(/\d+/, String(index + 1));
      } else {
        element.value = "";
        element.removeAttribute("aria-invalid");
        element.removeAttribute("aria-describedby");
        element.classList.replace("border-red-400", "border-slate-300");
      }
    });
    list.appendChild(pair);
    pair.querySelector("input").focus();
    if (index + 1 >= Number(button.dataset.max)) button.hidden = true;
  });

  // "Delete the selected customers?" with none selected would ask about nothing: such an
  // action ([data-needs-selection]) goes without its question, and the server answers that
  // nothing is selected.
  document.addEventListener("htmx:confirm", function (event) {
    var action = event.detail.elt;
    if (!action.matches("[data-needs-selection]")) return;
    var table = action.closest("#customer-table");
    if (table && !table.querySelector("input[name=ids]:checked")) {
      event.preventDefault();
      event.detail.issueRequest(true);
    }
  });

  // A request that failed outright (network down) gets a toast instead of silence.
  document.addEventListener("htmx:sendError", function () {
    errorToast("Could not reach the server. Check your connection and try again.");
  });

  // The app answers a failed htmx request (404, an expired form, 500...) with its reason as
  // an out-of-band toast and nothing else, swapped with "none" (htmx-config in base.html),
  // so the page stays as it was. An answer without one (a proxy's error page) gets this.
  document.addEventListener("htmx:responseError", function (event) {
    var body = event.detail.xhr.responseText || "";
    if (body.indexOf("hx-swap-oob") === -1) {
      errorToast("Something went wrong (" + event.detail.xhr.status + "). Reload the page and try again.");
    }
  });
})();
