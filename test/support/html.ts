// HTML escaping for the pages the test servers write (the demo app, the test provider) and the
// pages tests read (portero's own).

/** Text made safe in HTML content and in quoted attribute values. */
export const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');

/** The text an escaped page shows: {@link escapeHtml} undone (`&amp;` last, so `&amp;lt;` stays `&lt;`). */
export const unescapeHtml = (text: string) =>
  text.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
