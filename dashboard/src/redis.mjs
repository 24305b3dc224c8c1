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
  if (redis.sentinels?.length) {
    // Follow the primary: ioredis asks the Sentinels at every (re)connect, and a
    // failover's READONLY or dropped connection sends it back to them.
    delete options.host;
    delete options.port;
    options.sentinels = redis.sentinels;
    options.name = redis.sentinelMaster;
    if (redis.sentinelUsername) {
      options.sentinelUsername = redis.sentinelUsername;
      options.sentinelPassword = redis.sentinelPassword;
    }
    if (redis.tls) {
      options.enableTLSForSentinelMode = true;
      options.sentinelTLS = { ca: options.tls.ca, rejectUnauthorized: true };
    }
    options.reconnectOnError = (err) => (err.message.startsWith('READONLY') ? 2 : false);
  }
  return options;
}

export function connect(redis) {
  return new Redis(redisOptions(redis));
}

/** Where we connect, for logs: never the password. */
export function describe(redis) {
  const user = redis.username ? `${redis.username}@` : '';
  if (redis.sentinels?.length) {
    const hosts = redis.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    return `${redis.tls ? 'rediss' : 'redis'}+sentinel://${user}${hosts}/${redis.sentinelMaster}`;
  }
  return `${redis.tls ? 'rediss' : 'redis'}://${user}${redis.host}:${redis.port}`;
}
