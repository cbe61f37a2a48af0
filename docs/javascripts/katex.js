// Render math offline with the KaTeX copy under vendor/katex (fetched by `make`, never from a CDN).
// Markdown pages carry \( \) and \[ \] from pymdownx.arithmatex; notebook cells carry $ and $$.
// Re-run on every page of material's instant navigation.
const MATH = {
  delimiters: [
    { left: "$$", right: "$$", display: true },
    { left: "\\[", right: "\\]", display: true },
    { left: "$", right: "$", display: false },
    { left: "\\(", right: "\\)", display: false },
  ],
  ignoredClasses: ["highlight"],
  throwOnError: false,
};
// Code annotations are Material tooltips mounted inside `.highlight` (which the page-wide pass
// skips, so that code is never touched) only when a reader opens one: render each as it appears.
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeType !== 1) continue;
      const tips = node.matches(".md-tooltip__inner") ? [node] : node.querySelectorAll(".md-tooltip__inner");
      tips.forEach((tip) => renderMathInElement(tip, MATH));
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true });

function renderMath() {
  renderMathInElement(document.body, MATH);
  // tests/browser/check_site.py waits for this before it inspects the page.
  document.body.dataset.mathRendered = "1";
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
