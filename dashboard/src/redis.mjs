// The dashboard's Redis connection: TLS verified against the platform CA, its own ACL user.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export function redisOptions(redis) {
  const options = {
    host: redis.host,
    port: redis.port,
    connectionName: 'bullmq-platform-dashboard',
    // bullmq requires null here for blocking commands; the board issues none,
    // but bullmq refuses a shared connection without it.
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
  };
  if (redis.username) {
    options.username = redis.username;
    options.password = redis.password;
  }
  if (redis.tls) {
    options.tls = {
      ca: [readFileSync(redis.caFile)],
      rejectUnauthorized: true,
      ...(redis.serverName ? { servername: redis.serverName } : {}),
    };
  }
  return options;
}

export function connect(redis) {
  return new Redis(redisOptions(redis));
}

/** Where we connect, for logs: never the password. */
export function describe(redis) {
  const user = redis.username ? `${redis.username}@` : '';
  return `${redis.tls ? 'rediss' : 'redis'}://${user}${redis.host}:${redis.port}`;
}
