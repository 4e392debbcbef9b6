// pjobs dashboard: the page's live parts (class "live", with an id) are replaced by the
// same parts of the page fetched again, every data-refresh seconds of <body>, while the
// page is visible (paused when the tab is hidden). No other script runs on these pages.
(function () {
  "use strict";
  const seconds = parseFloat(document.body.dataset.refresh || "0");
  const status = document.getElementById("live-status");
  const parts = () => document.querySelectorAll(".live[id]");
  if (!(seconds > 0) || parts().length === 0) return;
  let timer = null;
  let busy = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  async function refresh() {
    if (document.hidden || busy) return;
    busy = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok || response.redirected) {
        say(response.redirected ? "signed out: updates paused" : "updates paused (" + response.status + ")");
        return;
      }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const part of parts()) {
        const fresh = page.getElementById(part.id);
        if (fresh && fresh.innerHTML !== part.innerHTML) part.replaceChildren(...fresh.childNodes);
      }
      say("live");
    } catch (error) {
      say("updates paused: no answer");
    } finally {
      busy = false;
    }
  }

  function start() {
    if (timer === null) timer = setInterval(refresh, seconds * 1000);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stop();
      say("paused");
    } else {
      refresh();
      start();
    }
  });
  if (!document.hidden) start();
})();
