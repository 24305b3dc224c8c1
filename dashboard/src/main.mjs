// The dashboard process: bull-board for every queue of the spec and its DLQ.
// Usage: node src/main.mjs [--help]. Configured by the spec file and env vars
// (see README "Dashboard" and docs/dashboard.md); secrets only from files.
import express from 'express';
import { createBullBoard } from '@bull-board/api';
import { ExpressAdapter } from '@bull-board/express';
import { loadSettings, SettingsError, ENV_PREFIX } from './settings.mjs';
import { connect, describe } from './redis.mjs';
import { boardQueues } from './queues.mjs';
import { authenticator } from './auth.mjs';
import { actionGuard } from './actions.mjs';

const HELP = `bullmq-platform dashboard (bull-board)

Shows every queue of the platform spec and its dead-letter queue.
Read-only unless the spec says dashboard.actionsEnabled: true.

Environment (${ENV_PREFIX}*):
  SPEC_FILE               the spec JSON the workers mount (default /etc/bullmq-platform/spec.json)
  REDIS_HOST, REDIS_PORT  Redis address; REDIS_TLS=true|false (default true)
  REDIS_USERNAME          ACL user (the chart sets "dashboard")
  REDIS_SECRETS_DIR       folder with "password" and "ca.crt" (default /var/run/secrets/bullmq-platform)
  REDIS_PASSWORD_FILE, REDIS_CA_FILE, REDIS_SERVER_NAME   overrides of the above
  DASHBOARD_PASSWORD_FILE basic-auth password file (default <secrets dir>/dashboard-auth/password)
  DASHBOARD_HOST, DASHBOARD_PORT   where to listen (default 0.0.0.0 and dashboard.port)
Open without auth: /healthz (process up), /readyz (Redis answers).
`;

function log(message, extra = {}) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), msg: message, ...extra })}\n`);
}

export function buildApp(settings, connection) {
  const readOnly = !settings.actionsEnabled;
  const { queues, adapters } = boardQueues(settings.spec, connection, { readOnly });
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(settings.basePath === '/' ? '' : settings.basePath);
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: { uiConfig: { boardTitle: `${settings.spec.namespace ?? 'bullmq'} queues` } },
  });

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => res.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, res) => {
    try {
      await connection.ping();
      res.type('text/plain').send('ready\n');
    } catch (err) {
      res.status(503).type('text/plain').send(`redis: ${err.message}\n`);
    }
  });
  app.use(authenticator(settings.auth));
  app.use(settings.basePath, actionGuard(settings), serverAdapter.getRouter());
  return { app, queues };
}

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`dashboard: invalid settings: ${err.message}\n`);
    process.exit(2);
  }
  const connection = connect(settings.redis);
  connection.on('error', (err) => log('redis error', { error: err.message }));
  const { app, queues } = buildApp(settings, connection);
  // Queues re-emit connection errors; the connection's handler above logs them once.
  for (const queue of queues) queue.on('error', () => {});
  const server = app.listen(settings.http.port, settings.http.host, () => {
    const { port } = server.address();
    log('dashboard listening', {
      url: `http://${settings.http.host}:${port}${settings.basePath}`,
      redis: describe(settings.redis),
      queues: queues.map((q) => q.name),
      readOnly: !settings.actionsEnabled,
      auth: settings.auth.mode,
    });
  });
  const stop = (signal) => {
    log('stopping', { signal });
    server.close();
    Promise.allSettled(queues.map((q) => q.close()))
      .then(() => connection.quit())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`dashboard: ${err.stack ?? err}\n`);
  process.exit(1);
});
