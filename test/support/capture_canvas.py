"""Captures test/fixtures/celery-canvas-<generation>.json: the messages Celery's own apply_async
publishes for each canvas tsbeat can schedule (chain, group, chord, nesting, link/link_error), and for
chords the result-backend keys it writes. Runs against a Redis broker DB no worker reads and a Redis
result backend DB (REDIS_URL, BACKEND_URL); every part's id is fixed with task_id options / freeze so
the fixture pins the wiring (which id goes where), not fresh uuids.
  /usr/bin/python3 test/support/capture_canvas.py > test/fixtures/celery-canvas-5.2.json
  PYTHONPATH=/var/tmp/celery-next/usr/lib/python3/dist-packages python3 test/support/capture_canvas.py > test/fixtures/celery-canvas-5.5.json
With the argument `amqp`, the same canvases' messages as a RabbitMQ broker (AMQP_URL, its queue
"celery" deleted first: no worker may read it) receives them: headers, properties and body as basic.get reads them
(test/fixtures/celery-canvas-amqp-<generation>.json):
  AMQP_URL=amqp://guest:guest@127.0.0.1:5672// python3 test/support/capture_canvas.py amqp > test/fixtures/celery-canvas-amqp-5.2.json
"""
import base64, json, os, sys, time, redis, celery
from celery import Celery, chain, group, chord, signature

BROKER = os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/13')
BACKEND = os.environ.get('BACKEND_URL', 'redis://127.0.0.1:6379/14')
r = redis.Redis.from_url(BROKER)
rb = redis.Redis.from_url(BACKEND)
app = Celery('capture', broker=BROKER, backend=BACKEND)
app.conf.update(enable_utc=True, result_expires=None)

def s(name, *args, kwargs=None, **opts):
    return signature(name, args=args, kwargs=kwargs, app=app, **opts)

def cases():
    yield 'chain3-options', lambda: chain(s('t.add', 1, 2, queue='q1'), s('t.mul', 10, priority=3, countdown=5).set(immutable=True), s('t.add', 5, soft_time_limit=7), app=app).apply_async(args=(100,), kwargs={'k': 1}, queue='q0', expires=60)
    yield 'chain3', lambda: chain(s('t.add', 1, 2), s('t.mul', 10), s('t.add', 5), app=app).apply_async()
    yield 'chain-links', lambda: chain(s('t.add', 1, 2, link=s('t.log', 'ok')), s('t.mul', 10, link_error=s('t.onerr')), app=app).apply_async(link_error=s('t.onerr_all'))
    yield 'link', lambda: s('t.add', 1, 2).apply_async(link=[s('t.log', 'a')], link_error=[s('t.onerr', kwargs={'x': 1}, queue='errors')])
    yield 'group3', lambda: group([s('t.add', i, i) for i in range(3)], app=app).apply_async()
    yield 'group-chain', lambda: group([chain(s('t.add', 1, 1), s('t.mul', 2), app=app), s('t.add', 2, 2)], app=app).apply_async()
    yield 'chord3', lambda: chord([s('t.add', i, i) for i in range(3)], s('t.tsum'), app=app).apply_async()
    yield 'chord-chain-header', lambda: chord([chain(s('t.add', 1, 1), s('t.mul', 2), app=app), s('t.add', 2, 2)], s('t.tsum'), app=app).apply_async()
    yield 'chain-group', lambda: chain(s('t.add', 1, 1), group([s('t.add', 2, 2), s('t.mul', 3)], app=app), app=app).apply_async()
    yield 'chain-chord-chain-header', lambda: chain(s('t.add', 1, 1), chord([chain(s('t.add', 2, 2), s('t.mul', 3), app=app), s('t.add', 4, 4)], s('t.tsum'), app=app), app=app).apply_async()
    yield 'chain-chord-middle', lambda: chain(s('t.add', 1, 1), chord([s('t.add', 2, 2), s('t.add', 3, 3)], s('t.tsum'), app=app), s('t.mul', 2), app=app).apply_async()
    yield 'chain-chord', lambda: chain(s('t.add', 1, 1), chord([s('t.add', 2, 2), s('t.add', 3, 3)], s('t.tsum'), app=app), app=app).apply_async()
    # A group before a later step: Celery's chain upgrades `group | task` to a chord (_chain.__or__).
    yield 'chain-group-middle', lambda: chain(s('t.add', 1, 1), group([s('t.add', 2, 2), s('t.mul', 3)], app=app), s('t.tsum'), s('t.mul', 2), app=app).apply_async()
    # A group or chord first: the run is that chord's messages, the later steps in its body's options (_chain.run).
    yield 'chain-group-first', lambda: chain(group([s('t.add', 1, 1), s('t.add', 2, 2)], app=app), s('t.tsum'), app=app).apply_async()
    yield 'chain-group-first-more', lambda: chain(group([s('t.add', 1, 1), s('t.add', 2, 2)], app=app), s('t.tsum'), s('t.mul', 2), app=app).apply_async()
    yield 'chain-chord-first', lambda: chain(chord([s('t.add', 1, 1), s('t.add', 2, 2)], s('t.tsum'), app=app), s('t.mul', 2), app=app).apply_async()
    # chain.apply_async's args reach no header task of a group or chord first (tsbeat refuses them).
    yield 'chain-group-first-args', lambda: chain(group([s('t.add', 1, 1), s('t.add', 2, 2)], app=app), s('t.tsum'), app=app).apply_async(args=(7,))

# The canvases whose messages all go to the default queue "celery".
AMQP_CASES = ('chain3', 'chain-links', 'link', 'group3', 'group-chain', 'chord3', 'chord-chain-header', 'chain-chord',
              'chain-group-middle', 'chain-group-first', 'chain-group-first-more', 'chain-chord-first')

def capture_amqp():
    global app
    app = Celery('capture', broker=os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672//'), backend=BACKEND)
    app.conf.update(enable_utc=True, result_expires=None)
    out = {'celery': celery.__version__, 'cases': {}}
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        # Declared again as Celery declares it; each case's messages are drained below.
        channel.queue_delete('celery')
        app.amqp.queues['celery'](channel).declare()
        for name, run in cases():
            if name not in AMQP_CASES:
                continue
            rb.flushdb()
            res = run()
            # Published on another connection without confirms: let them all arrive before draining.
            time.sleep(1)
            msgs = []
            while True:
                m = channel.basic_get('celery', no_ack=True)
                if m is None:
                    break
                props = {k: m.properties.get(k) for k in ('content_type', 'content_encoding', 'delivery_mode', 'priority', 'correlation_id', 'reply_to', 'expiration')}
                msgs.append({'headers': m.headers, 'properties': props, 'body': json.loads(m.body)})
            backend = {k.decode(): rb.get(k).decode() for k in rb.keys('*') if rb.type(k) == b'string'}
            out['cases'][name] = {'result': str(res.id), 'messages': msgs, 'backend': backend}
    print(json.dumps(out, indent=1, sort_keys=False))

if sys.argv[1:] == ['amqp']:
    capture_amqp()
    sys.exit(0)

out = {'celery': celery.__version__, 'cases': {}}
for name, run in cases():
    r.flushdb(); rb.flushdb()
    res = run()
    msgs = []
    for key in sorted(k.decode() for k in r.keys('*')):
        if r.type(key) != b'list':
            continue
        for raw in reversed(r.lrange(key, 0, -1)):
            env = json.loads(raw)
            env['body'] = json.loads(base64.b64decode(env['body']))
            msgs.append({'list': key, 'envelope': env})
    backend = {k.decode(): rb.get(k).decode() for k in rb.keys('*') if rb.type(k) == b'string'}
    out['cases'][name] = {'result': str(res.id), 'messages': msgs, 'backend': backend}
print(json.dumps(out, indent=1, sort_keys=False))
