// Which write routes of bull-board's API this platform serves.
// Read-only (the default): none. Actions on: retry, promote and clean/remove, one
// job or a whole status; the Redis ACL user `dashboard` is granted exactly the
// commands these need (helm/bullmq-platform/templates/dashboard/_acl.tpl). Pause,
// empty, obliterate, add, edit, concurrency, rate limits and job schedulers stay
// refused: they belong to the ops CLI (python -m workers ops) and the spec.

const SEGMENT = '[^/]+';
export const ACTION_ROUTES = [
  ['PUT', `/api/queues/${SEGMENT}/retry/${SEGMENT}`], // retry every job of a status
  ['PUT', `/api/queues/${SEGMENT}/promote`], // promote every delayed job
  ['PUT', `/api/queues/${SEGMENT}/clean/${SEGMENT}`], // clean a status
  ['PUT', `/api/queues/${SEGMENT}/${SEGMENT}/retry`], // retry one job
  ['PUT', `/api/queues/${SEGMENT}/${SEGMENT}/clean`], // remove one job
  ['PUT', `/api/queues/${SEGMENT}/${SEGMENT}/promote`], // promote one delayed job
].map(([method, pattern]) => ({ method, regex: new RegExp(`^${pattern}/?$`) }));

const READS = new Set(['GET', 'HEAD']);

export function isAllowedAction(method, path) {
  return ACTION_ROUTES.some((route) => route.method === method && route.regex.test(path));
}

/** Middleware (mounted under the base path): refuse every write this mode does not allow. */
export function actionGuard({ actionsEnabled }) {
  return (req, res, next) => {
    if (READS.has(req.method)) return next();
    if (actionsEnabled && isAllowedAction(req.method, req.path)) return next();
    const why = actionsEnabled
      ? 'this action is not enabled on this platform (allowed: retry, promote, clean)'
      : 'the dashboard is read-only (dashboard.actionsEnabled is false)';
    res.status(405).json({ error: why });
  };
}
