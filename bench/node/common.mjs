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
