import { raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

// Each provider's mark on the sign-in page: a small glyph drawn here from simple shapes in the
// provider's colours (no trademark file is copied, nothing is fetched), inline SVG inside the page,
// so the Content-Security-Policy needs no image source for them. Presentation attributes only
// (`fill`, `stroke`), never `style`: the CSP allows the one stylesheet of the layout, by its hash.
// Each draws on a 24 × 24 grid and stands on its own background, legible on any page colour.

const rect = (x: number, y: number, w: number, h: number, fill: string, rx = 0) =>
  `<rect x="${x}" y="${y}" width="${w}" height="${h}"${rx ? ` rx="${rx}"` : ''} fill="${fill}"/>`;
const circle = (cx: number, cy: number, r: number, fill: string) => `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`;
const letter = (text: string, size: number, fill = '#fff') =>
  `<text x="12" y="12" dy=".35em" text-anchor="middle" font-family="system-ui,sans-serif" font-size="${size}" font-weight="700" fill="${fill}">${text}</text>`;

/** The marks by `ProviderDefinition.type`; a type without one gets {@link GENERIC_MARK}. */
const MARKS: Readonly<Record<string, string>> = {
  // A "G" of four arcs and its bar.
  google: [
    '<g fill="none" stroke-width="4">',
    '<path d="M20 12A8 8 0 0 1 17.66 17.66" stroke="#4285F4"/>',
    '<path d="M17.66 17.66A8 8 0 0 1 4.48 14.74" stroke="#34A853"/>',
    '<path d="M4.48 14.74A8 8 0 0 1 5.07 8" stroke="#FBBC05"/>',
    '<path d="M5.07 8A8 8 0 0 1 17.66 6.34" stroke="#EA4335"/>',
    '</g>',
    rect(12, 10, 10, 4, '#4285F4'),
  ].join(''),
  // A cat's head and shoulders on a dark disc.
  github: [
    circle(12, 12, 11, '#24292F'),
    '<path fill="#fff" d="M7.6 6.2L9.6 8.1C11.2 7.6 12.8 7.6 14.4 8.1L16.4 6.2C17.1 7.6 17.2 8.9 16.9 10C17.7 10.9 18 12 17.9 13.1C17.6 15.8 15.9 16.9 13.9 17.2C14.4 17.7 14.6 18.4 14.6 19.2V22.6H9.4V19.9C7.4 20.4 6.5 19.4 6 18.3C5.6 17.5 5.1 17.2 4.6 17.1C5.6 17 6.2 17.6 6.6 18.2C7.1 19 8 19.2 9.4 18.8C9.4 18.2 9.7 17.6 10.1 17.2C8.1 16.9 6.4 15.8 6.1 13.1C6 12 6.3 10.9 7.1 10C6.8 8.9 6.9 7.6 7.6 6.2Z"/>',
  ].join(''),
  // Four squares.
  microsoft: [
    rect(2, 2, 9.5, 9.5, '#F25022'),
    rect(12.5, 2, 9.5, 9.5, '#7FBA00'),
    rect(2, 12.5, 9.5, 9.5, '#00A4EF'),
    rect(12.5, 12.5, 9.5, 9.5, '#FFB900'),
  ].join(''),
  // An apple with a leaf and a bite.
  apple:
    '<path fill="#000" d="M15.2 2.5C15.3 3.9 14.8 5.2 13.9 6.1C13 7 11.9 7.5 10.9 7.4C10.8 6.1 11.4 4.8 12.2 4C13.1 3.1 14.3 2.6 15.2 2.5ZM19.6 17.2C19.1 18.4 18.8 18.9 18.1 19.9C17.2 21.3 16 23 14.5 23C13.2 23 12.8 22.2 11.1 22.2C9.3 22.2 8.9 23 7.6 23C6.1 23 5 21.5 4.1 20.1C1.6 16.2 1.3 11.7 2.9 9.3C4 7.6 5.8 6.6 7.5 6.6C9.2 6.6 10.3 7.5 11.7 7.5C13.1 7.5 13.9 6.6 15.9 6.6C17.4 6.6 19 7.4 20.1 8.8C16.4 10.8 17 16.1 19.6 17.2Z"/>',
  // A fox's head of triangles in three oranges.
  gitlab: [
    '<polygon fill="#E24329" points="12,21.5 7.9,10.5 16.1,10.5"/>',
    '<polygon fill="#FC6D26" points="12,21.5 7.9,10.5 2.3,10.5"/>',
    '<polygon fill="#FC6D26" points="12,21.5 16.1,10.5 21.7,10.5"/>',
    '<polygon fill="#E24329" points="2.3,10.5 5.2,3 7.9,10.5"/>',
    '<polygon fill="#E24329" points="21.7,10.5 18.8,3 16.1,10.5"/>',
    '<polygon fill="#FCA326" points="2.3,10.5 1.5,13 12,21.5"/>',
    '<polygon fill="#FCA326" points="21.7,10.5 22.5,13 12,21.5"/>',
  ].join(''),
  // A white "f" on a blue disc.
  facebook: [
    circle(12, 12, 11, '#1877F2'),
    '<path fill="#fff" d="M13.2 22.9V14.6H16L16.4 11.4H13.2V9.4C13.2 8.5 13.5 7.8 14.8 7.8H16.5V5C16.2 4.9 15.2 4.8 14.1 4.8C11.7 4.8 10 6.3 10 9V11.4H7.3V14.6H10V22.9Z"/>',
  ].join(''),
  // A game controller's face on blurple.
  discord: [
    rect(0, 0, 24, 24, '#5865F2', 5),
    '<path fill="#fff" d="M17.4 7.2C16.4 6.7 15.3 6.4 14.2 6.2L13.8 7C12.6 6.8 11.4 6.8 10.2 7L9.8 6.2C8.7 6.4 7.6 6.7 6.6 7.2C4.6 10.2 4 13.1 4.3 16C5.5 16.9 6.7 17.5 7.9 17.8L8.8 16.4C8.3 16.2 7.9 16 7.4 15.7L7.7 15.5C10.4 16.7 13.6 16.7 16.3 15.5L16.6 15.7C16.1 16 15.7 16.2 15.2 16.4L16.1 17.8C17.3 17.5 18.5 16.9 19.7 16C20.1 12.7 19.2 9.8 17.4 7.2Z"/>',
    '<ellipse cx="9.5" cy="12.8" rx="1.3" ry="1.45" fill="#5865F2"/><ellipse cx="14.5" cy="12.8" rx="1.3" ry="1.45" fill="#5865F2"/>',
  ].join(''),
  // "in" on a blue square.
  linkedin: [
    rect(1, 1, 22, 22, '#0A66C2', 3),
    circle(7.2, 6.9, 1.7, '#fff'),
    rect(5.8, 9.6, 2.8, 8.6, '#fff'),
    '<path fill="#fff" d="M10.6 9.6H13.3V10.9C13.7 10.1 14.7 9.4 16.1 9.4C18.9 9.4 19.4 11.2 19.4 13.6V18.2H16.6V14.1C16.6 13.1 16.6 11.9 15.2 11.9C13.8 11.9 13.5 13 13.5 14V18.2H10.6Z"/>',
  ].join(''),
  // A pinwheel of four bars in four colours.
  slack: [
    rect(3, 8, 10, 3, '#36C5F0', 1.5),
    rect(13, 3, 3, 10, '#2EB67D', 1.5),
    rect(11, 13, 10, 3, '#ECB22E', 1.5),
    rect(8, 11, 3, 10, '#E01E5A', 1.5),
  ].join(''),
  // A speech bubble with two eyes.
  twitch: [
    '<path fill="#9146FF" d="M4.5 2L3 6V20H7.5V22.5H10L12.5 20H16L21 15V2Z"/>',
    '<path fill="#fff" d="M19 14L16 17H12L9.5 19.5V17H5.5V4H19Z"/>',
    rect(10.5, 7, 2, 5.5, '#9146FF'),
    rect(15, 7, 2, 5.5, '#9146FF'),
  ].join(''),
  // A bucket with its window.
  bitbucket: [
    '<path fill="#2684FF" d="M2.8 3.2C2.4 3.2 2.1 3.6 2.2 4L4.9 20.3C5 20.8 5.4 21.1 5.9 21.1H18.3C18.7 21.1 19 20.8 19.1 20.4L21.8 4C21.9 3.6 21.6 3.2 21.2 3.2Z"/>',
    '<path fill="#fff" d="M14.5 15H9.6L8.3 8.4H15.7Z"/>',
  ].join(''),
  // A hexagon holding a pair of angle brackets.
  keycloak: [
    '<polygon fill="#008AAA" points="12,1.5 21.1,6.75 21.1,17.25 12,22.5 2.9,17.25 2.9,6.75"/>',
    '<path d="M10 8L7 12L10 16M14 8L17 12L14 16" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>',
  ].join(''),
  // A ring.
  okta: '<circle cx="12" cy="12" r="7.5" fill="none" stroke="#007DC1" stroke-width="4.5"/>',
  // A star on a shield.
  auth0: [
    '<path fill="#EB5424" d="M12 1.5L20.5 4.5V11C20.5 16.2 16.8 20.8 12 22.5C7.2 20.8 3.5 16.2 3.5 11V4.5Z"/>',
    '<polygon fill="#fff" points="12,7 13.23,10.3 16.76,10.45 14,12.65 14.94,16.05 12,14.1 9.06,16.05 10,12.65 7.24,10.45 10.77,10.3"/>',
  ].join(''),
  // An "a" on its orange.
  authentik: [rect(1, 1, 22, 22, '#FD4B2D', 5), letter('a', 16)].join(''),
};

/** What an `oidc` or `oauth2` provider, or a type without a mark of its own, shows: a key. */
const GENERIC_MARK = [
  '<g fill="none" stroke="#5B6573" stroke-width="2.4" stroke-linecap="round">',
  '<circle cx="7.5" cy="12" r="3.8"/>',
  '<path d="M11.3 12H21M17.5 12V15.5M20.5 12V14.5"/>',
  '</g>',
].join('');

/** The provider types that have a mark of their own. */
export const MARKED_TYPES: readonly string[] = Object.freeze(Object.keys(MARKS));

/** The mark of a provider of type `type` (its `ProviderDefinition.type`): decorative, hidden from screen readers. */
export function providerMark(type: string): HtmlEscapedString {
  const shapes = Object.hasOwn(MARKS, type) ? MARKS[type] : GENERIC_MARK;
  return raw(`<svg class="mark" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">${shapes}</svg>`);
}

/** portero's favicon: a keyhole (portero is Spanish for doorman), served at `/favicon.svg`. */
export const FAVICON_SVG = [
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">',
  rect(0, 0, 32, 32, '#1D4ED8', 7),
  circle(16, 12.5, 4.5, '#fff'),
  '<path fill="#fff" d="M14 15.5H18L19.5 25H12.5Z"/>',
  '</svg>',
].join('');
