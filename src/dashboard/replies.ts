/**
 * The headers of everything the dashboard serves, its page, assets, reads, redirects and refusals
 * alike (hono's secureHeaders): a strict Content-Security-Policy, no framing, no referrer.
 */
import { secureHeaders } from 'hono/secure-headers';

/**
 * Scripts, styles and requests from this server only, and nothing inline: data shown on the page
 * (entry names, args) can never become code, whatever it contains. HSTS is the TLS proxy's to send:
 * `beat run --http` also serves plain HTTP on loopback.
 */
export const dashboardHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  strictTransportSecurity: false,
});
