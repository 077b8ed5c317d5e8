// An inline formula wider than the text column (on a phone) scrolls sideways in its own box instead of being cut
// off: the theme clips every inline formula to the column (span.math: overflow hidden), which is right for the
// formulas that fit and cuts the others. Display equations already scroll in their boxes.
(() => {
  const mark = () => {
    for (const span of document.querySelectorAll("span.math")) {
      const math = span.querySelector("mjx-container");
      const wide = math !== null && math.getBoundingClientRect().width > span.clientWidth + 1;
      span.classList.toggle("wide-math", wide);
    }
  };
  const afterTypesetting = () => {
    const startup = window.MathJax && window.MathJax.startup;
    if (startup && startup.promise) startup.promise.then(mark);
  };
  window.addEventListener("load", afterTypesetting);
  window.addEventListener("resize", mark);
})();
