"""Captures test/fixtures/celery-revoke.json: what Celery's app.control.revoke sends, on a Redis broker
(its pub/sub fanout channel, PSUBSCRIBEd) and on RabbitMQ (a queue bound to the celery.pidbox fanout
exchange). Run with Debian's python3 against a Redis DB no worker uses (REDIS_URL, DB 3 in the fixture)
and a RabbitMQ (AMQP_URL):  /usr/bin/python3 test/support/capture_revoke.py > test/fixtures/celery-revoke.json
"""
import json, os, time, redis
from celery import Celery
from kombu import Connection, Exchange, Queue
out = {"about": "Captured by test/support/capture_revoke.py from Celery 5.2.6 / kombu 5.2.4 (Debian): app.control.revoke(id, terminate=True, signal='SIGKILL') and app.control.revoke(id) on a Redis broker (PSUBSCRIBE on DB 3) and on RabbitMQ (a queue bound to the celery.pidbox fanout exchange, basic.get).", "redis": [], "amqp": []}
r = redis.Redis.from_url(os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/3')); p = r.pubsub(); p.psubscribe('*'); time.sleep(0.2)
app = Celery('x', broker=os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/3'))
calls = [dict(task_id='d5bd9f2e-0000-4000-8000-000000000001', terminate=True, signal='SIGKILL'), dict(task_id='d5bd9f2e-0000-4000-8000-000000000002')]
for c in calls:
    t = time.time(); app.control.revoke(**c)
    while True:
        m = p.get_message(timeout=2)
        if m and m['type'] == 'pmessage': break
    out['redis'].append({"call": c, "sentAt": t, "channel": m['channel'].decode(), "message": m['data'].decode()})
url = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672//')
with Connection(url) as conn:
    ch = conn.channel()
    q = Queue('tsbeat-capture-pidbox-golden', exchange=Exchange('celery.pidbox', type='fanout', durable=False, delivery_mode='transient'), durable=False)
    q(ch).declare()
    app2 = Celery('x', broker=url)
    for c in calls:
        t = time.time(); app2.control.revoke(**c); time.sleep(0.3)
        m = q(ch).get(no_ack=True)
        body = m.body if isinstance(m.body, str) else m.body.decode()
        out['amqp'].append({"call": c, "sentAt": t, "exchange": m.delivery_info['exchange'], "routingKey": m.delivery_info['routing_key'], "body": body, "properties": {k: v for k, v in m.properties.items()}})
    q(ch).delete()
print(json.dumps(out, indent=1))
