// abstractnb site scripts (loaded on every page, after the theme's).

// 1. The widget manager (widgets/embed.js) typesets widget labels through the MathJax 2 API,
//    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has
//    no Hub. Whatever object window.MathJax becomes (the configuration first, then MathJax
//    itself), it gets a small, non-enumerable Hub that forwards to MathJax 3's typesetPromise.
(function () {
  let current = window.MathJax;
  const hub = {
    Queue(...jobs) {
      for (const job of jobs) {
        if (!Array.isArray(job) || job[0] !== "Typeset") continue;
        const mj = current;
        if (!mj || typeof mj.typesetPromise !== "function") continue;
        const ready = mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
        ready.then(() => mj.typesetPromise(job[2] ? [job[2]] : undefined)).catch(() => {});
      }
    },
  };
  const withHub = (value) => {
    if (value && typeof value === "object" && !("Hub" in value)) {
      Object.defineProperty(value, "Hub", { value: hub, enumerable: false, configurable: true, writable: true });
    }
    return value;
  };
  current = withHub(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: () => current,
    set: (value) => { current = withHub(value); },
  });
})();

// 2. Every figure in a chapter opens at full size in its own tab when clicked.
// (Figures are scaled down to the text column; their tick labels may need the full size.)
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("article.bd-article img").forEach((img) => {
    if (img.closest("a") || !img.getAttribute("src")) return;
    const link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "abnb-full-size";
    link.title = "Open the figure at full size";
    link.target = "_blank";
    img.replaceWith(link);
    link.appendChild(img);
  });
});

// 3. Pictures drawn by a widget (ipywidgets.Image) come without an alt text: give them one.
document.addEventListener("DOMContentLoaded", () => {
  const label = () => document.querySelectorAll(".jupyter-widgets img:not([alt])").forEach((img) => {
    img.alt = "Picture of the interactive explorer at its default setting (it responds in a running notebook)";
  });
  new MutationObserver(label).observe(document.body, { childList: true, subtree: true });
});
