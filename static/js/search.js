// Results while typing: the search box fetches the server-rendered results list (names are
// escaped and the match highlighted by the server) and swaps it in. The URL keeps the query.
const form = document.querySelector("form.search");
const results = document.getElementById("search-results");

if (form && results) {
  const input = form.querySelector("input[name=q]");
  // What the page showed before any search (a workspace's experiment list), to come back to.
  const initial = input.value ? null : results.innerHTML;
  let controller = null;
  let timer = null;

  const search = async () => {
    const query = input.value;
    const url = new URL(form.dataset.resultsUrl, window.location.href);
    url.searchParams.set("q", query);
    const pageUrl = new URL(window.location.href);
    if (query) pageUrl.searchParams.set("q", query); else pageUrl.searchParams.delete("q");
    pageUrl.searchParams.delete("page");
    window.history.replaceState(null, "", pageUrl);
    if (controller) controller.abort();
    if (!query && initial !== null) {
      results.innerHTML = initial;
      return;
    }
    controller = new AbortController();
    try {
      const response = await fetch(url, { signal: controller.signal, headers: { Accept: "text/html" } });
      results.innerHTML = await response.text();
      results.dataset.query = query;
    } catch (error) {
      if (error.name !== "AbortError") results.textContent = "Search failed; try again.";
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
}
