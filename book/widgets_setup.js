/* Loaded on pages with saved ipywidgets, after RequireJS and before the html-manager's
 * embed-amd.js (see nb_ipywidgets_js in _config.yml); copied to _static/vendor/ by
 * book/vendor_js.sh.
 *
 * 1. The html-manager bundle loads its icon fonts from a path derived from the AMD module id
 *    "@jupyter-widgets/html-manager/dist/...", i.e. relative to the *page*. Point that id, and the
 *    bundle's own override hook, at the vendored copy next to this file.
 * 2. @jupyter-widgets typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue); the book
 *    uses MathJax 3, which has no Hub. Provide a small Hub.Queue that calls MathJax 3 instead.
 *    Labels write maths as $...$ (as in Jupyter); the page's MathJax only knows \(...\), so the
 *    delimiters are rewritten inside the widget element only (the rest of the page is unchanged).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (script && script.src) {
    var dir = new URL(".", script.src).href;            // .../_static/vendor/
    var assets = new URL("html-manager/", dir).href;    // .../_static/vendor/html-manager/
    window.__jupyter_widgets_assets_path__ = assets;
    if (window.require && typeof window.require.config === "function") {
      window.require.config({
        paths: { "@jupyter-widgets/html-manager/dist": assets.replace(/\/$/, "") }
      });
    }
  }

  function dollarsToDelimiters(element) {
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      var text = node.nodeValue;
      if (text.indexOf("$") < 0) {
        continue;
      }
      node.nodeValue = text
        .replace(/\$\$([^$]+)\$\$/g, "\\[$1\\]")
        .replace(/\$([^$]+)\$/g, "\\($1\\)");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var MJ = window.MathJax;
    if (!MJ || MJ.Hub || typeof MJ.typesetPromise !== "function" && !MJ.startup) {
      return;
    }
    MJ.Hub = {
      Queue: function () {
        var elements = [];
        for (var i = 0; i < arguments.length; i++) {
          var a = arguments[i];
          if (Array.isArray(a) && a[0] === "Typeset" && a[2]) {
            dollarsToDelimiters(a[2]);
            elements.push(a[2]);
          }
        }
        var ready = MJ.startup && MJ.startup.promise ? MJ.startup.promise : Promise.resolve();
        return ready
          .then(function () {
            return MJ.typesetPromise(elements.length ? elements : undefined);
          })
          .catch(function (err) {
            console.warn("MathJax typesetting of a widget failed:", err);
          });
      }
    };
  });
})();
