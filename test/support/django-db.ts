/**
 * A private PostgreSQL with the test Django project migrated into its database "django", and the
 * project's ORM on it: the set-up of the tests that write django-celery-beat rows as Django does.
 */
import { DjangoOrm, manage } from './django.js';
import { PrivatePostgres } from './postgres-server.js';
import { freePort } from './redis-server.js';

export interface MigratedDjango {
  readonly pg: PrivatePostgres;
  /** The database's URL, as a `sources.django.url`. */
  readonly url: string;
  /** The ORM on it (a new one after reopen()). */
  readonly orm: () => DjangoOrm;
  /** Closes the ORM and opens a new one: after the server was halted and started again. */
  readonly reopen: () => Promise<void>;
}

/** Runs `test` with a freshly migrated private PostgreSQL; closes the ORM and stops the server after, whatever happened. */
export async function withMigratedDjango<T>(test: (db: MigratedDjango) => Promise<T>): Promise<T> {
  const pg = new PrivatePostgres(await freePort());
  const url = pg.url('django');
  let orm: DjangoOrm | undefined;
  try {
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url }, ['migrate', '-v0']);
    let current = new DjangoOrm({ url });
    orm = current;
    return await test({
      pg,
      url,
      orm: () => current,
      reopen: async () => {
        await current.close();
        current = new DjangoOrm({ url });
        orm = current;
      },
    });
  } finally {
    await orm?.close();
    await pg.stop();
  }
}
