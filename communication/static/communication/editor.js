// Template editor: a click on a placeholder inserts it at the cursor of the field last used.
document.addEventListener("DOMContentLoaded", () => {
  const fields = document.querySelectorAll("[data-placeholder-target]");
  let target = document.querySelector("textarea[data-placeholder-target]");
  fields.forEach((field) => field.addEventListener("focus", () => { target = field; }));
  document.querySelectorAll("[data-insert]").forEach((button) => {
    button.addEventListener("click", () => {
      if (!target) return;
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? start;
      target.setRangeText(button.dataset.insert, start, end, "end");
      target.focus();
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
});
