// The calendar: slots and appointments open in a dialog (HTMX); keyboard navigation;
// the "now" line follows the clock. Every link also works as a plain page without this.
(() => {
  const dialog = document.getElementById("cal-dialog");
  const body = document.getElementById("dialog-body");
  // Forms answer 422 with their errors: show them like any other answer.
  htmx.config.responseHandling = [
    { code: "204", swap: false }, { code: "[23]..", swap: true }, { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-dialog]");
    if (link && dialog && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      htmx.ajax("GET", link.href, { target: body, swap: "innerHTML" });
      return;
    }
    const close = event.target.closest("[data-close]");
    if (close && dialog && dialog.open) {
      event.preventDefault();
      dialog.close();
    }
  });

  // After settling: only then are the new hx- attributes (the patient search) live.
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (!dialog || !dialog.contains(event.target)) return;
    if (!dialog.open) dialog.showModal();
    const focus = dialog.querySelector(".error-summary, [autofocus]");
    if (focus) focus.focus();
  });

  document.querySelectorAll("[data-autosubmit]").forEach((input) => {
    input.addEventListener("change", () => input.form.submit());
  });

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || (dialog && dialog.open)) return;
    if (event.target.closest("input, select, textarea")) return;
    const link = document.querySelector(`[data-key="${event.key}"]`);
    if (link) { event.preventDefault(); window.location = link.href; }
  });

  const grid = document.querySelector(".cal");
  const now = document.querySelector(".cal .now");
  if (grid && now) {
    const first = Number(grid.dataset.firstMinute);
    setInterval(() => {
      const d = new Date();
      const minutes = d.getHours() * 60 + d.getMinutes() - first;
      now.style.top = `calc(var(--slot) * ${(minutes / 15).toFixed(4)})`;
    }, 60_000);
  }
  // Open the grid at the current time, or else where working hours begin.
  const mark = now || document.querySelector(".cal .col .slot:not(.off)");
  if (grid && mark) {
    const offset = mark.getBoundingClientRect().top - grid.getBoundingClientRect().top;
    grid.scrollTop = Math.max(0, offset - (now ? grid.clientHeight / 3 : 40));
  }
})();
