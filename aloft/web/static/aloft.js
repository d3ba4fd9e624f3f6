// Aloft's one script. Every page works without it; it adds: the dashboard keeping itself current,
// filters that apply on change, the monitor form showing the chosen type's fields, and copy buttons.
"use strict";
document.documentElement.classList.add("js");

const POLL_SECONDS = 5;
const REFRESH_SECONDS = 60;

function autosubmit(root) {
  for (const select of root.querySelectorAll("[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
}

// The dashboard's text filter narrows the rows as one types (Enter asks the server, as without script).
function liveFilter(board) {
  const input = board.querySelector('input[name="q"]');
  if (!input) return;
  const apply = () => {
    const wanted = input.value.trim().toLowerCase();
    for (const row of board.querySelectorAll("table.monitors tbody tr")) {
      const cells = row.cells;
      const text = `${cells[1].textContent} ${cells[3].textContent}`.toLowerCase();
      row.hidden = wanted !== "" && !text.includes(wanted);
    }
  };
  input.addEventListener("input", apply);
  apply();
}

// The dashboard: ask whether the organization's state changed (204 when not); when it did, or once a
// minute for the figures, fetch this page again and swap its content in, keeping focus and filters.
function keepCurrent(board) {
  let lastRefresh = Date.now();
  let busy = false;
  async function refresh() {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("dashboard");
    if (!fresh) return;
    const focused = document.activeElement && document.activeElement.name;
    const typed = board.querySelector('input[name="q"]');
    const freshTyped = fresh.querySelector('input[name="q"]');
    if (typed && freshTyped) freshTyped.value = typed.value;
    board.replaceWith(fresh);
    board = fresh;
    document.title = page.title;
    autosubmit(board);
    liveFilter(board);
    if (focused) {
      const again = board.querySelector(`[name="${focused}"]`);
      if (again) again.focus();
    }
    lastRefresh = Date.now();
  }
  async function poll() {
    if (busy) return;
    busy = true;
    try {
      const url = `${board.dataset.changes}?since=${encodeURIComponent(board.dataset.version)}`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.status === 200 || Date.now() - lastRefresh > REFRESH_SECONDS * 1000) {
        await refresh();
      } else if (response.status === 401) {
        window.location.reload();
      }
    } catch (error) {
      // Offline for a moment: the next poll tries again.
    } finally {
      busy = false;
    }
  }
  window.setInterval(poll, POLL_SECONDS * 1000);
}

// The monitor form: only the chosen type's fieldset is shown and sent.
function typeFields(form) {
  const select = form.querySelector("[data-type-select]");
  if (!select) return;
  const show = () => {
    for (const fieldset of form.querySelectorAll("[data-type-fields]")) {
      const chosen = fieldset.dataset.typeFields === select.value;
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    }
    const url = form.querySelector("[data-url-field]");
    if (url) {
      const option = select.selectedOptions[0];
      url.hidden = option && option.dataset.requiresUrl === "false";
    }
  };
  select.addEventListener("change", show);
  show();
}

function copyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (error) {
        window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy));
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  autosubmit(document);
  const board = document.getElementById("dashboard");
  if (board) {
    liveFilter(board);
    keepCurrent(board);
  }
  for (const form of document.querySelectorAll("form[data-monitor-form]")) typeFields(form);
  copyButtons();
});
