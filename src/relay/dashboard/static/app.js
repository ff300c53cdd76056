// Relay dashboard: small progressive enhancements. Every flow also works without
// this file (plain links and forms); it adds modal dialogs, copy buttons and chips.
"use strict";

(function () {
  let lastOpener = null;
  const COPIED_FOR_MS = 3000;

  function visible(element) {
    return element.offsetParent !== null || element === document.activeElement;
  }

  // Where focus starts in a dialog: the first field the server marked invalid (the
  // user's next step), else what the dialog asks for (Cancel, in a confirmation,
  // so that Enter never destroys anything by itself), else its first field.
  function initialFocus(dialog) {
    const invalid = Array.from(dialog.querySelectorAll("[aria-invalid=true], fieldset[aria-describedby]")).find(visible);
    return invalid || dialog.querySelector("[data-initial-focus]") ||
      dialog.querySelector("input:not([type=hidden]), select, textarea, button");
  }

  function openModal(dialog, opener) {
    const returnTo = dialog.dataset.returnFocus && document.getElementById(dialog.dataset.returnFocus);
    lastOpener = opener || returnTo || document.activeElement;
    // A dialog the server rendered open is non-modal: reopen it as a modal one,
    // without close(), whose "close" event would count as the user closing it.
    dialog.removeAttribute("open");
    dialog.showModal();
    const first = initialFocus(dialog);
    if (first) first.focus();
  }

  function cleanUrl(url) {
    if (url && window.history.replaceState) window.history.replaceState(null, "", url);
  }

  // A dialog showing a secret that was never copied asks once before it closes.
  function mayClose(dialog) {
    if (!dialog.hasAttribute("data-unsaved-secret") || dialog.dataset.copied || dialog.dataset.warned) {
      return true;
    }
    dialog.dataset.warned = "yes";
    dialog.querySelector("[data-unsaved-warning]").hidden = false;
    return false;
  }

  // What opens a dialog is a link in the page as served: without this file it leads
  // to a page showing the dialog. Here it opens the dialog in place, so it becomes the
  // button it now is: Space presses it, and screen readers say "button".
  document.querySelectorAll("a[data-open-dialog], a[data-confirm-action]").forEach(function (link) {
    const button = document.createElement("button");
    button.type = "button";
    Array.from(link.attributes).forEach(function (attribute) {
      if (attribute.name !== "href") button.setAttribute(attribute.name, attribute.value);
    });
    while (link.firstChild) button.appendChild(link.firstChild);
    link.replaceWith(button);
  });

  document.querySelectorAll("dialog").forEach(function (dialog) {
    dialog.addEventListener("cancel", function (event) {
      if (!mayClose(dialog)) event.preventDefault();
    });
    dialog.addEventListener("close", function () {
      // The dialog that showed a secret takes it out of the page when closed.
      if (dialog.hasAttribute("data-forget-on-close")) dialog.remove();
      cleanUrl(window.location.pathname);
      if (lastOpener && document.contains(lastOpener)) lastOpener.focus();
    });
    if (dialog.hasAttribute("data-autoshow")) {
      openModal(dialog, null);
      if (dialog.dataset.cleanUrl) cleanUrl(dialog.dataset.cleanUrl);
    }
  });

  document.addEventListener("click", function (event) {
    const target = event.target.closest("[data-open-dialog], [data-close-dialog], [data-confirm-action], [data-copy]");
    if (!target) return;

    if (target.hasAttribute("data-open-dialog")) {
      event.preventDefault();
      openModal(document.getElementById(target.dataset.openDialog), target);
    } else if (target.hasAttribute("data-close-dialog")) {
      event.preventDefault();
      const dialog = target.closest("dialog");
      if (mayClose(dialog)) dialog.close();
    } else if (target.hasAttribute("data-confirm-action")) {
      // One confirmation dialog per kind (revoke a key, remove a member), aimed at the row clicked.
      event.preventDefault();
      const dialog = document.getElementById(target.dataset.confirmDialog);
      dialog.querySelector("[data-confirm-form]").action = target.dataset.confirmAction;
      dialog.querySelector("[data-confirm-name]").textContent = target.dataset.confirmName;
      openModal(dialog, target);
    } else if (target.hasAttribute("data-copy")) {
      copyText(target);
    }
  });

  function copyText(button) {
    const source = document.getElementById(button.dataset.copy);
    const holder = button.closest("dialog, section");
    const status = holder.querySelector("[data-copy-status]");
    const say = function (message) {
      // Emptied first, so that a second copy is announced like the first.
      if (status) {
        status.textContent = "";
        window.setTimeout(function () { status.textContent = message; }, 100);
      }
    };
    if (!navigator.clipboard) {
      say("Copying is not available here: select the text and copy it.");
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () {
        if (holder.tagName === "DIALOG") holder.dataset.copied = "yes";
        const warning = holder.querySelector("[data-unsaved-warning]");
        if (warning) warning.hidden = true;
        say("Copied");
        // The visible word only: what is copied stays in the button's name.
        const label = button.querySelector("[data-copy-label]") || button;
        label.textContent = "Copied";
        window.clearTimeout(button.resetTimer);
        button.resetTimer = window.setTimeout(function () {
          label.textContent = "Copy";
          if (status) status.textContent = "";
        }, COPIED_FOR_MS);
      },
      function () { say("Could not copy: select the text and copy it."); }
    );
  }

  // ---- Artifact type rows (the dataset create and edit forms) ----------------
  // Without this file a row is removed by ticking its Remove box and sending the
  // form. Here each box becomes a button that takes the row out of the page at once
  // (an added row too), says so, and leaves focus on the next row or on Add.
  const DEFAULT_COLOR = "#4f46e5";

  function artifactRows(container) {
    return Array.from(container.querySelectorAll("[data-row]"));
  }

  function removeButtonFor(box) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.setAttribute("data-remove-row", "");
    const label = box.querySelector("label");
    while (label.firstChild) button.appendChild(label.firstChild);
    return button;
  }

  // Legends and unnamed rows' Remove buttons follow the rows' order; ids never change
  // (an error summary's links point at them), added rows take unused ones.
  function renumberRows(container) {
    artifactRows(container).forEach(function (row, index) {
      const legend = row.querySelector("legend");
      if (legend) legend.textContent = "Artifact type " + (index + 1);
      nameRemoveButton(row, index + 1);
    });
  }

  function nameRemoveButton(row, number) {
    const name = row.querySelector("input[name=artifact_name]").value.trim();
    row.querySelector("[data-remove-name]").textContent = " artifact type " + (name || number);
  }

  function blankRow(row) {
    const blank = row.cloneNode(true);
    blank.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
    blank.querySelectorAll("input").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      input.value = input.type === "color" ? DEFAULT_COLOR : "";
    });
    return blank;
  }

  function sayInRows(container, message) {
    const status = container.querySelector("[data-row-status]");
    // Emptied first, so that a second removal is announced like the first.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 100);
  }

  function addArtifactRow(container) {
    const index = Number(container.dataset.nextRow);
    container.dataset.nextRow = String(index + 1);
    const row = container.blankRow.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      input.id = input.id.replace(/-\d+$/, "-" + index);
    });
    row.querySelectorAll("label").forEach(function (label) {
      label.htmlFor = label.htmlFor.replace(/-\d+$/, "-" + index);
    });
    container.querySelector("[data-add-row]").before(row);
    renumberRows(container);
    row.querySelector("input").focus();
  }

  function removeArtifactRow(button) {
    const row = button.closest("[data-row]");
    const container = row.closest("[data-rows]");
    const next = artifactRows(container)[artifactRows(container).indexOf(row) + 1];
    row.remove();
    renumberRows(container);
    (next ? next.querySelector("input") : container.querySelector("[data-add-row]")).focus();
    sayInRows(container, "Row removed");
  }

  document.querySelectorAll("[data-rows]").forEach(function (container) {
    container.querySelectorAll("[data-remove-box]").forEach(function (box) {
      box.replaceWith(removeButtonFor(box));
    });
    // Where a removal is announced: in the page from the start, as a live region
    // must be to be heard.
    const status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    status.setAttribute("data-row-status", "");
    container.appendChild(status);
    const rows = artifactRows(container);
    // Every row may go: an added one is a copy of the first row as served, emptied.
    container.blankRow = blankRow(rows[0]);
    container.dataset.nextRow = String(rows.length);
    container.addEventListener("click", function (event) {
      const target = event.target.closest("[data-add-row], [data-remove-row]");
      if (!target) return;
      if (target.hasAttribute("data-add-row")) addArtifactRow(container);
      else removeArtifactRow(target);
    });
    container.addEventListener("input", function (event) {
      const row = event.target.name === "artifact_name" && event.target.closest("[data-row]");
      if (row) nameRemoveButton(row, artifactRows(container).indexOf(row) + 1);
    });
  });
  // ---- End of artifact type rows ------------------------------------------------

  document.querySelectorAll("[data-custom-toggle]").forEach(function (select) {
    const block = document.getElementById(select.dataset.customToggle);
    const sync = function () { block.hidden = select.value !== "custom"; };
    select.addEventListener("change", sync);
    sync();
  });

  // A block that matters for one choice of a radio group only (a restricted key's
  // levels, a key's chosen datasets): shown while that choice is checked.
  document.querySelectorAll("[data-reveal]").forEach(function (radio) {
    const block = document.getElementById(radio.dataset.reveal);
    const sync = function () {
      const chosen = radio.form.querySelector("input[name=\"" + radio.name + "\"]:checked");
      block.hidden = !chosen || chosen.value !== radio.dataset.revealFor;
    };
    radio.addEventListener("change", sync);
    sync();
  });

  // A page sent back with errors: its summary first (each entry links to a field).
  const summary = document.querySelector("[data-error-summary]");
  if (summary && !document.querySelector("dialog[open]")) summary.focus();

  // What was just done, or could not be (a flash message, an invitation's link, "check
  // your email"): read out first. It is in the page as it loads, which screen readers
  // do not announce by itself (WCAG 4.1.3), so it takes focus unless a dialog or an
  // error summary already has it.
  const news = document.querySelector("main [data-announce]");
  if (news && !document.querySelector("dialog[open]") && document.activeElement === document.body) {
    news.tabIndex = -1;
    news.focus();
  }

  document.querySelectorAll(".chip[data-color]").forEach(function (chip) {
    if (/^#[0-9a-fA-F]{6}$/.test(chip.dataset.color)) chip.style.setProperty("--chip", chip.dataset.color);
  });
})();
