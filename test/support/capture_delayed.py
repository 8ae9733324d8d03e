"""Captures test/fixtures/celery-delayed-5.5.json: what Celery 5.5's own apply_async publishes on
RabbitMQ for a countdown when the app has a quorum queue (its native delayed delivery: the
celery_delayed_27 exchange and a routing key of the delay's 28 bits), and where it does not apply.
Needs a RabbitMQ with nothing else using the queues named below (AMQP_URL, default the local one):
  PYTHONPATH=/var/tmp/celery-next/usr/lib/python3/dist-packages /usr/bin/python3 test/support/capture_delayed.py > test/fixtures/celery-delayed-5.5.json

The delayed messages are caught by a capture queue bound with '#' to celery_delayed_27 (declared as
the workers' DelayedDelivery bootstep declares it: durable topic); the others by reading the queue
they went to (declared first, as the worker that consumes it would). Task ids are fixed, so the fixture pins everything but the times.
"""
import json, os
import celery
from celery import Celery
from kombu import Connection, Exchange, Queue

URL = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672//')
CAPTURE = 'tsbeat-capture-delayed'
DEFAULT = 'tsbeat-capture-default'
DEFAULT_DIRECT = 'tsbeat-capture-default-direct'
OTHER = 'tsbeat-capture-other'
QUEUES = (DEFAULT, DEFAULT_DIRECT, OTHER)


def make_app(exchange_type, queue_type, default_queue):
    app = Celery('capture', broker=URL)
    app.conf.update(
        enable_utc=True,
        task_default_queue=default_queue,
        task_default_queue_type=queue_type,
        task_default_exchange_type=exchange_type,
        broker_transport_options={'confirm_publish': True},
    )
    return app


def cases():
    # Lists, as beat passes an entry's args. The settings under which Celery 5.5 delays on the broker: a quorum queue, its exchange a topic one.
    quorum_topic = make_app('topic', 'quorum', DEFAULT)
    yield 'countdown-10', quorum_topic, DEFAULT, lambda: quorum_topic.send_task('t.add', args=[1, 2], task_id='00000000-0000-4000-8000-000000000001', countdown=10)
    yield 'countdown-3.7-expires-headers', quorum_topic, DEFAULT, lambda: quorum_topic.send_task(
        't.add', args=[3], kwargs={'k': 'v'}, task_id='00000000-0000-4000-8000-000000000002', countdown=3.7, expires=600, headers={'x-h': 1}, time_limit=30
    )
    yield 'countdown-100000', quorum_topic, DEFAULT, lambda: quorum_topic.send_task('t.add', task_id='00000000-0000-4000-8000-000000000003', countdown=100000)
    # Under a second: kombu's calculate_routing_key refuses int(0.5) == 0.
    yield 'countdown-0.5', quorum_topic, DEFAULT, lambda: quorum_topic.send_task('t.add', task_id='00000000-0000-4000-8000-000000000004', countdown=0.5)
    # A queue created on demand has a direct exchange (Celery 5.5): published straight to it.
    yield 'missing-queue', quorum_topic, OTHER, lambda: quorum_topic.send_task('t.add', task_id='00000000-0000-4000-8000-000000000005', countdown=10, queue=OTHER)
    # A direct default exchange: no native delayed delivery (Celery logs a warning).
    quorum_direct = make_app('direct', 'quorum', DEFAULT_DIRECT)
    yield 'direct-exchange', quorum_direct, DEFAULT_DIRECT, lambda: quorum_direct.send_task('t.add', task_id='00000000-0000-4000-8000-000000000006', countdown=10)


def message_of(m):
    props = dict(m.properties)
    headers = props.pop('application_headers', {})
    # RabbitMQ's own, added when a quorum queue hands the message out: not what Celery published.
    headers.pop('x-delivery-count', None)
    return {
        'exchange': m.delivery_info['exchange'],
        'routing_key': m.delivery_info['routing_key'],
        'properties': props,
        'headers': headers,
        'body': json.loads(m.body),
    }


out = {'celery': celery.__version__, 'cases': {}}
with Connection(URL) as conn:
    ch = conn.channel()
    for q in QUEUES:
        ch.queue_delete(q)
        ch.exchange_delete(q)
    Exchange('celery_delayed_27', type='topic', channel=ch).declare()
    capture = Queue(CAPTURE, Exchange('celery_delayed_27', type='topic'), routing_key='#', channel=ch, auto_delete=True)
    capture.declare()
    for name, app, queue, run in cases():
        app.amqp.queues[queue].bind(ch).declare()
        try:
            run()
            error = None
        except Exception as exc:  # what Celery raises is part of the fixture
            error = f'{type(exc).__name__}: {exc}'
        msgs = []
        for qname in (CAPTURE, queue):
            while True:
                m = ch.basic_get(qname, no_ack=True)
                if m is None:
                    break
                msgs.append(message_of(m))
        out['cases'][name] = {'error': error, 'messages': msgs}
    capture.delete()
    for q in QUEUES:
        ch.queue_delete(q)
        ch.exchange_delete(q)
print(json.dumps(out, indent=1, sort_keys=False, default=str))
