// abstractnb site: every figure in a chapter opens at full size in its own tab when clicked.
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
