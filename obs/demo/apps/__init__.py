"""The demo's services: one FastAPI and one Flask application, each instrumented with one call.

Both serve the same routes over the same work (:mod:`obs.demo.apps.work`): the built-in platform's
(courses, submissions, log-ins, exports, roster and grade syncs), on PostgreSQL rows with a Redis
cache in front, calling the services they depend on. What each one uses
comes from its environment (``OBS_DEMO_*``, set by :mod:`obs.demo.stack` from the model):
``OBS_DEMO_POSTGRES_DSN``, ``OBS_DEMO_REDIS_URL``, ``OBS_DEMO_UPSTREAMS`` (base URLs, comma
separated) and ``OBS_DEMO_FAULTS`` (the file the fault injector writes).
"""
