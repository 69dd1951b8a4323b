/**
 * Light or dark: `?theme=` wins, then the token's theme, then the page's default — dark for
 * the wall-screen cockpit (a TV across a room), light for the manager boards (a desk).
 */
export type Theme = 'light' | 'dark';

export function themeFor(path: string, param: string | null, tokenTheme?: Theme | null): Theme {
  if (param === 'light' || param === 'dark') return param;
  if (tokenTheme) return tokenTheme;
  return path === '/cockpit' || path.startsWith('/cockpit/') ? 'dark' : 'light';
}
