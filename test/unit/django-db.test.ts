/**
 * The Django database's pool (src/django/db.ts): its driver is loaded, and its pool opened, at the
 * first statement; an open the driver refuses fails that statement and is tried again at the next;
 * after close no statement opens one.
 */
import { describe, expect, it } from 'vitest';
import { openDjangoDb } from '../../src/django/db.js';

describe('the Django database pool', () => {
  it('a URL option mysql2 refuses fails each statement, not the opening; close ends it, and no statement opens another', async () => {
    const db = openDjangoDb('mysql://tsbeat@127.0.0.1:1/unused?charset=NOT_A_CHARSET', 'mysql', 'UTC');
    // Opened at the first statement: the refusal is the statement's, and so is the next one's.
    await expect(db.query('SELECT 1')).rejects.toThrow(/charset/i);
    await expect(db.eachRow('SELECT 1', [], () => undefined)).rejects.toThrow(/charset/i);
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow('the django database connection is closed');
  });

  it('a pool never opened closes at once; a statement after it is refused', async () => {
    const db = openDjangoDb('postgres://tsbeat@127.0.0.1:1/unused', 'postgres', 'UTC');
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow('the django database connection is closed');
  });
});
