// Render math offline with the KaTeX copy under vendor/katex (fetched by `make`, never from a CDN).
// Markdown pages carry \( \) and \[ \] from pymdownx.arithmatex; notebook cells carry $ and $$.
// Re-run on every page of material's instant navigation.
function renderMath() {
  renderMathInElement(document.body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
    ],
    ignoredClasses: ["highlight"],
    throwOnError: false,
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
