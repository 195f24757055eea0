// Keyboard shortcuts of the battle tabs; ignored while typing and when the tab is hidden.
(() => {
  const keys = {a: "vote-a", b: "vote-b", t: "vote-tie", x: "vote-bad", n: "next-battle"};
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    const id = keys[(e.key || "").toLowerCase()];
    if (!id) return;
    const el = document.getElementById(id);
    const btn = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
    if (btn && !btn.disabled && btn.offsetParent !== null) { e.preventDefault(); btn.click(); }
  });
})();
