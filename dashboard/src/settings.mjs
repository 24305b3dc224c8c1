// What the dashboard needs to start, read once: the platform spec the workers
// mount (the chart's spec ConfigMap, see platform_spec/settings.py) and the
// connection env vars the chart sets (helm/bullmq-platform/templates/dashboard/deployment.yaml).
// Secrets arrive as files, never as env values or arguments.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ENV_PREFIX = 'BULLMQ_PLATFORM_';
// Same default as platform_spec/settings.py DEFAULT_SECRETS_DIR (the chart mounts there).
const DEFAULT_SECRETS_DIR = '/var/run/secrets/bullmq-platform';

export class SettingsError extends Error {}

function env(name, fallback) {
  const value = process.env[ENV_PREFIX + name];
  return value === undefined || value === '' ? fallback : value;
}

function readSecretFile(path, what) {
  try {
    // Secrets made with `kubectl create secret --from-file` keep a newline.
    const text = readFileSync(path, 'utf8').replace(/[\r\n]+$/, '');
    if (!text) throw new SettingsError(`${what}: file ${path} is empty`);
    return text;
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw new SettingsError(`${what}: cannot read ${path} (${err.code ?? err.message})`);
  }
}

function port(value, field) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new SettingsError(`${field}: ${JSON.stringify(value)} is not a TCP port (0-65535)`);
  }
  return n;
}

/** The `dashboard` section of the spec, with the field named when it is missing. */
function dashboardSection(spec, specFile) {
  const section = spec.dashboard;
  if (!section || typeof section !== 'object') {
    throw new SettingsError(
      `dashboard: missing in ${specFile}; render the chart (or python -m platform_spec values) ` +
        'with a spec that has a dashboard section',
    );
  }
  return section;
}

export function loadSettings() {
  const specFile = env('SPEC_FILE', '/etc/bullmq-platform/spec.json');
  let spec;
  try {
    spec = JSON.parse(readFileSync(specFile, 'utf8'));
  } catch (err) {
    throw new SettingsError(`${ENV_PREFIX}SPEC_FILE: cannot read the spec ${specFile}: ${err.message}`);
  }
  const dashboard = dashboardSection(spec, specFile);
  const secretsDir = env('REDIS_SECRETS_DIR', DEFAULT_SECRETS_DIR);
  const tls = env('REDIS_TLS', 'true').toLowerCase() === 'true';
  const username = env('REDIS_USERNAME', undefined);
  const passwordFile = env('REDIS_PASSWORD_FILE', join(secretsDir, 'password'));
  const auth = dashboard.auth ?? {};
  const settings = {
    spec,
    specFile,
    actionsEnabled: dashboard.actionsEnabled === true,
    basePath: normaliseBasePath(dashboard.basePath ?? '/'),
    http: {
      host: env('DASHBOARD_HOST', '0.0.0.0'),
      port: port(env('DASHBOARD_PORT', dashboard.port), `${ENV_PREFIX}DASHBOARD_PORT / dashboard.port`),
    },
    auth: {
      mode: auth.mode ?? 'basic',
      username: auth.username,
      proxyHeader: (auth.proxyHeader ?? '').toLowerCase(),
    },
    redis: {
      host: env('REDIS_HOST', '127.0.0.1'),
      port: port(env('REDIS_PORT', '6379'), `${ENV_PREFIX}REDIS_PORT`),
      username,
      tls,
      caFile: env('REDIS_CA_FILE', join(secretsDir, 'ca.crt')),
      serverName: env('REDIS_SERVER_NAME', undefined),
      passwordFile,
      // redis.mode sentinel (or an external Sentinel set): ask these for the primary.
      sentinels: sentinelHosts(env('REDIS_SENTINEL_HOSTS', '')),
      sentinelMaster: env('REDIS_SENTINEL_MASTER', spec.redis?.sentinel?.masterName),
      sentinelUsername: env('REDIS_SENTINEL_USERNAME', username),
      sentinelPasswordFile: env('REDIS_SENTINEL_PASSWORD_FILE', passwordFile),
    },
  };
  if (settings.redis.sentinels.length && !settings.redis.sentinelMaster) {
    throw new SettingsError(`${ENV_PREFIX}REDIS_SENTINEL_MASTER: required with ${ENV_PREFIX}REDIS_SENTINEL_HOSTS`);
  }
  if (!['basic', 'proxyHeader'].includes(settings.auth.mode)) {
    throw new SettingsError(`dashboard.auth.mode: ${JSON.stringify(settings.auth.mode)} is not basic or proxyHeader`);
  }
  if (settings.auth.mode === 'basic') {
    if (!settings.auth.username) throw new SettingsError('dashboard.auth.username: required for basic auth');
    const file = env('DASHBOARD_PASSWORD_FILE', join(secretsDir, 'dashboard-auth', 'password'));
    settings.auth.password = readSecretFile(file, `${ENV_PREFIX}DASHBOARD_PASSWORD_FILE`);
  } else if (!settings.auth.proxyHeader) {
    throw new SettingsError('dashboard.auth.proxyHeader: required when dashboard.auth.mode is proxyHeader');
  }
  if (username) settings.redis.password = readSecretFile(passwordFile, `${ENV_PREFIX}REDIS_PASSWORD_FILE`);
  if (settings.redis.sentinels.length && settings.redis.sentinelUsername) {
    settings.redis.sentinelPassword = readSecretFile(
      settings.redis.sentinelPasswordFile,
      `${ENV_PREFIX}REDIS_SENTINEL_PASSWORD_FILE`,
    );
  }
  return settings;
}

/** "host:port,host:port" (BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS) -> [{host, port}]. */
export function sentinelHosts(value) {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const at = item.lastIndexOf(':');
      if (at <= 0) throw new SettingsError(`${ENV_PREFIX}REDIS_SENTINEL_HOSTS: ${JSON.stringify(item)} is not host:port`);
      return { host: item.slice(0, at), port: port(item.slice(at + 1), `${ENV_PREFIX}REDIS_SENTINEL_HOSTS`) };
    });
}

/** `/ops/bull/` and `/ops/bull` both become `/ops/bull`; `/` stays `/`. */
export function normaliseBasePath(value) {
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(value) || value.includes('//')) {
    throw new SettingsError(`dashboard.basePath: ${JSON.stringify(value)} is not an absolute URL path`);
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}
