/** Queue URLs without their passwords: what every log line, record and report shows of a `redis://user:password@host` URL. */

/** The URL with its password replaced by `***` (the user name, host, port and database stay). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    // Not parseable: blank anything between "//user:" and "@" rather than risk printing it.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/**
 * A scrubber for text that may quote the URL or its password (ioredis and BullMQ error messages, echoed options):
 * the URL becomes its redacted form and any other occurrence of the password (raw or URL-decoded) becomes `***`.
 */
export function redactor(url: string | undefined): (text: string) => string {
  if (!url) return (text) => text;
  const secrets = new Set<string>();
  try {
    const raw = new URL(url).password;
    if (raw) {
      secrets.add(raw);
      secrets.add(decodeURIComponent(raw));
    }
  } catch {
    const m = /\/\/[^:/@]*:([^@]*)@/.exec(url);
    if (m?.[1]) secrets.add(m[1]);
  }
  const safe = redactUrl(url);
  return (text) => {
    let out = text.split(url).join(safe);
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
}
