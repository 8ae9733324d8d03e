"""The task that runs crontab jobs imported by `beat import crontab FILE --task cron.run_command`.

Each imported entry calls it with the job's command line as its one argument and, as keyword
arguments, what cron would have given the command: `env` (the crontab's NAME=value lines above the
job), `user` (the user field of /etc/crontab and /etc/cron.d files) and `input` (the text after
`%`, fed to standard input). Like cron, it runs the line with $SHELL (default /bin/sh) -c, with
HOME, LOGNAME, USER and PATH set as cron sets them unless the crontab sets them itself.

    /usr/bin/python3 -m celery -A cron_tasks worker -Q cron -E --loglevel INFO

-E sends the task events the imported config reads (taskEvents: true): a command that exits with a
status other than 0 raises CommandFailed, and the run shows as FAILURE in `beat history`.

SECURITY. This task runs any shell command its message names. Whoever can put a message on the
broker (anyone with the broker's URL and password, any process on a host that can reach an
unauthenticated Redis) can run commands as the worker's user. Run it only on a broker reachable by
trusted hosts, with a password, on a dedicated queue (`beat import crontab --queue cron`) consumed
by dedicated workers (`-Q cron`) running as an unprivileged user; never consume that queue from a
worker that holds other secrets. It does not switch users: `user` is checked against the worker's
own user and the run refused when they differ (running as root to switch users would hand root to
whoever can publish). Set CRON_TASK_ALLOW_ANY_USER=1 to run such jobs as the worker's user anyway.
"""
import os
import pwd
import subprocess

from celery import Celery
from celery.utils.log import get_task_logger

app = Celery('cron_tasks', broker=os.environ.get('CELERY_BROKER_URL', 'redis://127.0.0.1:6379/0'))
log = get_task_logger(__name__)

#: Seconds a command may run before it is killed (cron has no limit; a worker slot should).
DEFAULT_TIMEOUT = float(os.environ.get('CRON_TASK_TIMEOUT', '3600'))
#: Output kept in the task's result and log, from the end (cron mails all of it).
OUTPUT_TAIL = 4000


class CommandFailed(Exception):
    """The command exited with a status other than 0 (the task fails, as cron would mail)."""


def job_environment(env, account):
    """cron's environment for a job: its defaults, then the crontab's own variables over them."""
    base = {
        'SHELL': '/bin/sh',
        'PATH': '/usr/bin:/bin',
        'HOME': account.pw_dir,
        'LOGNAME': account.pw_name,
        'USER': account.pw_name,
    }
    base.update(env or {})
    # cron sets these two from the account whatever the crontab says.
    base['LOGNAME'] = account.pw_name
    base['USER'] = account.pw_name
    return base


@app.task(name='cron.run_command', bind=True)
def run_command(self, command, env=None, user=None, input=None, timeout=None):
    account = pwd.getpwuid(os.getuid())
    if user is not None and user != account.pw_name and os.environ.get('CRON_TASK_ALLOW_ANY_USER') != '1':
        raise PermissionError(f'job for user {user!r}, worker runs as {account.pw_name!r}; '
                              'run a worker as that user or set CRON_TASK_ALLOW_ANY_USER=1')
    job_env = job_environment(env, account)
    shell = job_env.get('SHELL') or '/bin/sh'
    started = subprocess.run(
        [shell, '-c', command],
        input=input if input is not None else '',
        env=job_env,
        cwd=job_env['HOME'] if os.path.isdir(job_env['HOME']) else '/',
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout or DEFAULT_TIMEOUT,
        start_new_session=True,
    )
    output = started.stdout[-OUTPUT_TAIL:]
    if output:
        log.info('%s: %s', self.request.get('beat_entry') or command, output)
    if started.returncode != 0:
        raise CommandFailed(f'exit status {started.returncode}: {output}')
    return {'status': started.returncode, 'output': output}
