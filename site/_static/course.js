// Sphinx's search fetches each hit's page to show a text summary; browsers forbid fetch() on
// file:// pages (CORS), which would log an error per hit. Opened from disk, show titles only.
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}
