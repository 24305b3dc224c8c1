// Connection from the platform's env vars (the same ones the Python worker reads).
import { readFileSync } from 'node:fs';

export function connection() {
  const env = process.env;
  const host = env.BULLMQ_PLATFORM_REDIS_HOST || '127.0.0.1';
  return {
    host,
    port: Number(env.BULLMQ_PLATFORM_REDIS_PORT || 6379),
    username: env.BULLMQ_PLATFORM_REDIS_USERNAME || undefined,
    password: env.BULLMQ_PLATFORM_REDIS_PASSWORD_FILE
      ? readFileSync(env.BULLMQ_PLATFORM_REDIS_PASSWORD_FILE, 'utf8').trim()
      : undefined,
    tls: env.BULLMQ_PLATFORM_REDIS_CA_FILE
      ? { ca: readFileSync(env.BULLMQ_PLATFORM_REDIS_CA_FILE), servername: host }
      : undefined,
    maxRetriesPerRequest: null,
  };
}

export function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// Peak RSS of this process in kB. On Linux, ru_maxrss (process.resourceUsage().maxRSS)
// keeps the parent's peak across fork+exec, so a child of a 70 MB parent reports
// >= 70 MB; VmHWM in /proc/self/status is this process's own high-water mark.
export function peakRssKb() {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]);
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS;
}
