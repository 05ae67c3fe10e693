/**
 * The `for=` of each element of an RFC 7239 `Forwarded` header, first element first, as the
 * proxies wrote them: `192.0.2.1`, `2001:db8::1` (brackets and port removed), `unknown`, `_hidden`.
 *
 * The header is read as the RFC's grammar says, quoted strings and `\` escapes included, so a
 * `;`, `,` or `for=` inside a quoted value (a client's Host, copied in by a hand-written proxy
 * rule) is part of that value, not another pair. An element that is malformed (an unbalanced
 * quote, a pair without `=`) or that has no `for=` or more than one gives `''`, which no address
 * parses as: the client-address walk stops at the proxy that reported it.
 */
export function forwardedFor(header: string): string[] {
  return splitOutsideQuotes(header, ',').map((element) => {
    if (element === undefined) return '';
    const pairs = splitOutsideQuotes(element, ';');
    const values: string[] = [];
    for (const pair of pairs) {
      const equals = pair?.indexOf('=') ?? -1;
      if (pair === undefined || equals < 1) return '';
      if (pair.slice(0, equals).trim().toLowerCase() === 'for') values.push(unquote(pair.slice(equals + 1).trim()));
    }
    return values.length === 1 ? hostOf(values[0] as string) : '';
  });
}

/**
 * `text` split on `separator` where it stands outside a quoted string; a part that leaves a
 * quote open is `undefined`.
 */
function splitOutsideQuotes(text: string, separator: ',' | ';'): (string | undefined)[] {
  const parts: (string | undefined)[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted && char === '\\') {
      current += char + (text[++i] ?? '');
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === separator && !quoted) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(quoted ? undefined : current.trim());
  return parts;
}

/** A token as it is, or a quoted string without its quotes and escapes. */
function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** `192.0.2.1:4711` → `192.0.2.1`; `[2001:db8::1]:4711` → `2001:db8::1`; anything else as it is. */
function hostOf(node: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
  if (bracketed) return bracketed[1] as string;
  return /^[\d.]+:\d+$/.test(node) ? (node.split(':')[0] as string) : node;
}
