/** The wall clock the scheduler reads (epoch ms); tests hand in their own. */
export interface Clock {
  now(): number;
}
