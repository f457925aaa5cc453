/** Durations for progress lines: `42s`, `3:07`, `1:02:03`; `?` when unknown (no rate yet). */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(Math.floor(s % 60))}`;
  if (s >= 60) return `${Math.floor(s / 60)}:${pad(Math.floor(s % 60))}`;
  return `${Math.round(s)}s`;
}
