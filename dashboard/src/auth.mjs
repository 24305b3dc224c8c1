// Authentication in front of every page and API route (only the probes are open).
// basic: HTTP basic auth against the password from the mounted Secret file.
// proxyHeader: trust the user an auth proxy (oauth2-proxy) puts in a header; only
// safe when nothing but the proxy can reach the pod (the chart's NetworkPolicy).
import { createHash, timingSafeEqual } from 'node:crypto';

const REALM = 'bullmq-platform dashboard';

function digest(text) {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time comparison of two strings of any length. */
export function sameSecret(given, expected) {
  return timingSafeEqual(digest(given), digest(expected));
}

export function parseBasic(header) {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function authenticator(auth) {
  if (auth.mode === 'proxyHeader') {
    return (req, res, next) => {
      const user = req.headers[auth.proxyHeader];
      if (typeof user === 'string' && user.trim()) return next();
      res.status(401).type('text/plain').send('401: no authenticated user from the auth proxy\n');
    };
  }
  return (req, res, next) => {
    const given = parseBasic(req.headers.authorization);
    // Both comparisons always run, so a wrong user takes as long as a wrong password.
    const userOk = given ? sameSecret(given.username, auth.username) : false;
    const passOk = given ? sameSecret(given.password, auth.password) : false;
    if (userOk && passOk) return next();
    res.set('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('401: authentication required\n');
  };
}
